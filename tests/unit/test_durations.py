"""Go durations: the ``duration`` comparator (Go's time.ParseDuration grammar, equal nanoseconds) and
the rules ``capi-durations`` / ``tkc-durations``: a Go webhook re-encodes 5m as 5m0s (variant 08)."""

from __future__ import annotations

import json

import pytest

from driftd.duration import parse_duration, same_duration
from tests.unit.drift_helpers import diff, one

S = 1_000_000_000


@pytest.mark.parametrize("text, nanos", [
    ("0", 0), ("5m", 300 * S), ("300s", 300 * S), ("5m0s", 300 * S), ("1h30m", 5400 * S), ("1.5h", 5400 * S),
    ("-2m3.5s", -(123 * S + S // 2)), ("+10s", 10 * S), ("300ms", 300_000_000), ("1us", 1000), ("1µs", 1000),
    ("1μs", 1000), ("7ns", 7), (".5s", S // 2), ("1.s", S), ("1h0m0s", 3600 * S), ("0s", 0), ("1.0000000001s", S),
])
def test_go_durations_parse_to_nanoseconds(text, nanos):
    assert parse_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "5", "m", ".s", "5x", "1h 30m", "5mm", "-", "abc", "1d"])
def test_strings_go_does_not_parse_are_no_duration(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize("a, b, same", [
    ("5m", "5m0s", True), ("300s", "5m0s", True), ("20m", "20m0s", True), ("90m", "1h30m0s", True),
    ("0", "0s", True), ("5m", "6m0s", False), ("1h", "1h0m1s", False),
    ("later", "later", True), ("later", "soon", False), (300, "5m0s", False), (300, 300, True),
])
def test_same_duration(a, b, same):
    assert same_duration(a, b) is same


def _capi(kind: str, api: str, spec: dict) -> str:
    return json.dumps({"apiVersion": api, "kind": kind, "metadata": {"name": "wl", "namespace": "team"}, "spec": spec})


MD_SPEC = {"clusterName": "wl", "template": {"spec": {"clusterName": "wl", "bootstrap": {"dataSecretName": "x"},
                                                      "infrastructureRef": {"kind": "VSphereMachineTemplate",
                                                                            "name": "wl-worker"}}}}


def _md(timeouts: dict) -> str:
    spec = json.loads(json.dumps(MD_SPEC))
    spec["template"]["spec"].update(timeouts)
    return _capi("MachineDeployment", "cluster.x-k8s.io/v1beta1", spec)


def test_variant_08_durations_reencoded_by_the_webhook_are_not_drift():
    git = _md({"nodeDrainTimeout": "5m", "nodeVolumeDetachTimeout": "300s", "nodeDeletionTimeout": "10s"})
    live = _md({"nodeDrainTimeout": "5m0s", "nodeVolumeDetachTimeout": "5m0s", "nodeDeletionTimeout": "10s"})
    assert one(diff(git, live)).drifts == []
    mhc_git = _capi("MachineHealthCheck", "cluster.x-k8s.io/v1beta1", {
        "clusterName": "wl", "nodeStartupTimeout": "20m",
        "unhealthyConditions": [{"type": "Ready", "status": "False", "timeout": "300s"}]})
    mhc_live = _capi("MachineHealthCheck", "cluster.x-k8s.io/v1beta1", {
        "clusterName": "wl", "nodeStartupTimeout": "20m0s",
        "unhealthyConditions": [{"type": "Ready", "status": "False", "timeout": "5m0s"}]})
    assert one(diff(mhc_git, mhc_live)).drifts == []


def test_another_duration_is_drift():
    assert [(d.path_text, d.desired, d.live) for d in one(diff(_md({"nodeDrainTimeout": "5m"}),
                                                               _md({"nodeDrainTimeout": "10m0s"}))).drifts] == [
        ("spec.template.spec.nodeDrainTimeout", "5m", "10m0s")]


def test_kcp_machine_template_and_kubeadm_timeouts_and_cluster_topology_durations():
    kcp = lambda d, t: _capi("KubeadmControlPlane", "controlplane.cluster.x-k8s.io/v1beta1", {  # noqa: E731
        "replicas": 3, "version": "v1.29.3", "machineTemplate": {"nodeDrainTimeout": d},
        "kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"timeoutForControlPlane": t}}},
        "remediationStrategy": {"retryPeriod": d}})
    assert one(diff(kcp("2m", "240s"), kcp("2m0s", "4m0s"))).drifts == []
    assert len(one(diff(kcp("2m", "240s"), kcp("3m0s", "4m0s"))).drifts) == 2
    topo = lambda d: _capi("Cluster", "cluster.x-k8s.io/v1beta1", {"topology": {  # noqa: E731
        "class": "tkg", "version": "v1.29.3", "controlPlane": {"nodeDrainTimeout": d},
        "workers": {"machineDeployments": [{"class": "w", "name": "md-0", "nodeDrainTimeout": d}]}}})
    assert one(diff(topo("90s"), topo("1m30s"))).drifts == []


def test_tkc_node_pool_drain_timeout():
    tkc = lambda d: json.dumps({"apiVersion": "run.tanzu.vmware.com/v1alpha3", "kind": "TanzuKubernetesCluster",  # noqa: E731
                                "metadata": {"name": "tkc", "namespace": "team"},
                                "spec": {"topology": {"controlPlane": {"replicas": 1, "vmClass": "small",
                                                                       "storageClass": "gold"},
                                                      "nodePools": [{"name": "np-1", "replicas": 2, "vmClass": "small",
                                                                     "storageClass": "gold",
                                                                     "nodeDrainTimeout": d}]}}})
    assert one(diff(tkc("5m"), tkc("5m0s"))).drifts == []
    assert [d.path_text for d in one(diff(tkc("5m"), tkc("0s"))).drifts] == [
        "spec.topology.nodePools[name=np-1].nodeDrainTimeout"]


def test_a_duration_outside_the_rules_kinds_is_compared_exactly():
    cm = lambda v: json.dumps({"apiVersion": "v1", "kind": "ConfigMap",  # noqa: E731
                               "metadata": {"name": "c", "namespace": "n"}, "data": {"nodeDrainTimeout": v}})
    assert len(one(diff(cm("5m"), cm("5m0s"))).drifts) == 1
