"""The mutating webhooks of driftd.envtest: the TKR resolver fills a TKC as a Supervisor does, and
keeps what the request already holds (a person's edit of a filled field stays); Cluster API
defaulting fills MachineDeployments and KubeadmControlPlanes as its v1beta1 webhooks do."""

from __future__ import annotations

import base64
import json

from driftd.envtest.webhooks import TKR_LABEL, resolve_tkr, tkr_resolver, tkr_resolver_patch


def _apply(obj: dict, ops: list[dict]) -> dict:
    import copy
    out = copy.deepcopy(obj)
    for op in ops:
        assert op["op"] == "add"
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = out
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = op["value"]
    return out


def _tkc(spec: dict, labels: dict | None = None) -> dict:
    meta = {"name": "c1", "namespace": "ns"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "run.tanzu.vmware.com/v1alpha1", "kind": "TanzuKubernetesCluster", "metadata": meta,
            "spec": spec}


def test_short_versions_resolve_to_the_known_release():
    assert resolve_tkr("1.21.6") == "v1.21.6+vmware.1-tkg.1.b3d708a"
    assert resolve_tkr("v1.21") == "v1.21.6+vmware.1-tkg.1.b3d708a"
    assert resolve_tkr("v1.24.9") == "v1.24.9+vmware.1-tkg.1"
    assert resolve_tkr("") is None


def test_version_is_resolved_network_defaults_and_label_filled_where_absent():
    obj = _tkc({"distribution": {"version": "1.21.6"},
                "settings": {"network": {"cni": {"name": "calico"}, "pods": {"cidrBlocks": ["172.23.0.0/16"]}}}})
    out = _apply(obj, tkr_resolver_patch(obj))
    assert out["spec"]["distribution"] == {"version": "1.21.6", "fullVersion": "v1.21.6+vmware.1-tkg.1.b3d708a"}
    assert out["spec"]["settings"]["network"] == {
        "cni": {"name": "calico"}, "pods": {"cidrBlocks": ["172.23.0.0/16"]},
        "services": {"cidrBlocks": ["10.96.0.0/12"]}, "serviceDomain": "cluster.local"}
    assert out["metadata"]["labels"] == {TKR_LABEL: "v1.21.6---vmware.1-tkg.1.b3d708a"}


def test_tkr_reference_resolves_and_blanks_the_legacy_version():
    obj = _tkc({"topology": {"controlPlane": {"replicas": 1, "tkr": {"reference": {"name": "v1.23.8---vmware.3-tkg.1"}}}}},
               labels={"team": "a"})
    out = _apply(obj, tkr_resolver_patch(obj))
    assert out["spec"]["distribution"] == {"fullVersion": "v1.23.8+vmware.3-tkg.1", "version": ""}
    assert out["metadata"]["labels"] == {"team": "a", TKR_LABEL: "v1.23.8---vmware.3-tkg.1"}
    assert out["spec"]["settings"]["network"]["serviceDomain"] == "cluster.local"


def test_filled_object_is_left_alone_and_a_persons_values_stay():
    obj = _tkc({"distribution": {"version": "1.21.6", "fullVersion": "v1.21.6+vmware.1-tkg.1.b3d708a"},
                "settings": {"network": {"cni": {"name": "calico"}, "pods": {"cidrBlocks": ["1.0.0.0/16"]},
                                         "services": {"cidrBlocks": ["2.0.0.0/16"]}, "serviceDomain": "corp.local"}}},
               labels={TKR_LABEL: "hand-picked"})
    assert tkr_resolver_patch(obj) == []


def test_a_new_version_is_resolved_again():
    obj = _tkc({"distribution": {"version": "1.22.9", "fullVersion": "v1.21.6+vmware.1-tkg.1.b3d708a"}},
               labels={TKR_LABEL: "x"})
    ops = tkr_resolver_patch(obj)
    assert {"op": "add", "path": "/spec/distribution/fullVersion", "value": "v1.22.9+vmware.1-tkg.1.cc71bc8"} in ops


def test_admission_review_answer_carries_the_patch():
    obj = _tkc({"distribution": {"version": "1.21.6"}})
    answer = tkr_resolver({"apiVersion": "admission.k8s.io/v1", "request": {"uid": "u1", "object": obj}})
    resp = answer["response"]
    assert (resp["uid"], resp["allowed"], resp["patchType"]) == ("u1", True, "JSONPatch")
    assert json.loads(base64.b64decode(resp["patch"])) == tkr_resolver_patch(obj)


# ---------------------------------------------------------------- Cluster API defaulting (envtest webhook)
from driftd.envtest.webhooks import (CLUSTER_NAME_LABEL, DEPLOYMENT_NAME_LABEL, capi_defaulting,  # noqa: E402
                                     default_kubeadm_control_plane, default_machine_deployment)


def _md(annotations=None, **spec):
    return {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
            "metadata": {"name": "md-0", "namespace": "ns", "annotations": annotations or {}},
            "spec": {"clusterName": "wl", "template": {"spec": {"version": "1.29.3"}}, **spec}}


def test_machine_deployment_defaults_like_cluster_api():
    out = default_machine_deployment(_md())
    assert out["metadata"]["labels"] == {CLUSTER_NAME_LABEL: "wl"}
    assert out["spec"]["selector"] == {"matchLabels": {DEPLOYMENT_NAME_LABEL: "md-0", CLUSTER_NAME_LABEL: "wl"}}
    assert out["spec"]["template"]["metadata"]["labels"] == {DEPLOYMENT_NAME_LABEL: "md-0", CLUSTER_NAME_LABEL: "wl"}
    assert (out["spec"]["replicas"], out["spec"]["minReadySeconds"], out["spec"]["revisionHistoryLimit"],
            out["spec"]["progressDeadlineSeconds"]) == (1, 0, 1, 600)
    assert out["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert out["spec"]["template"]["spec"]["version"] == "v1.29.3"


def test_autoscaled_replicas_default_to_min_size_on_create_and_keep_the_old_value_on_update():
    ann = {"cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size": "2",
           "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size": "6"}
    assert default_machine_deployment(_md(ann))["spec"]["replicas"] == 2
    assert default_machine_deployment(_md(ann), old=_md(ann, replicas=4))["spec"]["replicas"] == 4
    assert default_machine_deployment(_md(ann, replicas=3))["spec"]["replicas"] == 3


def test_kubeadm_control_plane_defaults_and_empty_structs():
    kcp = {"kind": "KubeadmControlPlane", "metadata": {"name": "cp", "namespace": "ns"},
           "spec": {"version": "1.29.3", "machineTemplate": {"infrastructureRef": {"name": "t"}},
                    "kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"extraArgs": {"a": "1"}}}}}}
    out = default_kubeadm_control_plane(kcp)["spec"]
    assert (out["replicas"], out["version"]) == (1, "v1.29.3")
    assert out["machineTemplate"] == {"infrastructureRef": {"name": "t", "namespace": "ns"}, "metadata": {}}
    assert out["rolloutStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    spec = out["kubeadmConfigSpec"]
    assert spec["format"] == "cloud-config"
    assert spec["clusterConfiguration"] == {"apiServer": {"extraArgs": {"a": "1"}}, "dns": {}, "etcd": {},
                                            "networking": {}, "scheduler": {}}
    assert spec["initConfiguration"] == {"localAPIEndpoint": {}, "nodeRegistration": {"imagePullPolicy": "IfNotPresent"}}
    assert spec["joinConfiguration"] == {"discovery": {}, "nodeRegistration": {"imagePullPolicy": "IfNotPresent"}}


def test_capi_defaulting_answers_a_patch_only_for_its_kinds():
    answer = capi_defaulting({"request": {"uid": "u", "object": _md()}})
    ops = json.loads(base64.b64decode(answer["response"]["patch"]))
    assert {op["path"] for op in ops} == {"/spec", "/metadata/labels"}
    other = capi_defaulting({"request": {"uid": "u", "object": {"kind": "Cluster", "spec": {}}}})
    assert "patch" not in other["response"] and other["response"]["allowed"] is True
