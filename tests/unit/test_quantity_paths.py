"""Quantities outside resources.limits/requests: HorizontalPodAutoscaler metric targets (rule
``hpa-metric-quantities``, variant 06) and the divisor of a resourceFieldRef (``resource-quantities``,
variant 07) are stored in canonical form; the same amount is not drift, another amount is."""

from __future__ import annotations

import json

import pytest

from tests.unit.drift_helpers import diff, one


def hpa(metric: dict) -> str:
    return json.dumps({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": "api", "namespace": "shop"},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                                "minReplicas": 2, "maxReplicas": 10, "metrics": [metric]}})


def _metric(source: str, target: dict) -> dict:
    body = {"resource": {"name": "memory"}, "containerResource": {"name": "memory", "container": "app"},
            "pods": {"metric": {"name": "rps"}}, "external": {"metric": {"name": "queue"}},
            "object": {"metric": {"name": "hits"},
                       "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "api"}}}[source]
    return {"type": source[0].upper() + source[1:], source: dict(body, target=target)}


@pytest.mark.parametrize("source", ["resource", "containerResource", "pods", "object", "external"])
@pytest.mark.parametrize("field, git, live", [("averageValue", "0.5Gi", "512Mi"), ("averageValue", 100, "100"),
                                             ("value", "1500m", "1500m"), ("value", "1k", "1000")])
def test_the_same_hpa_target_amount_in_another_spelling_is_not_drift(source, field, git, live):
    kind = "AverageValue" if field == "averageValue" else "Value"
    want = hpa(_metric(source, {"type": kind, field: git}))
    have = hpa(_metric(source, {"type": kind, field: live}))
    assert one(diff(want, have)).drifts == []


def test_variant_06_and_another_hpa_target_amount_is_drift():
    want = hpa(_metric("pods", {"type": "AverageValue", "averageValue": 100}))
    have = hpa(_metric("pods", {"type": "AverageValue", "averageValue": "200"}))
    assert [(d.path_text, d.change.value) for d in one(diff(want, have)).drifts] == [
        ("spec.metrics[0].pods.target.averageValue", "modified")]


def _jvm(env_divisor: object, volume_divisor: object) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "jvm", "namespace": "shop"},
                       "spec": {"selector": {"matchLabels": {"app": "jvm"}}, "template": {
                           "metadata": {"labels": {"app": "jvm"}},
                           "spec": {"containers": [{"name": "app", "image": "shop/jvm:1", "env": [
                               {"name": "MEM_LIMIT_MB", "valueFrom": {"resourceFieldRef": {
                                   "resource": "limits.memory", "divisor": env_divisor}}}]}],
                               "volumes": [{"name": "podinfo", "downwardAPI": {"items": [
                                   {"path": "cpu", "resourceFieldRef": {"containerName": "app",
                                                                        "resource": "limits.cpu",
                                                                        "divisor": volume_divisor}}]}}]}}}})


@pytest.mark.parametrize("git, live", [(("1024Ki", 1), ("1Mi", "1")), (("1Mi", "1m"), ("1024Ki", "0.001"))])
def test_variant_07_a_resource_field_ref_divisor_in_another_spelling_is_not_drift(git, live):
    assert one(diff(_jvm(*git), _jvm(*live))).drifts == []


def test_another_divisor_is_drift():
    assert [d.path_text for d in one(diff(_jvm("1Mi", "1"), _jvm("1Gi", "1m"))).drifts] == [
        "spec.template.spec.containers[name=app].env[name=MEM_LIMIT_MB].valueFrom.resourceFieldRef.divisor",
        "spec.template.spec.volumes[name=podinfo].downwardAPI.items[0].resourceFieldRef.divisor"]
