"""Tolerations are keyed by key and effect (rule ``tolerations-key``; a missing key or effect is "")
and the DefaultTolerationSeconds admission plugin's two Pod tolerations are the system's (rule
``pod-default-tolerations``; variants 12 and 39)."""

from __future__ import annotations

import json

from driftd.paths import Pattern, Select, parse, render
from tests.unit.drift_helpers import diff, one

NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}
CRITICAL = {"key": "CriticalAddonsOnly", "operator": "Exists"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def deploy(tolerations: list) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dns", "namespace": "kube-system"},
                       "spec": {"selector": {"matchLabels": {"app": "dns"}}, "template": {
                           "metadata": {"labels": {"app": "dns"}},
                           "spec": {"tolerations": tolerations, "containers": [{"name": "c", "image": "coredns:1"}]}}}})


def pod(tolerations: list, managed: list | None = None) -> str:
    meta = {"name": "toolbox", "namespace": "ops"}
    if managed:
        meta["managedFields"] = managed
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                       "spec": {"tolerations": tolerations, "containers": [{"name": "c", "image": "busybox:1"}]}})


def _entry(manager: str, operation: str) -> dict:
    return {"manager": manager, "operation": operation, "time": "2026-11-01T08:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:tolerations": {}}}}


def test_variant_39_the_same_tolerations_in_another_order_are_not_drift():
    assert one(diff(deploy([CRITICAL, CONTROL_PLANE]), deploy([CONTROL_PLANE, CRITICAL]))).drifts == []


def test_a_changed_toleration_is_one_item_named_by_key_and_effect():
    git = dict(CONTROL_PLANE, operator="Equal", value="true")
    changed = dict(git, value="false")
    assert [(d.path_text, d.change.value) for d in one(diff(deploy([CRITICAL, git]),
                                                            deploy([changed, CRITICAL]))).drifts] == [
        ("spec.template.spec.tolerations[key=node-role.kubernetes.io/control-plane,effect=NoSchedule].value",
         "modified")]


def test_a_toleration_without_key_or_effect_is_keyed_by_the_empty_defaults():
    everything = {"operator": "Exists"}
    assert one(diff(deploy([everything, CRITICAL]), deploy([CRITICAL, everything]))).drifts == []
    gone = one(diff(deploy([everything, CRITICAL]), deploy([CRITICAL])))
    assert [(d.path_text, d.change.value) for d in gone.drifts] == [("spec.template.spec.tolerations[key=,effect=]",
                                                                     "removed")]


def test_two_tolerations_with_the_same_key_and_effect_go_by_position_with_a_note():
    a = {"key": "dedicated", "operator": "Equal", "value": "a", "effect": "NoSchedule"}
    b = dict(a, value="b")
    obj = one(diff(deploy([a, b]), deploy([a, b])))
    assert obj.drifts == [] and any("compared by position" in n for n in obj.notes)
    assert [d.path_text for d in one(diff(deploy([a, b]), deploy([b, a]))).drifts] == [
        "spec.template.spec.tolerations[0].value", "spec.template.spec.tolerations[1].value"]


def test_variant_12_the_admission_plugins_tolerations_on_a_server_side_applied_pod_are_not_drift():
    live = pod([CRITICAL, NOT_READY, UNREACHABLE], [_entry("argocd-controller", "Apply")])
    assert one(diff(pod([CRITICAL]), live)).drifts == []


def test_the_plugins_tolerations_with_other_seconds_are_the_systems_too():
    live = pod([CRITICAL, dict(NOT_READY, tolerationSeconds=60), dict(UNREACHABLE, tolerationSeconds=60)])
    assert one(diff(pod([CRITICAL]), live)).drifts == []


def test_a_toleration_a_person_added_to_a_pod_is_drift():
    extra = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    live = pod([CRITICAL, NOT_READY, UNREACHABLE, extra], [_entry("kubectl-edit", "Update")])
    assert [(d.path_text, d.change.value) for d in one(diff(pod([CRITICAL]), live)).drifts] == [
        ("spec.tolerations[key=gpu,effect=NoSchedule]", "added")]


def test_select_patterns_with_dots_slashes_and_empty_values_parse_and_match():
    pattern = Pattern.compile("spec.tolerations[key=node.kubernetes.io/not-ready,effect=NoExecute]")
    item = Select((("key", "node.kubernetes.io/not-ready"), ("effect", "NoExecute")))
    assert pattern.matches(parse("spec.tolerations") + (item,))
    assert not pattern.matches(parse("spec.tolerations") + (Select((("key", "node.kubernetes.io/not-ready"),
                                                                     ("effect", "NoSchedule"))),))
    assert render(parse("spec.tolerations[key=,effect=]")) == "spec.tolerations[key=,effect=]"
