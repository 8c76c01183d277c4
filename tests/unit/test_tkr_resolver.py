"""The TKR-resolver-like mutating webhook of driftd.envtest fills a TKC as a Supervisor does, and
keeps what the request already holds (a person's edit of a filled field stays)."""

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
