"""TanzuKubernetesCluster release resolution: Git names a release short (``1.21.6``, ``v1.21``), the
TKG service resolves it to a full TKR version (``v1.21.6+vmware.1-tkg.1.b3d708a``) in
``distribution.fullVersion`` and may blank the legacy ``distribution.version`` (case 01). The same
release in either spelling is not drift; another release is, wherever live shows it."""

from __future__ import annotations

import pytest

from driftd.model import Status
from driftd.normalize import same_tkr_version
from tests.unit.drift_helpers import diff, one, summary


@pytest.mark.parametrize("git, live", [
    ("1.21.6", "v1.21.6+vmware.1-tkg.1.b3d708a"), ("v1.21.6", "v1.21.6+vmware.1-tkg.1.b3d708a"),
    ("v1.21", "v1.21.6+vmware.1-tkg.1.b3d708a"), ("1.21.6+vmware.1", "v1.21.6+vmware.1-tkg.1.b3d708a"),
    ("v1.21.6+vmware.1-tkg.1.b3d708a", "v1.21.6+vmware.1-tkg.1.b3d708a"), ("1.21.6", "v1.21.6"),
])
def test_short_release_names_the_full_version_it_resolves_to(git, live):
    assert same_tkr_version(git, live)


@pytest.mark.parametrize("git, live", [
    ("1.21.6", "v1.22.9+vmware.1-tkg.1.2b4b9bb"), ("1.2", "v1.21.6+vmware.1-tkg.1.b3d708a"),
    ("1.21.6", "v1.21.60+vmware.1"), ("v1.21.6+vmware.2", "v1.21.6+vmware.1-tkg.1.b3d708a"), ("1.21.6", ""),
    ("", "v1.21.6"),
])
def test_another_release_is_not_the_same(git, live):
    assert not same_tkr_version(git, live)


def _tkc(distribution: str) -> str:
    return f"""
        apiVersion: run.tanzu.vmware.com/v1alpha1
        kind: TanzuKubernetesCluster
        metadata: {{name: tkc-legacy, namespace: team-b}}
        spec:
          distribution: {distribution}
          topology:
            controlPlane: {{count: 1, class: best-effort-small, storageClass: gold}}
            workers: {{count: 2, class: best-effort-small, storageClass: gold}}
        """


def test_short_version_in_git_resolved_in_live_is_not_drift():
    git = _tkc("{version: 1.21.6}")
    live = _tkc("{version: v1.21.6+vmware.1-tkg.1.b3d708a, fullVersion: v1.21.6+vmware.1-tkg.1.b3d708a}")
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_short_version_in_git_with_the_legacy_field_blanked_is_not_drift():
    git = _tkc("{version: 1.21.6}")
    live = _tkc("{version: '', fullVersion: v1.21.6+vmware.1-tkg.1.b3d708a}")
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_short_version_in_git_with_the_legacy_field_left_out_is_not_drift():
    git = _tkc("{version: v1.21}")
    live = _tkc("{fullVersion: v1.21.6+vmware.1-tkg.1.b3d708a}")
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_another_release_in_live_is_drift():
    git = _tkc("{version: 1.21.6}")
    live = _tkc("{version: v1.22.9+vmware.1-tkg.1.2b4b9bb, fullVersion: v1.22.9+vmware.1-tkg.1.2b4b9bb}")
    assert summary(one(diff(git, live))) == [
        ("spec.distribution.version", "modified", "1.21.6", "v1.22.9+vmware.1-tkg.1.2b4b9bb", "unknown")]


def test_another_release_resolved_with_the_legacy_field_blanked_is_drift_showing_the_live_release():
    git = _tkc("{version: 1.21.6}")
    live = _tkc("{version: '', fullVersion: v1.22.9+vmware.1-tkg.1.2b4b9bb}")
    obj = one(diff(git, live))
    assert summary(obj) == [
        ("spec.distribution.version", "modified", "1.21.6", "v1.22.9+vmware.1-tkg.1.2b4b9bb", "unknown")]
    assert "spec.distribution.fullVersion" in obj.drifts[0].note


def test_legacy_field_still_naming_the_release_does_not_hide_another_full_version():
    git = _tkc("{version: v1.21.6}")
    live = _tkc("{version: v1.21.6, fullVersion: v1.22.9+vmware.1-tkg.1.2b4b9bb}")
    assert summary(one(diff(git, live))) == [
        ("spec.distribution.version", "modified", "v1.21.6", "v1.22.9+vmware.1-tkg.1.2b4b9bb", "unknown")]


def test_another_release_with_the_legacy_field_left_out_is_drift_not_removed():
    git = _tkc("{version: 1.21.6}")
    live = _tkc("{fullVersion: v1.22.9+vmware.1-tkg.1.2b4b9bb}")
    assert summary(one(diff(git, live))) == [
        ("spec.distribution.version", "modified", "1.21.6", "v1.22.9+vmware.1-tkg.1.2b4b9bb", "unknown")]


def test_full_version_in_git_is_compared_with_the_full_version_live():
    git = _tkc("{fullVersion: v1.21.6+vmware.1-tkg.1.b3d708a}")
    assert one(diff(git, _tkc("{fullVersion: v1.21.6+vmware.1-tkg.1.b3d708a, version: ''}"))).status is \
        Status.IN_SYNC
    assert summary(one(diff(git, _tkc("{fullVersion: v1.21.6+vmware.2-tkg.1.a1b2c3d, version: ''}")))) == [
        ("spec.distribution.fullVersion", "modified", "v1.21.6+vmware.1-tkg.1.b3d708a",
         "v1.21.6+vmware.2-tkg.1.a1b2c3d", "unknown")]


def test_upgrade_recipe_full_version_null_and_a_new_short_version_is_in_sync_once_resolved():
    git = _tkc("{fullVersion: null, version: v1.22}")
    live = _tkc("{fullVersion: v1.22.9+vmware.1-tkg.1.2b4b9bb, version: v1.22}")
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_release_changed_by_kubectl_edit_is_out_of_band_with_the_editor_as_evidence():
    git = _tkc("{version: 1.21.6}")
    live = _tkc("{version: '', fullVersion: v1.22.9+vmware.1-tkg.1.2b4b9bb}").replace(
        "metadata: {name: tkc-legacy, namespace: team-b}",
        """metadata:
          name: tkc-legacy
          namespace: team-b
          managedFields:
          - {manager: kubectl-edit, operation: Update, time: "2026-12-01T09:00:00Z", fieldsType: FieldsV1,
             fieldsV1: {"f:spec": {"f:distribution": {"f:fullVersion": {}}}}}""")
    [drift] = one(diff(git, live)).drifts
    assert (drift.path_text, drift.desired, drift.live, drift.drift_class.value, drift.evidence.manager) == \
        ("spec.distribution.version", "1.21.6", "v1.22.9+vmware.1-tkg.1.2b4b9bb", "out-of-band", "kubectl-edit")


def _cluster(version: str, labels: str = "{}") -> str:
    return f"""
        apiVersion: cluster.x-k8s.io/v1beta1
        kind: Cluster
        metadata: {{name: tkg2-dev, namespace: team-b, labels: {labels}}}
        spec:
          clusterNetwork: {{pods: {{cidrBlocks: [192.168.156.0/20]}}}}
          topology: {{class: tanzukubernetescluster, version: {version}}}
        """


@pytest.mark.parametrize("git, live", [
    ("v1.26.5", "v1.26.5+vmware.2-fips.1-tkg.1"), ("1.26.5", "v1.26.5"), ("v1.26", "v1.26.5+vmware.2-fips.1-tkg.1"),
])
def test_a_cluster_topology_version_resolved_by_the_supervisor_is_not_drift(git, live):
    resolved = _cluster(live, labels='{"run.tanzu.vmware.com/tkr": "v1.26.5---vmware.2-fips.1-tkg.1"}')
    assert one(diff(_cluster(git), resolved)).status is Status.IN_SYNC


def test_another_release_in_a_cluster_topology_version_is_drift():
    obj = one(diff(_cluster("v1.26.5"), _cluster("v1.27.2+vmware.1-tkg.1")))
    assert summary(obj) == [("spec.topology.version", "modified", "v1.26.5", "v1.27.2+vmware.1-tkg.1", "unknown")]


# managedFields entries are written in the API version of their request, not the one driftd reads at:
# `kubectl edit tkc` works at the preferred version (v1alpha3), so a person's entry names
# nodePools[name=workers].replicas while Git (v1alpha1) declares workers.count. Found replaying the
# seed on the real API server.

import json as _json  # noqa: E402

from tests.unit.drift_helpers import by_path as _by_path, diff as _diff, one as _one, summary as _summary  # noqa: E402


def _tkc_at(version: str, spec: dict, entries: list[dict]) -> str:
    return _json.dumps({"apiVersion": f"run.tanzu.vmware.com/{version}", "kind": "TanzuKubernetesCluster",
                        "metadata": {"name": "c1", "namespace": "prod", "managedFields": entries}, "spec": spec})


def _entry(manager: str, operation: str, version: str, time: str, fields: dict) -> dict:
    return {"manager": manager, "operation": operation, "apiVersion": f"run.tanzu.vmware.com/{version}",
            "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields}


_APPLY_V1A1 = _entry("argocd-controller", "Apply", "v1alpha1", "2026-12-04T06:00:00Z",
                     {"f:spec": {"f:topology": {"f:workers": {"f:class": {}}}, "f:settings": {"f:network": {}}}})
_EDIT_V1A3 = _entry("kubectl-edit", "Update", "v1alpha3", "2026-12-04T07:00:00Z",
                    {"f:spec": {"f:topology": {"f:nodePools": {'k:{"name":"workers"}': {"f:replicas": {}}}}}})


def test_workers_count_edited_at_v1alpha3_is_out_of_band_by_kubectl_edit():
    git = _tkc_at("v1alpha1", {"topology": {"workers": {"count": 1, "class": "small"}}}, [])
    live = _tkc_at("v1alpha1", {"topology": {"workers": {"count": 3, "class": "small"}}}, [_APPLY_V1A1, _EDIT_V1A3])
    obj = _one(_diff(git, live))
    assert _summary(obj) == [("spec.topology.workers.count", "modified", 1, 3, "out-of-band")]
    ev = _by_path(obj)["spec.topology.workers.count"].evidence
    assert (ev.manager, ev.operation) == ("kubectl-edit", "Update")


def test_node_pool_replicas_edited_at_v1alpha1_is_out_of_band_when_git_is_v1alpha3():
    edit = _entry("kubectl-edit", "Update", "v1alpha1", "2026-12-04T07:00:00Z",
                  {"f:spec": {"f:topology": {"f:workers": {"f:count": {}}}}})
    pools = lambda n: {"topology": {"nodePools": [{"name": "workers", "replicas": n}]}}  # noqa: E731
    obj = _one(_diff(_tkc_at("v1alpha3", pools(1), []), _tkc_at("v1alpha3", pools(4), [edit])))
    assert _summary(obj) == [("spec.topology.nodePools[name=workers].replicas", "modified", 1, 4, "out-of-band")]


def test_a_field_with_the_same_path_in_every_version_is_found_in_an_entry_of_another_version():
    edit = _entry("kubectl-edit", "Update", "v1alpha3", "2026-12-04T07:00:00Z",
                  {"f:spec": {"f:settings": {"f:network": {"f:serviceDomain": {}}}}})
    spec = {"topology": {"workers": {"count": 1}}}
    live_spec = {**spec, "settings": {"network": {"serviceDomain": "corp.local"}}}
    obj = _one(_diff(_tkc_at("v1alpha1", spec, []), _tkc_at("v1alpha1", live_spec, [edit])))
    assert _summary(obj) == [("spec.settings.network.serviceDomain", "added", None, "corp.local", "out-of-band")]


def test_a_pool_other_than_workers_at_v1alpha3_says_nothing_of_v1alpha1_workers():
    edit = _entry("kubectl-edit", "Update", "v1alpha3", "2026-12-04T07:00:00Z",
                  {"f:spec": {"f:topology": {"f:nodePools": {'k:{"name":"np-2"}': {"f:replicas": {}}}}}})
    git = _tkc_at("v1alpha1", {"topology": {"workers": {"count": 1}}}, [])
    live = _tkc_at("v1alpha1", {"topology": {"workers": {"count": 2}}}, [edit])
    [drift] = _one(_diff(git, live)).drifts
    assert (drift.evidence.manager, drift.drift_class.value) == (None, "unknown")
