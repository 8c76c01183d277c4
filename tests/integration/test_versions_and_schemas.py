"""A cycle reads what the API server knows about each kind: every object at the version Git declares
it in (a v1alpha1 -> v1alpha3 migration half done is no drift), and the CRD's structural schema
(list-map-keys, free-form fields). A cluster whose kubeconfig is not even YAML is an error of its
own sources only."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from driftd.kubesource import KubeError
from tests.integration.test_check import TKC, admin, apply_as_argocd, driftd, make_repo, rows, seed_in, write_config

V1A3 = """\
apiVersion: run.tanzu.vmware.com/v1alpha3
kind: TanzuKubernetesCluster
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  topology:
    controlPlane: {{replicas: 1, vmClass: best-effort-small, storageClass: gold}}
    nodePools:
    - {{name: workers, replicas: {replicas}, vmClass: best-effort-large, storageClass: gold}}
  distribution: {{version: 1.21.6}}
"""


def check(cfg: Path) -> tuple[int, dict]:
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def drifts(report: dict) -> list[tuple]:
    return sorted((o["name"], d["path"], d["change"], d["desired"], d["live"], d["evidence"].get("manager"))
                  for o in report["objects"] for d in o["drifts"])


def test_tkcs_at_two_versions_in_git_are_each_compared_at_their_own_version(control_plane, namespace, tmp_path):
    kube = admin(control_plane)
    v1a3 = V1A3.format(name="prod-demo02", namespace=namespace, replicas=5)
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace),
                                         "prod/tkc-prod-demo02.yaml": v1a3})
    apply_as_argocd(kube, seed_in(namespace))
    a3 = kube.kind_info(*TKC, "v1alpha3")
    kube.apply(a3, yaml.safe_load(v1a3), "argocd-controller", force=True)
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace)

    code, report = check(cfg)
    assert (code, report["verdict"], drifts(report)) == (0, "in-sync", [])
    assert {o["name"]: o["apiVersion"] for o in report["objects"]} == {
        "prod-demo01": "run.tanzu.vmware.com/v1alpha1", "prod-demo02": "run.tanzu.vmware.com/v1alpha3"}

    # a person scales the v1alpha3 pool: one drift, in v1alpha3 terms, with the person's manager
    live = kube.get(a3, namespace, "prod-demo02")
    live["spec"]["topology"]["nodePools"][0]["replicas"] = 7
    kube.update(a3, live, field_manager="kubectl-edit")
    code, report = check(cfg)
    assert code == 1
    assert drifts(report) == [("prod-demo02", "spec.topology.nodePools[name=workers].replicas", "modified", 5, 7,
                               "kubectl-edit")]
    kube.close()


def test_an_object_that_cannot_be_read_at_its_git_version_is_an_error_not_a_drift(control_plane, namespace, tmp_path):
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    apply_as_argocd(kube, seed_in(namespace, "prod-demo02"))
    future = seed_in(namespace, "prod-demo02").replace("run.tanzu.vmware.com/v1alpha1", "run.tanzu.vmware.com/v1alpha9")
    repo = make_repo(tmp_path / "repo", {"prod/a.yaml": seed_in(namespace), "prod/b.yaml": future})
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace)
    code, report = check(cfg)
    assert (code, report["verdict"]) == (2, "error")
    assert {o["name"]: o["status"] for o in report["objects"]} == {"prod-demo01": "in-sync"}
    [err] = report["runs"][0]["errors"]
    assert "run.tanzu.vmware.com/v1alpha9 (prod/b.yaml:2)" in err["message"] and "not served" in err["message"]
    assert rows(tmp_path / "driftd.db", "select name, state from drift_events") == []
    kube.close()


GROUP = "net.driftd.test"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gateways.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"kind": "Gateway", "plural": "gateways", "singular": "gateway", "listKind": "GatewayList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "listeners": {"type": "array", "x-kubernetes-list-type": "map",
                                   "x-kubernetes-list-map-keys": ["host", "port"],
                                   "items": {"type": "object", "required": ["host", "port"], "properties": {
                                       "host": {"type": "string"}, "port": {"type": "integer"},
                                       "weight": {"type": "integer"}}}},
                     "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]},
}

GATEWAY = """\
apiVersion: net.driftd.test/v1
kind: Gateway
metadata: {{name: edge, namespace: {namespace}}}
spec:
  listeners:
  - {{host: a.example.com, port: 443, weight: 1}}
  - {{host: a.example.com, port: 80, weight: 1}}
  values: {{tls: {{enabled: false}}, retries: 0}}
"""


def _install_gateway_crd(kube) -> None:
    try:
        kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=CRD)
    except KubeError as exc:   # installed by an earlier run of this test in the session
        assert exc.status == 409, exc
    deadline = time.monotonic() + 30
    while True:   # a new CRD is served a moment after it is created
        kube.forget_discovery()
        try:
            kube.kind_info(GROUP, "Gateway", "v1")
            return
        except KubeError:
            assert time.monotonic() < deadline, "the Gateway CRD was not served within 30 s"
            time.sleep(0.2)


def test_the_crds_list_map_keys_and_free_form_fields_decide_on_the_real_server(control_plane, namespace, tmp_path):
    kube = admin(control_plane)
    _install_gateway_crd(kube)
    gw = kube.kind_info(GROUP, "Gateway", "v1")
    text = GATEWAY.format(namespace=namespace)
    kube.apply(gw, yaml.safe_load(text), "argocd-controller", force=True)
    repo = make_repo(tmp_path / "repo", {"prod/gateway.yaml": text})
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace,
                       f"  - {{group: {GROUP}, kind: Gateway}}\n")
    code, report = check(cfg)
    assert (code, drifts(report)) == (0, [])

    # a controller rewrites the listeners in another order: items matched by (host, port), no drift
    live = kube.get(gw, namespace, "edge")
    live["spec"]["listeners"].reverse()
    kube.update(gw, live, field_manager="gateway-controller")
    assert [x["port"] for x in kube.get(gw, namespace, "edge")["spec"]["listeners"]] == [80, 443]
    code, report = check(cfg)
    assert (code, drifts(report)) == (0, [])

    # a person drops tls.enabled: false from the free-form values: a value the cluster no longer has
    live = kube.get(gw, namespace, "edge")
    del live["spec"]["values"]["tls"]["enabled"]
    kube.update(gw, live, field_manager="kubectl-edit")
    code, report = check(cfg)
    assert code == 1
    assert drifts(report) == [("edge", "spec.values.tls.enabled", "removed", False, None, None)]
    assert not any("CRD schemas not readable" in n for n in report["runs"][0]["notices"])

    # the same check as a user who may read Gateways but not CRDs: told once, profiles only
    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
              "metadata": {"name": f"gw-read-{namespace}"},
              "rules": [{"apiGroups": [GROUP], "resources": ["*"], "verbs": ["get", "list"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": f"gw-read-{namespace}"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": f"gw-{namespace}"}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": f"gw-read-{namespace}"}}
    kube.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", body=reader)
    kube.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body=binding)
    limited = write_config(tmp_path, repo, control_plane.add_user(f"gw-{namespace}"), namespace,
                           f"  - {{group: {GROUP}, kind: Gateway}}\n")
    limited.write_text(limited.read_text().replace("watch:\n  - {group: run.tanzu.vmware.com, kind: "
                                                   "TanzuKubernetesCluster}\n", "watch:\n"))
    code, report = check(limited)
    [notice] = [n for n in report["runs"][0]["notices"] if "CRD schemas not readable" in n]
    assert "Gateway.net.driftd.test (403)" in notice
    assert report["runs"][0]["errors"] == []
    kube.close()


def test_a_kubeconfig_that_is_not_yaml_is_an_error_of_its_cluster_only(control_plane, namespace, tmp_path):
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    garbage = tmp_path / "garbage.kubeconfig"
    garbage.write_text("hello: [\n")
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(
        f"database: {tmp_path / 'driftd.db'}\nstate_dir: {tmp_path / 'state'}\n"
        f"clusters:\n  - {{name: supervisor, kubeconfig: {control_plane.kubeconfig}, timeout: 5s}}\n"
        f"  - {{name: broken, kubeconfig: {garbage}}}\n"
        f"sources:\n  - {{name: prod, repo: {repo}, paths: [prod], cluster: supervisor, namespace: {namespace}}}\n"
        f"  - {{name: lab, repo: {repo}, paths: [prod], cluster: broken, namespace: {namespace}}}\n"
        "watch:\n  - {group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}\n")
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    runs = {r["source"]: r for r in json.loads(proc.stdout)["runs"]}
    assert runs["prod"]["verdict"] == "in-sync"
    [err] = runs["lab"]["errors"]
    assert f"cannot load {garbage}" in err["message"]
    assert sorted(rows(tmp_path / "driftd.db", "select source, verdict from runs")) == [
        ("lab", "error"), ("prod", "in-sync")]
    kube.close()
