"""null, absent, {}, [], "" and zero are the same where Kubernetes drops them (omitempty), on either
side; a real value against absent is still drift. Case 12 is the handed example."""

from __future__ import annotations

import pytest

from driftd.model import Status
from tests.unit.drift_helpers import diff, one, summary


def _pod(spec_extra: str = "", meta_extra: str = "", container_extra: str = "") -> str:
    return f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          namespace: ns
{meta_extra}
        spec:
          containers:
          - name: c
            image: busybox
{container_extra}
{spec_extra}
        """


@pytest.mark.parametrize("git_line", [
    "          nodeSelector: null", "          nodeSelector: {}", "          tolerations: []",
    "          tolerations: ~", "          hostname: ''", "          priority: 0", "          hostNetwork: false",
    "          imagePullSecrets: []", "          initContainers: []",
])
def test_null_empty_and_zero_in_git_equal_absent_in_live(git_line):
    assert one(diff(_pod(git_line), _pod())).status is Status.IN_SYNC


@pytest.mark.parametrize("live_line", [
    "          nodeSelector: {}", "          tolerations: []", "          hostname: ''", "          affinity: {}",
    "          overhead: null",
])
def test_empty_values_in_live_equal_absent_in_git(live_line):
    assert one(diff(_pod(), _pod(live_line))).status is Status.IN_SYNC


def test_null_annotations_in_git_with_tool_annotations_live_are_not_drift():
    git = _pod(meta_extra="          annotations: null\n          labels: {}")
    live = _pod(meta_extra='          annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}')
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_empty_nested_maps_and_lists_in_git_equal_absent_live():
    git = _pod(container_extra="            env: []\n            resources: {limits: {}, requests: {}}\n"
                               "            readinessProbe: {initialDelaySeconds: 0, exec: {command: [true]}}\n"
                               "            securityContext: {capabilities: {add: []}}")
    live = _pod(container_extra="            resources: {}\n            readinessProbe: {exec: {command: ['true']},"
                                " timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3}\n"
                                "            securityContext: {}")
    # `command: [true]` is the YAML boolean true, not the string: that is a real difference.
    assert summary(one(diff(git, live))) == [
        ("spec.containers[name=c].readinessProbe.exec.command", "modified", [True], ["true"], "unknown")]


def test_empty_values_equal_when_command_is_a_string():
    git = _pod(container_extra="            readinessProbe: {initialDelaySeconds: 0, exec: {command: ['true']}}")
    live = _pod(container_extra="            readinessProbe: {exec: {command: ['true']}, timeoutSeconds: 1,"
                                " periodSeconds: 10, successThreshold: 1, failureThreshold: 3}")
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_a_real_value_in_git_and_absent_live_is_removed_drift():
    git = _pod("          nodeSelector: {disk: ssd}\n          priority: 10")
    assert summary(one(diff(git, _pod()))) == [
        ("spec.nodeSelector", "removed", {"disk": "ssd"}, None, "unknown"),
        ("spec.priority", "removed", 10, None, "unknown"),
    ]


def test_removed_map_is_reported_without_its_empty_parts():
    git = _pod("          affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
               "{nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}, "
               "podAffinity: {}}")
    [drift] = one(diff(git, _pod())).drifts
    assert drift.path_text == "spec.affinity" and drift.change.value == "removed"
    assert drift.desired == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}


def test_zero_in_git_against_a_real_live_value_is_drift():
    git = _pod("          terminationGracePeriodSeconds: 0")
    live = _pod("          terminationGracePeriodSeconds: 30")
    assert summary(one(diff(git, live))) == [("spec.terminationGracePeriodSeconds", "modified", 0, 30, "unknown")]


def test_empty_list_in_git_against_a_real_live_list_is_drift():
    git = _pod(container_extra="            args: []")
    live = _pod(container_extra="            args: [--verbose]")
    [drift] = one(diff(git, live)).drifts
    assert (drift.path_text, drift.desired, drift.live) == ("spec.containers[name=c].args", [], ["--verbose"])


def test_false_in_a_custom_resource_against_true_live_is_drift():
    git = """
        apiVersion: example.com/v1
        kind: Feature
        metadata: {name: f, namespace: ns}
        spec: {enabled: false, replicas: 0}
        """
    live = """
        apiVersion: example.com/v1
        kind: Feature
        metadata: {name: f, namespace: ns}
        spec: {enabled: true, replicas: 2}
        """
    assert summary(one(diff(git, live))) == [("spec.enabled", "modified", False, True, "unknown"),
                                             ("spec.replicas", "modified", 0, 2, "unknown")]


def test_empty_map_in_git_does_not_hide_a_key_added_out_of_band():
    managed = """\
          managedFields:
          - manager: kubectl-edit
            operation: Update
            time: "2026-11-30T10:00:00Z"
            fieldsType: FieldsV1
            fieldsV1: {f:spec: {f:nodeSelector: {.: {}, f:disk: {}}}}"""
    git = _pod("          nodeSelector: {}")
    live = _pod("          nodeSelector: {disk: ssd}", meta_extra=managed)
    assert summary(one(diff(git, live))) == [("spec.nodeSelector.disk", "added", None, "ssd", "out-of-band")]
