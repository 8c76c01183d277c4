"""Resource quantities are compared as amounts where the API server canonicalises them (built-in
kinds): 0.5 == 500m, 1000M == 1G, 2.5Gi == 2560Mi, the number 1 == "1"; 1Gi and 1G stay different.
Case 06 is the handed example; these are other manifests of the same kind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from driftd.model import Status
from driftd.quantity import parse_quantity, same_quantity
from tests.unit.drift_helpers import by_path, diff, one, summary


@pytest.mark.parametrize("a, b", [
    ("0.5", "500m"), (0.5, "500m"), ("1000M", "1G"), ("2.5Gi", "2560Mi"), (1, "1"), ("1000m", "1"),
    ("1024Mi", "1Gi"), ("0.5Gi", "512Mi"), ("10240Mi", "10Gi"), ("1e3", "1k"), ("1E3", "1k"),
    ("100Ki", "102400"), ("1.5", "1500m"), (2, "2000m"), ("0", "0m"), (".5", "500m"), ("1e-3", "1m"),
])
def test_equal_amounts_in_other_forms_are_the_same_quantity(a, b):
    assert same_quantity(a, b) and same_quantity(b, a)


@pytest.mark.parametrize("a, b", [("1Gi", "1G"), ("1M", "1Mi"), ("500m", "0.05"), ("1", "1m"), ("1k", "1Ki"),
                                  ("2", "1")])
def test_different_amounts_are_different_quantities(a, b):
    assert not same_quantity(a, b)


@pytest.mark.parametrize("value", ["abc", "1 Gi", "1gi", "Gi", "", None, True, "1.2.3", [1]])
def test_values_that_are_not_quantities_never_compare_equal(value):
    assert parse_quantity(value) is None
    assert not same_quantity(value, value)


def test_binary_and_decimal_amounts_are_exact():
    assert parse_quantity("1Gi") == Decimal(1073741824)
    assert parse_quantity("1G") == Decimal(1000000000)
    assert parse_quantity("250m") == Decimal("0.25")


def _deployment(resources: str, managed: str = "") -> str:
    return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: api
          namespace: shop
{managed}
        spec:
          selector: {{matchLabels: {{app: api}}}}
          template:
            metadata: {{labels: {{app: api}}}}
            spec:
              containers:
              - name: api
                image: shop/api:2.4.1
                resources:
{resources}
        """


def test_canonical_forms_in_a_deployment_are_not_drift():
    git = _deployment("""\
                  requests: {cpu: 0.25, memory: 1000M, ephemeral-storage: 2.5Gi}
                  limits: {cpu: 1, memory: 1536Mi, nvidia.com/gpu: 1}""")
    live = _deployment("""\
                  requests: {cpu: 250m, memory: 1G, ephemeral-storage: 2560Mi}
                  limits: {cpu: "1", memory: 1536Mi, nvidia.com/gpu: "1"}""")
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_1gi_in_git_and_1g_live_is_drift_with_both_values():
    git = _deployment("""\
                  limits: {memory: 1Gi}""")
    managed = """\
          managedFields:
          - manager: kubectl-set
            operation: Update
            time: "2026-11-30T10:00:00Z"
            fieldsType: FieldsV1
            fieldsV1:
              f:spec: {f:template: {f:spec: {f:containers: {'k:{"name":"api"}': {f:resources: {f:limits: {f:memory: {}}}}}}}}"""
    live = _deployment("""\
                  limits: {memory: 1G}""", managed)
    obj = one(diff(git, live))
    assert summary(obj) == [("spec.template.spec.containers[name=api].resources.limits.memory", "modified",
                             "1Gi", "1G", "out-of-band")]
    assert by_path(obj)["spec.template.spec.containers[name=api].resources.limits.memory"].evidence.manager == \
        "kubectl-set"


def test_different_cpu_amount_is_drift_even_in_canonical_forms():
    git = _deployment("""\
                  requests: {cpu: 0.5}""")
    live = _deployment("""\
                  requests: {cpu: 400m}""")
    assert summary(one(diff(git, live))) == [
        ("spec.template.spec.containers[name=api].resources.requests.cpu", "modified", 0.5, "400m", "unknown")]


def _statefulset(storage: str, memory: str) -> str:
    return f"""
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {{name: pg, namespace: db}}
        spec:
          serviceName: pg
          selector: {{matchLabels: {{app: pg}}}}
          template:
            metadata: {{labels: {{app: pg}}}}
            spec:
              containers:
              - name: pg
                image: postgres:16
                resources: {{requests: {{memory: {memory}}}}}
          volumeClaimTemplates:
          - metadata: {{name: pgdata}}
            spec:
              accessModes: [ReadWriteOnce]
              resources: {{requests: {{storage: {storage}}}}}
        """


def test_volume_claim_template_storage_in_another_unit_is_not_drift():
    assert one(diff(_statefulset("20480Mi", "0.5Gi"), _statefulset("20Gi", "512Mi"))).status is Status.IN_SYNC


def test_volume_claim_template_storage_change_is_drift_on_the_template_item():
    obj = one(diff(_statefulset("20Gi", "512Mi"), _statefulset("20G", "512Mi")))
    assert summary(obj) == [("spec.volumeClaimTemplates[name=pgdata].spec.resources.requests.storage", "modified",
                             "20Gi", "20G", "unknown")]


def test_quantity_fields_of_a_custom_resource_are_compared_exactly():
    # A CRD stores what it is sent: "1000m" stays "1000m", so "1" in live is a different value.
    git = """
        apiVersion: example.com/v1
        kind: Worker
        metadata: {name: w, namespace: ns}
        spec: {resources: {limits: {cpu: 1000m}}}
        """
    live = """
        apiVersion: example.com/v1
        kind: Worker
        metadata: {name: w, namespace: ns}
        spec: {resources: {limits: {cpu: "1"}}}
        """
    assert summary(one(diff(git, live))) == [("spec.resources.limits.cpu", "modified", "1000m", "1", "unknown")]
