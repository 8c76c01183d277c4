"""MachinePool (cluster.x-k8s.io, exp webhook): the defaulting webhook does what MachineDeployment's
does — v-prefixed version, replicas from the autoscaler annotations (or 1), ref namespaces, the
cluster-name label — plus minReadySeconds and nodeDeletionTimeout (variant 09)."""

from __future__ import annotations

import json

from tests.unit.drift_helpers import diff, one

MIN_MAX = {"cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size": "2",
           "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size": "6"}


def mp(spec_extra: dict, template_extra: dict, annotations: dict | None = None, labels: dict | None = None,
       managed: list | None = None) -> str:
    meta = {"name": "wl-mp-0", "namespace": "team"}
    for k, v in (("annotations", annotations), ("labels", labels), ("managedFields", managed)):
        if v:
            meta[k] = v
    template = {"clusterName": "wl", "version": "1.29.3", "bootstrap": {"configRef": {
        "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfig", "name": "wl-mp-0"}},
        "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "DockerMachinePool",
                              "name": "wl-mp-0"}}
    template = {**template, **template_extra}
    return json.dumps({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachinePool", "metadata": meta,
                       "spec": {"clusterName": "wl", "template": {"spec": template}, **spec_extra}})


def test_the_webhooks_defaults_are_not_drift():
    live_template = {"version": "v1.29.3", "nodeDeletionTimeout": "10s",
                     "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1",
                                                 "kind": "KubeadmConfig", "name": "wl-mp-0", "namespace": "team"}},
                     "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                           "kind": "DockerMachinePool", "name": "wl-mp-0", "namespace": "team"}}
    live = mp({"replicas": 1, "minReadySeconds": 0}, live_template, labels={"cluster.x-k8s.io/cluster-name": "wl"})
    assert one(diff(mp({}, {}), live)).drifts == []


def test_variant_09_replicas_owned_by_the_autoscaler_are_a_noted_conflict_not_drift():
    scaler = [{"manager": "cluster-autoscaler", "operation": "Update", "time": "2026-11-22T03:10:00Z",
               "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    obj = one(diff(mp({"replicas": 2}, {}, MIN_MAX), mp({"replicas": 5}, {"version": "v1.29.3"}, MIN_MAX,
                                                       managed=scaler)))
    assert obj.drifts == []
    assert any("autoscaler" in n and "spec.replicas" in n for n in obj.notes)


def test_another_version_and_replicas_set_by_hand_without_the_annotations_are_drift():
    scale = [{"manager": "kubectl-scale", "operation": "Update", "time": "2026-11-22T03:10:00Z",
              "subresource": "scale", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    obj = one(diff(mp({"replicas": 2}, {}), mp({"replicas": 5}, {"version": "v1.30.0"}, managed=scale)))
    assert sorted((d.path_text, d.change.value) for d in obj.drifts) == [
        ("spec.replicas", "modified"), ("spec.template.spec.version", "modified")]
