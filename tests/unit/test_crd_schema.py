"""What a CRD's structural schema changes in a verdict: list-map-keys match list items by their keys,
and free-form values (x-kubernetes-preserve-unknown-fields) are compared exactly. The same inputs
without the schema show that the schema is what decides."""

from __future__ import annotations

from click.testing import CliRunner

from driftd.cli import main
from driftd.model import Status
from driftd.paths import parse
from driftd.schema import CrdSchemas
from tests.unit.drift_helpers import diff, one, summary

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.net.example.com}
spec:
  group: net.example.com
  names: {kind: Gateway, plural: gateways}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              listeners:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [host, port]
                items:
                  type: object
                  properties:
                    host: {type: string}
                    port: {type: integer}
                    weight: {type: integer}
              values:
                type: object
                x-kubernetes-preserve-unknown-fields: true
              limits:
                type: object
                additionalProperties:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
"""


def gateway(listeners: str = "[]", values: str = "{}", managed: str = "") -> str:
    return f"""
        apiVersion: net.example.com/v1
        kind: Gateway
        metadata:
          name: edge
          namespace: net
          {managed}
        spec:
          listeners: {listeners}
          values: {values}
        """


A = "{host: a.example.com, port: 443, weight: 1}"
B = "{host: a.example.com, port: 80, weight: 1}"
C = "{host: b.example.com, port: 443, weight: 5}"


def test_a_map_list_reordered_is_not_drift_with_the_schema_keys():
    git, live = gateway(f"[{A}, {B}, {C}]"), gateway(f"[{C}, {A}, {B}]")
    assert one(diff(git, live, crds=CRD)).status is Status.IN_SYNC
    # without the schema the items have no name: compared by position, every item differs
    assert one(diff(git, live)).status is Status.DRIFTED


def test_a_change_in_a_map_list_is_reported_on_the_one_item_by_its_keys():
    git = gateway(f"[{A}, {B}]")
    live = gateway(f"[{B}, {{host: a.example.com, port: 443, weight: 3}}]")
    assert summary(one(diff(git, live, crds=CRD))) == [
        ("spec.listeners[host=a.example.com,port=443].weight", "modified", 1, 3, "unknown")]


def test_a_false_or_zero_in_a_free_form_value_is_a_value_the_cluster_lacks():
    git = gateway(values="{tls: {enabled: false}, retries: 0, name: edge}")
    live = gateway(values="{tls: {}, name: edge}")
    assert summary(one(diff(git, live, crds=CRD))) == [
        ("spec.values.retries", "removed", 0, None, "unknown"),
        ("spec.values.tls.enabled", "removed", False, None, "unknown")]
    # without the schema, false and 0 read as omitted defaults (omitempty), which they are in typed fields
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_a_free_form_value_keeps_json_types_and_list_order():
    git = gateway(values='{port: 8080, hosts: [a, b], ratio: "0.5"}')
    live = gateway(values='{port: "8080", hosts: [b, a], ratio: 500m}')
    assert summary(one(diff(git, live, crds=CRD))) == [
        ("spec.values.hosts", "modified", ["a", "b"], ["b", "a"], "unknown"),
        ("spec.values.port", "modified", 8080, "8080", "unknown"),
        ("spec.values.ratio", "modified", "0.5", "500m", "unknown")]


def test_free_form_under_additional_properties_and_typed_fields_beside_it():
    schemas = CrdSchemas.from_crds([__import__("yaml").safe_load(CRD)])
    hints = schemas.hints("net.example.com", "Gateway", "net.example.com/v1")
    assert hints is not None and schemas.hints("net.example.com", "Gateway", "v2") is None
    assert hints.free_form(parse("spec.values"))
    assert hints.free_form(parse("spec.values.a.b[0]"))
    assert hints.free_form(parse("spec.limits.cpu"))             # each map value is free-form
    assert not hints.free_form(parse("spec.limits"))
    assert not hints.free_form(parse("spec.listeners[0].weight"))
    assert not hints.free_form(parse('metadata.labels["app"]'))
    assert hints.list_keys(parse("spec.listeners")) == ("host", "port")
    assert hints.list_keys(parse("spec.values")) is None


def test_a_person_adding_a_key_to_a_free_form_value_is_drift_a_controller_adding_one_is_not():
    owned = ("managedFields: [{manager: kubectl-edit, operation: Update, time: '2026-12-01T10:00:00Z', "
             "fieldsType: FieldsV1, fieldsV1: {'f:spec': {'f:values': {'f:debug': {}}}}}]")
    git = gateway(values="{name: edge}")
    assert summary(one(diff(git, gateway(values="{name: edge, debug: true}", managed=owned), crds=CRD))) == [
        ("spec.values.debug", "added", None, True, "out-of-band")]
    assert one(diff(git, gateway(values="{name: edge, debug: true}"), crds=CRD)).status is Status.IN_SYNC


CLUSTER = """
    apiVersion: cluster.x-k8s.io/v1beta1
    kind: Cluster
    metadata: {{name: wl, namespace: team}}
    spec:
      topology:
        class: tanzukubernetescluster
        version: v1.29.3
        variables:
        - {{name: vmClass, value: best-effort-small}}
        - {{name: proxy, value: {value}}}
    """


def test_a_cluster_topology_variable_value_is_compared_exactly_without_the_crd():
    git = CLUSTER.format(value="{enabled: false, port: 3128}")
    live = CLUSTER.format(value="{port: '3128'}")
    assert summary(one(diff(git, live))) == [
        ("spec.topology.variables[name=proxy].value.enabled", "removed", False, None, "unknown"),
        ("spec.topology.variables[name=proxy].value.port", "modified", 3128, "3128", "unknown")]
    assert one(diff(git, live, config="normalization: {disable: [capi-topology-variable-values]}\n")).drifts[0] \
        .path_text == "spec.topology.variables[name=proxy].value.port"


def test_diff_takes_crds_from_files(tmp_path):
    (tmp_path / "crd.yaml").write_text(CRD)
    (tmp_path / "git.yaml").write_text(gateway(f"[{A}, {B}]").replace("\n        ", "\n"))
    (tmp_path / "live.yaml").write_text(gateway(f"[{B}, {A}]").replace("\n        ", "\n"))
    args = ["diff", str(tmp_path / "git.yaml"), str(tmp_path / "live.yaml")]
    assert CliRunner().invoke(main, [*args, "--crd", str(tmp_path / "crd.yaml")]).exit_code == 0
    assert CliRunner().invoke(main, args).exit_code == 1
    res = CliRunner().invoke(main, [*args, "--crd", str(tmp_path / "git.yaml")])
    assert res.exit_code == 2 and "no CustomResourceDefinition with a schema" in res.output


def test_a_removed_variable_shows_its_empty_free_form_value_as_git_holds_it():
    git = CLUSTER.format(value="{port: 3128}").replace(
        "- {name: vmClass, value: best-effort-small}", "- {name: vmClass, value: best-effort-small}\n        - {name: ntp, value: ''}")
    live = CLUSTER.format(value="{port: 3128}")
    assert summary(one(diff(git, live))) == [
        ("spec.topology.variables[name=ntp]", "removed", {"name": "ntp", "value": ""}, None, "unknown")]


def test_an_empty_string_a_person_adds_to_a_free_form_value_is_drift():
    owned = ("managedFields: [{manager: kubectl-edit, operation: Update, time: '2026-12-01T10:00:00Z', "
             "fieldsType: FieldsV1, fieldsV1: {'f:spec': {'f:values': {'f:banner': {}}}}}]")
    obj = one(diff(gateway(values="{name: edge}"), gateway(values="{name: edge, banner: ''}", managed=owned), crds=CRD))
    assert summary(obj) == [("spec.values.banner", "added", None, "", "out-of-band")]
