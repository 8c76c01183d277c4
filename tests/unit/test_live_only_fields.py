"""Fields only in live: drift when an out-of-band manager wrote them, when Git declares their map
whole (ConfigMap data), or when they were applied from Git once and Git no longer has them; not
drift when the system filled them (no owner, a controller, or a per-kind profile). Cases 01, 09 and
11 are the handed examples."""

from __future__ import annotations

import json

from driftd.model import Status
from tests.unit.drift_helpers import by_path, diff, one, summary


def managed(*entries: tuple[str, str, str, dict]) -> str:
    """metadata.managedFields lines for (manager, operation, time, fieldsV1) entries."""
    lines = ["          managedFields:"]
    for manager, operation, time, fields in entries:
        lines += [f"          - manager: {manager}", f"            operation: {operation}",
                  f'            time: "{time}"', "            fieldsType: FieldsV1",
                  f"            fieldsV1: {json.dumps(fields)}"]
    return "\n".join(lines)


def last_applied(obj: dict) -> str:
    return ("          annotations:\n"
            f"            kubectl.kubernetes.io/last-applied-configuration: '{json.dumps(obj)}'")


def _configmap(data: str, meta: str = "") -> str:
    return f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          namespace: shop
{meta}
        data: {data}
        """


def test_added_configmap_key_by_kubectl_edit_is_drift():
    meta = managed(("kubectl-client-side-apply", "Update", "2026-11-01T08:00:00Z",
                    {"f:data": {".": {}, "f:LOG": {}}}),
                   ("kubectl-edit", "Update", "2026-11-30T10:00:00Z", {"f:data": {"f:CACHE_TTL": {}}}))
    obj = one(diff(_configmap("{LOG: info}"), _configmap("{LOG: info, CACHE_TTL: '0'}", meta)))
    assert summary(obj) == [("data.CACHE_TTL", "added", None, "0", "out-of-band")]
    ev = by_path(obj)["data.CACHE_TTL"].evidence
    assert (ev.manager, ev.operation, ev.time) == ("kubectl-edit", "Update", "2026-11-30T10:00:00Z")


def test_configmap_key_with_no_owner_is_still_drift_because_git_declares_data_whole():
    obj = one(diff(_configmap("{LOG: info}"), _configmap("{LOG: info, EXTRA: 'yes'}")))
    assert summary(obj) == [("data.EXTRA", "added", None, "yes", "unknown")]


def _deployment(meta: str = "", labels: str = "{app: web}", replicas: str = "") -> str:
    return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels: {labels}
{meta}
        spec:
{replicas}
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers: [{{name: app, image: 'shop/web:1.4.0'}}]
        """


def test_label_added_by_kubectl_label_is_drift():
    meta = managed(("kubectl-label", "Update", "2026-11-30T11:00:00Z",
                    {"f:metadata": {"f:labels": {"f:owner": {}}}}))
    obj = one(diff(_deployment(), _deployment(meta, labels="{app: web, owner: alice}")))
    assert summary(obj) == [('metadata.labels.owner', "added", None, "alice", "out-of-band")]


def test_label_with_a_dotted_key_added_by_kubectl_label_is_reported_in_brackets():
    meta = managed(("kubectl-label", "Update", "2026-11-30T11:00:00Z",
                    {"f:metadata": {"f:labels": {"f:example.com/tier": {}}}}))
    obj = one(diff(_deployment(), _deployment(meta, labels="{app: web, example.com/tier: gold}")))
    assert summary(obj) == [('metadata.labels["example.com/tier"]', "added", None, "gold", "out-of-band")]


def test_field_filled_with_no_manager_owning_it_is_not_drift():
    git = """
        apiVersion: example.com/v1
        kind: Database
        metadata: {name: orders, namespace: shop}
        spec: {engine: postgres}
        """
    live = """
        apiVersion: example.com/v1
        kind: Database
        metadata:
          name: orders
          namespace: shop
          managedFields:
          - {manager: argocd-controller, operation: Apply, time: "2026-11-01T08:00:00Z", fieldsType: FieldsV1,
             fieldsV1: {"f:spec": {"f:engine": {}}}}
        spec: {engine: postgres, version: "16.4", backup: {schedule: "0 3 * * *", retainDays: 7}}
        """
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_field_written_by_a_controller_is_not_drift():
    meta = managed(("hpa-controller", "Update", "2026-11-30T11:00:00Z", {"f:spec": {"f:replicas": {}}}))
    assert one(diff(_deployment(), _deployment(meta, replicas="          replicas: 7"))).status is Status.IN_SYNC


def test_replicas_scaled_by_kubectl_scale_where_git_is_silent_is_drift():
    meta = managed(("kubectl-scale", "Update", "2026-11-30T11:00:00Z", {"f:spec": {"f:replicas": {}}}))
    obj = one(diff(_deployment(), _deployment(meta, replicas="          replicas: 0")))
    assert summary(obj) == [("spec.replicas", "added", None, 0, "out-of-band")]


def _tkc(meta: str = "", spec_extra: str = "") -> str:
    return f"""
        apiVersion: run.tanzu.vmware.com/v1alpha3
        kind: TanzuKubernetesCluster
        metadata:
          name: tkc-01
          namespace: team-a
{meta}
        spec:
          topology:
            controlPlane: {{replicas: 1, vmClass: best-effort-small, storageClass: gold,
                           tkr: {{reference: {{name: v1.26.5---vmware.2-fips.1-tkg.1}}}}}}
            nodePools: [{{name: np-1, replicas: 2, vmClass: best-effort-small, storageClass: gold}}]
{spec_extra}
        """


def test_server_filled_tkc_full_version_owned_by_kubectl_client_side_apply_is_not_drift():
    # A client that re-sent the resolved release (an exported manifest, an older API server)
    # owns it, but the service filled it: the tkc-distribution-resolved profile decides.
    meta = managed(("kubectl-client-side-apply", "Update", "2026-11-01T08:00:00Z",
                    {"f:spec": {"f:distribution": {".": {}, "f:fullVersion": {}, "f:version": {}}}}))
    live = _tkc(meta, "          distribution: {fullVersion: v1.26.5+vmware.2-fips.1-tkg.1, version: ''}")
    assert one(diff(_tkc(), live)).status is Status.IN_SYNC


def test_server_filled_tkc_full_version_changed_by_kubectl_edit_is_drift():
    # An Update owns only what it changed: kubectl-edit owning fullVersion means someone moved
    # the cluster to another release by hand.
    meta = managed(("kubectl-client-side-apply", "Update", "2026-11-01T08:00:00Z",
                    {"f:spec": {"f:distribution": {".": {}, "f:fullVersion": {}, "f:version": {}}}}),
                   ("kubectl-edit", "Update", "2026-11-02T08:00:00Z",
                    {"f:spec": {"f:distribution": {"f:fullVersion": {}}}}))
    live = _tkc(meta, "          distribution: {fullVersion: v1.27.4+vmware.1-fips.1-tkg.1, version: ''}")
    assert summary(one(diff(_tkc(), live))) == [
        ("spec.distribution.fullVersion", "added", None, "v1.27.4+vmware.1-fips.1-tkg.1", "out-of-band")]


def test_values_the_service_filled_inside_an_atomic_list_edited_by_kubectl_edit_are_not_drift():
    # kubectl edit of one replicas value moves the whole atomic nodePools list to kubectl-edit;
    # the tkr reference the service filled in the pool is still not drift, the replicas change is.
    meta = managed(("kubectl-edit", "Update", "2026-11-02T08:00:00Z", {"f:spec": {"f:topology": {"f:nodePools": {}}}}))
    live = _tkc(meta).replace("{name: np-1, replicas: 2,",
                              "{name: np-1, tkr: {reference: {name: v1.26.5---vmware.2-fips.1-tkg.1}}, replicas: 4,")
    assert summary(one(diff(_tkc(), live))) == [
        ("spec.topology.nodePools[name=np-1].replicas", "modified", 2, 4, "out-of-band")]


def test_defaulted_field_edited_by_kubectl_edit_where_git_is_silent_is_drift():
    meta = managed(("kubectl-edit", "Update", "2026-11-30T11:00:00Z", {"f:spec": {"f:revisionHistoryLimit": {}}}))
    live = _deployment(meta, replicas="          revisionHistoryLimit: 2\n          progressDeadlineSeconds: 600")
    assert summary(one(diff(_deployment(), live))) == [("spec.revisionHistoryLimit", "added", None, 2, "out-of-band")]


def test_defaulted_field_with_no_out_of_band_owner_is_not_drift():
    meta = managed(("kube-controller-manager", "Update", "2026-11-30T11:00:00Z",
                    {"f:spec": {"f:revisionHistoryLimit": {}}}))
    live = _deployment(meta, replicas="          revisionHistoryLimit: 10\n          progressDeadlineSeconds: 600")
    assert one(diff(_deployment(), live)).status is Status.IN_SYNC


def test_allocated_node_port_changed_by_kubectl_patch_is_drift():
    git = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {type: NodePort, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
        """
    live = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: shop
          managedFields:
          - {manager: kubectl-patch, operation: Update, time: "2026-11-30T11:00:00Z", fieldsType: FieldsV1,
             fieldsV1: {"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {"f:nodePort": {}}}}}}
        spec:
          type: NodePort
          selector: {app: web}
          clusterIP: 10.96.14.2
          clusterIPs: [10.96.14.2]
          ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30999}]
          sessionAffinity: None
          externalTrafficPolicy: Cluster
        """
    assert summary(one(diff(git, live))) == [
        ("spec.ports[port=80,protocol=TCP].nodePort", "added", None, 30999, "out-of-band")]


def test_live_only_field_applied_by_argocd_and_in_last_applied_is_removed_in_git():
    applied = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "canary": "true"}}}
    meta = last_applied(applied) + "\n" + managed(
        ("argocd-controller", "Update", "2026-11-01T08:00:00Z",
         {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:canary": {}}}}))
    obj = one(diff(_deployment(), _deployment(meta, labels="{app: web, canary: 'true'}")))
    assert summary(obj) == [("metadata.labels.canary", "added", None, "true", "removed-in-git")]
    ev = by_path(obj)["metadata.labels.canary"].evidence
    assert ev.manager == "argocd-controller" and ev.in_last_applied is True and ev.last_applied == "true"


def test_live_only_field_server_side_applied_by_argocd_is_removed_in_git():
    meta = managed(("argocd-controller", "Apply", "2026-11-01T08:00:00Z",
                    {"f:metadata": {"f:labels": {"f:app": {}, "f:canary": {}}},
                     "f:spec": {"f:paused": {}}}))
    live = _deployment(meta, labels="{app: web, canary: 'true'}", replicas="          paused: true")
    assert summary(one(diff(_deployment(), live))) == [
        ("metadata.labels.canary", "added", None, "true", "removed-in-git"),
        ("spec.paused", "added", None, True, "removed-in-git")]


def test_value_the_system_fills_anyway_is_not_drift_when_git_drops_it():
    # Someone applied a manifest exported from the live TKC (fullVersion and network included);
    # Git no longer has them, but the service fills the same values again: nothing to report.
    applied = {"apiVersion": "run.tanzu.vmware.com/v1alpha3", "kind": "TanzuKubernetesCluster",
               "metadata": {"name": "tkc-01", "namespace": "team-a"},
               "spec": {"distribution": {"fullVersion": "v1.26.5+vmware.2-fips.1-tkg.1"},
                        "settings": {"network": {"cni": {"name": "antrea"}}}}}
    meta = last_applied(applied) + "\n" + managed(
        ("kubectl-client-side-apply", "Update", "2026-11-01T08:00:00Z",
         {"f:spec": {"f:distribution": {"f:fullVersion": {}}, "f:settings": {"f:network": {"f:cni": {"f:name": {}}}}}}))
    live = _tkc(meta, "          distribution: {fullVersion: v1.26.5+vmware.2-fips.1-tkg.1}\n"
                      "          settings: {network: {cni: {name: antrea}}}")
    assert one(diff(_tkc(), live)).status is Status.IN_SYNC


def test_live_only_field_in_last_applied_is_removed_in_git_whoever_owns_it_now():
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"paused": True}}
    meta = last_applied(applied)
    obj = one(diff(_deployment(), _deployment(meta, replicas="          paused: true")))
    assert summary(obj) == [("spec.paused", "added", None, True, "removed-in-git")]


def test_live_only_value_a_gitops_applier_updated_without_last_applied_is_not_drift():
    # An Update (not Apply) by the applier owns every field the server defaulted in that request
    # too, so ownership alone is no evidence that Git ever declared it.
    meta = managed(("argocd-controller", "Update", "2026-11-01T08:00:00Z",
                    {"f:spec": {"f:template": {"f:spec": {"f:hostname": {}}}}}))
    live = _deployment(meta).replace("containers: [", "hostname: web-0\n              containers: [")
    assert one(diff(_deployment(), live)).status is Status.IN_SYNC


# An Apply of an empty map owns that empty map, not what the server defaults into it later. FieldsV1
# shows both an atomic map and an empty map as a leaf (`f:operator: {}`); Git declaring the map
# empty says which one it was. Found replaying case 07's CRD on the real API server.

def _policy(operator: str, meta: str = "") -> str:
    return f"""
        apiVersion: accel.example.com/v1
        kind: AcceleratorPolicy
        metadata:
          name: edge-policy
{meta}
        spec:
          driver: {{enabled: false}}
          operator: {operator}
        """


_APPLIED_EMPTY_OPERATOR = ("argocd-controller", "Apply", "2026-12-04T06:12:22Z",
                           {"f:spec": {"f:driver": {"f:enabled": {}}, "f:operator": {}}})


def test_schema_default_inside_a_map_git_applied_empty_is_not_drift():
    meta = managed(_APPLIED_EMPTY_OPERATOR)
    obj = one(diff(_policy("{}"), _policy("{runtimeClass: accel}", meta)))
    assert (obj.status, obj.drifts) == (Status.IN_SYNC, [])


def test_default_inside_a_map_git_applied_empty_then_edited_by_a_person_is_drift():
    meta = managed(_APPLIED_EMPTY_OPERATOR,
                   ("kubectl-edit", "Update", "2026-12-04T07:00:00Z", {"f:spec": {"f:operator": {"f:runtimeClass": {}}}}))
    obj = one(diff(_policy("{}"), _policy("{runtimeClass: nvidia}", meta)))
    assert summary(obj) == [("spec.operator.runtimeClass", "added", None, "nvidia", "out-of-band")]
    assert by_path(obj)["spec.operator.runtimeClass"].evidence.manager == "kubectl-edit"


def test_key_of_an_atomic_map_applied_from_git_and_dropped_since_is_still_drift():
    """The other reading of a leaf: Git applied the map with its keys as one atomic value, then
    dropped a key (not synced yet): the live key was Git's."""
    meta = managed(("argocd-controller", "Apply", "2026-12-04T06:12:22Z",
                    {"f:spec": {"f:driver": {"f:enabled": {}}, "f:operator": {}}}))
    obj = one(diff(_policy("{defaultRuntime: containerd}"),
                   _policy("{defaultRuntime: containerd, runtimeClass: nvidia}", meta)))
    assert summary(obj) == [("spec.operator.runtimeClass", "added", None, "nvidia", "removed-in-git")]


def _cm_with_finalizers(entries: list[tuple[str, str, list[str]]]) -> str:
    """A ConfigMap whose finalizers were written by ``entries``: (manager, time, items it added)."""
    finalizers = [f for _, _, items in entries for f in items]
    managed = "".join(
        f"\n          - {{manager: {m}, operation: Update, time: '{t}', fieldsType: FieldsV1, fieldsV1: "
        f"{{'f:metadata': {{'f:finalizers': {{{', '.join(repr('v:' + json.dumps(i)) + ': {}' for i in items)}}}}}}}}}"
        for m, t, items in entries)
    return f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          namespace: shop
          finalizers: {json.dumps(finalizers)}
          managedFields:{managed}
        data: {{a: "1"}}
        """


GIT_CM = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cfg, namespace: shop}
        data: {a: "1"}
        """


def test_a_finalizer_a_person_added_is_drift_even_when_a_controller_wrote_the_list_later():
    live = _cm_with_finalizers([("kubectl-patch", "2026-11-28T16:41:07Z", ["example.com/do-not-delete"]),
                                ("cfg-controller", "2026-11-30T08:00:00Z", ["cfg.example.com/cleanup"])])
    [drift] = one(diff(GIT_CM, live)).drifts
    assert (drift.path_text, drift.change.value, drift.live, drift.drift_class.value, drift.evidence.manager) == (
        "metadata.finalizers", "added", ["example.com/do-not-delete"], "out-of-band", "kubectl-patch")
    assert drift.note == "1 other item(s) of this list are the system's"


def test_finalizers_only_controllers_added_are_not_drift():
    live = _cm_with_finalizers([("cfg-controller", "2026-11-30T08:00:00Z", ["cfg.example.com/cleanup"]),
                                ("backup-operator", "2026-11-30T09:00:00Z", ["backup.example.com/hold"])])
    assert one(diff(GIT_CM, live)).status is Status.IN_SYNC


def test_an_owner_reference_a_person_added_is_drift_even_when_a_controller_wrote_later():
    owners = [{"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster", "name": "wl", "uid": "u-cluster"},
              {"apiVersion": "v1", "kind": "ConfigMap", "name": "batch-7", "uid": "u-cm"}]
    entries = [("kubectl-patch", "2026-12-01T10:11:12Z", "u-cm"), ("manager", "2026-12-01T11:00:00Z", "u-cluster")]
    managed = [{"manager": m, "operation": "Update", "time": t, "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:ownerReferences": {f'k:{{"uid":"{uid}"}}': {".": {}}}}}}
               for m, t, uid in entries]
    live = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "shop", "ownerReferences": owners, "managedFields": managed},
            "data": {"a": "1"}}
    [drift] = one(diff(GIT_CM, json.dumps(live))).drifts
    assert (drift.path_text, drift.change.value, drift.live, drift.evidence.manager) == (
        "metadata.ownerReferences", "added", [owners[1]], "kubectl-patch")
