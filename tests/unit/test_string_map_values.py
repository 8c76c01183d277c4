"""Values of string maps (labels, annotations, selectors, nodeSelector, ConfigMap/Secret data) are
real even when they are "": Git's ``tier: ""`` that live lacks is removed drift (variant 03), a
``KEY: ""`` a person adds is added drift (variant 04). Rules ``label-map-values`` and
``core-string-map-values``; the maps themselves still drop when empty (case 12)."""

from __future__ import annotations

import json


from tests.unit.drift_helpers import diff, one, summary


def _fields(manager: str, fields: dict, time: str = "2026-11-21T09:30:00Z") -> dict:
    return {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def _cm(data: dict, labels: dict | None = None, managed: list | None = None) -> str:
    meta = {"name": "flags", "namespace": "shop"}
    if labels is not None:
        meta["labels"] = labels
    if managed:
        meta["managedFields"] = managed
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})


def _deploy(labels: dict, node_selector: dict | None) -> str:
    spec = {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "ingress", "namespace": "edge", "labels": labels},
                       "spec": {"selector": {"matchLabels": {"app": "ingress"}},
                                "template": {"metadata": {"labels": {"app": "ingress"}}, "spec": spec}}})


def test_an_empty_label_and_node_selector_value_removed_beside_other_keys_is_removed_drift():
    git = _deploy({"app": "ingress", "tier": ""}, {"kubernetes.io/os": "linux", "node-role.kubernetes.io/infra": ""})
    live = _deploy({"app": "ingress"}, {"kubernetes.io/os": "linux"})
    assert summary(one(diff(git, live))) == [
        ("metadata.labels.tier", "removed", "", None, "unknown"),
        ('spec.template.spec.nodeSelector["node-role.kubernetes.io/infra"]', "removed", "", None, "unknown")]


def test_variant_03_node_selector_and_labels_of_empty_values_removed_whole():
    git = _deploy({"tier": ""}, {"node-role.kubernetes.io/infra": ""})
    live = json.dumps({**json.loads(_deploy({}, None)), "metadata": {"name": "ingress", "namespace": "edge"}})
    assert sorted((d.path_text, d.change.value) for d in one(diff(git, live)).drifts) == [
        ("metadata.labels", "removed"), ("spec.template.spec.nodeSelector", "removed")]


def test_a_configmap_key_with_an_empty_value_deleted_live_is_removed_drift():
    assert summary(one(diff(_cm({"CHECKOUT_V2": "on", "LEGACY_TAX": ""}), _cm({"CHECKOUT_V2": "on"})))) == [
        ("data.LEGACY_TAX", "removed", "", None, "unknown")]


def test_variant_04_empty_key_added_by_kubectl_edit_and_empty_label_by_kubectl_label_are_added_drift():
    git = _cm({"CHECKOUT_V2": "on"})
    live = _cm({"CHECKOUT_V2": "on", "DISABLE_FRAUD_CHECK": ""}, {"maintenance": ""}, [
        _fields("kubectl-edit", {"f:data": {"f:DISABLE_FRAUD_CHECK": {}}}),
        _fields("kubectl-label", {"f:metadata": {"f:labels": {".": {}, "f:maintenance": {}}}}, "2026-11-21T09:31:00Z")])
    assert summary(one(diff(git, live))) == [
        ("data.DISABLE_FRAUD_CHECK", "added", None, "", "out-of-band"),
        ("metadata.labels.maintenance", "added", None, "", "out-of-band")]


def test_an_empty_secret_value_added_by_hand_is_added_drift_even_without_an_owner():
    git = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
                      "data": {"a": "MQ=="}})
    live = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
                       "data": {"a": "MQ==", "b": ""}})
    assert [(d.path_text, d.change.value) for d in one(diff(git, live)).drifts] == [("data.b", "added")]


def test_an_empty_service_selector_value_added_with_kubectl_edit_is_added_drift():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    live = json.loads(json.dumps(svc))
    live["spec"]["selector"]["canary"] = ""
    live["metadata"]["managedFields"] = [_fields("kubectl-edit", {"f:spec": {"f:selector": {"f:canary": {}}}})]
    assert summary(one(diff(json.dumps(svc), json.dumps(live)))) == [
        ("spec.selector.canary", "added", None, "", "out-of-band")]


def test_an_empty_match_labels_value_removed_is_removed_drift():
    np = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "db", "role.example.com/primary": ""}}}}
    live = json.loads(json.dumps(np))
    del live["spec"]["podSelector"]["matchLabels"]["role.example.com/primary"]
    assert [(d.path_text, d.change.value) for d in one(diff(json.dumps(np), json.dumps(live))).drifts] == [
        ('spec.podSelector.matchLabels["role.example.com/primary"]', "removed")]


def test_an_empty_annotation_a_controller_wrote_is_not_drift():
    git = _cm({"a": "1"}, {"app": "web"})
    live = json.loads(_cm({"a": "1"}, {"app": "web"}, [
        _fields("some-controller", {"f:metadata": {"f:annotations": {"f:example.com/seen": {}}}})]))
    live["metadata"]["annotations"] = {"example.com/seen": ""}
    assert one(diff(git, json.dumps(live))).drifts == []


def test_empty_maps_in_git_are_still_not_stored_values():
    git = _deploy({"app": "ingress"}, {})
    assert one(diff(git, _deploy({"app": "ingress"}, None))).drifts == []
