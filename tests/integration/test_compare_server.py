"""`compare: server` on the real control plane: server-side apply dry runs of the Git objects as
``driftd``, compared with live. A mutating webhook's value is not drift; an out-of-band edit is one
drift with the 409 conflict as evidence; without webhooks both modes give the same verdict; a user
without patch gets one notice and the client verdict; a field Git dropped is still reported."""

from __future__ import annotations

import json
import time
from pathlib import Path

from driftd.envtest.webhooks import admission_response

from .test_check import admin, apply_as_argocd, driftd, git, kubectl_edit_workers, make_repo, reader_kubeconfig, \
    seed_in

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels:
    team: shop
data:
  a: "1"
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: nginx:1.27
          ports:
            - containerPort: 8080
"""

KINDS = {"ConfigMap": ("", "v1"), "Service": ("", "v1"), "Deployment": ("apps", "v1"),
         "TanzuKubernetesCluster": ("run.tanzu.vmware.com", "v1alpha1")}


def config(tmp: Path, repo: Path, kubeconfig: Path | str, namespace: str, mode: str) -> Path:
    """A config like test_check's, in its own folder (its own audit trail), comparing in ``mode``."""
    folder = tmp / mode
    folder.mkdir(exist_ok=True)
    cfg = folder / "driftd.yaml"
    cfg.write_text(
        f"compare: {mode}\ninterval: 1s\ndatabase: {folder / 'driftd.db'}\nstate_dir: {folder / 'state'}\n"
        f"clusters:\n  - name: supervisor\n    kubeconfig: {kubeconfig}\n    timeout: 10s\n"
        f"sources:\n  - name: prod\n    repo: {repo}\n    branch: main\n    paths: [prod]\n"
        f"    cluster: supervisor\n    namespace: {namespace}\n"
        f"watch:\n  - {{group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}}\n")
    return cfg


def check(cfg: Path) -> dict:
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode in (0, 1, 2), proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert proc.returncode == {"in-sync": 0, "drift": 1}.get(report["verdict"], 2), proc.stdout + proc.stderr
    report["stderr"] = proc.stderr
    return report


def apply(kube, text: str, namespace: str, manager: str = "argocd-controller") -> dict:
    from driftd.yamlload import load_yaml
    obj = load_yaml(text)
    obj["metadata"]["namespace"] = namespace
    group, version = KINDS[obj["kind"]]
    return kube.apply(kube.kind_info(group, obj["kind"], version), obj, field_manager=manager, force=True)


def edit(kube, kind: str, namespace: str, name: str, change, manager: str = "kubectl-edit") -> None:
    """What ``kubectl edit`` does: GET, change, PUT (an Update by ``manager``)."""
    group, version = KINDS[kind]
    info = kube.kind_info(group, kind, version)
    obj = kube.get(info, namespace, name)
    change(obj)
    kube.update(info, obj, field_manager=manager)


def drifts(report: dict) -> dict[str, list[tuple]]:
    """Per object: its status and its drifts as (path, change, desired, live, class)."""
    return {f"{o['kind']}/{o['name']}": [o["status"]] + sorted(
        (d["path"], d["change"], json.dumps(d["desired"]), json.dumps(d["live"]), d["class"]) for d in o["drifts"])
        for o in report["objects"]}


def test_webhook_value_is_in_sync_and_an_out_of_band_edit_is_one_drift_with_its_conflict(
        control_plane, namespace, tmp_path):
    path = f"/mutate-server/{namespace}"

    def inject(review):   # a value Git never sets and no profile knows, on every write (dry runs too)
        obj = (review.get("request") or {}).get("object") or {}
        if "data" not in obj:
            return admission_response(review, patch=[{"op": "add", "path": "/data", "value": {"injected": "yes"}}])
        return admission_response(review, patch=[{"op": "add", "path": "/data/injected", "value": "yes"}])

    kube = admin(control_plane)
    control_plane.webhooks.add_handler(path, inject)
    mwc = f"inject-{namespace}"
    kube.request("POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", body={
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": mwc},
        "webhooks": [{
            "name": "inject.driftd.test", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "clientConfig": control_plane.webhooks.client_config(path),
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["configmaps"]}]}]})
    try:
        deadline = time.monotonic() + 15
        while True:   # the webhook configuration reaches the admission chain asynchronously
            probe = apply(kube, f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe-{time.monotonic_ns()}\n",
                          namespace, manager="probe")
            if (probe.get("data") or {}).get("injected") == "yes" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert probe["data"] == {"injected": "yes"}

        repo = make_repo(tmp_path / "repo", {"prod/cm.yaml": CONFIGMAP})
        synced = apply(kube, CONFIGMAP, namespace)
        assert synced["data"] == {"a": "1", "injected": "yes"}
        server_cfg = config(tmp_path, repo, control_plane.kubeconfig, namespace, "server")
        client_cfg = config(tmp_path, repo, control_plane.kubeconfig, namespace, "client")

        # The client comparison cannot know the webhook's key (ConfigMap data is Git's whole map) ...
        client = check(client_cfg)
        assert drifts(client)["ConfigMap/app-config"][1][:2] == ("data.injected", "added")
        # ... the server can: the sync would keep it, so right after the sync all is in sync.
        server = check(server_cfg)
        assert server["verdict"] == "in-sync", server
        assert server["runs"][0]["compare"] == {"ConfigMap": "server"}
        assert server["runs"][0]["errors"] == [] and not any("compare" in n for n in server["notices"])

        edit(kube, "ConfigMap", namespace, "app-config", lambda o: o["data"].update(a="2"))
        report = check(server_cfg)
        assert report["verdict"] == "drift"
        [obj] = report["objects"]
        [drift] = obj["drifts"]
        assert (drift["path"], drift["change"], drift["desired"], drift["live"], drift["class"]) == \
            ("data.a", "modified", "1", "2", "out-of-band")
        ev = drift["evidence"]
        assert (ev["manager"], ev["operation"]) == ("kubectl-edit", "Update")
        assert [(c["manager"], c["path"], c.get("operation")) for c in ev["conflicts"]] == \
            [("kubectl-edit", "data.a", "Update")]
        assert any(p == path and r["request"].get("dryRun") for p, r in control_plane.webhooks.requests)
    finally:
        kube.request("DELETE", f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{mwc}")
        control_plane.webhooks.remove_handler(path)
        kube.close()


def test_without_webhooks_client_and_server_mode_give_the_same_verdict(control_plane, namespace, tmp_path):
    files = {"prod/tkc.yaml": seed_in(namespace), "prod/cm.yaml": CONFIGMAP, "prod/svc.yaml": SERVICE,
             "prod/deploy.yaml": DEPLOYMENT}
    repo = make_repo(tmp_path / "repo", files)
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    for text in (CONFIGMAP, SERVICE, DEPLOYMENT):
        apply(kube, text, namespace)
    server_cfg = config(tmp_path, repo, control_plane.kubeconfig, namespace, "server")
    client_cfg = config(tmp_path, repo, control_plane.kubeconfig, namespace, "client")

    server, client = check(server_cfg), check(client_cfg)
    assert (server["verdict"], client["verdict"]) == ("in-sync", "in-sync"), (server, client)
    assert server["runs"][0]["compare"] == {"ConfigMap": "server", "Service": "server", "Deployment.apps": "server",
                                            "TanzuKubernetesCluster.run.tanzu.vmware.com": "server"}
    assert client["runs"][0]["compare"]["ConfigMap"] == "client"

    kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
    edit(kube, "ConfigMap", namespace, "app-config", lambda o: o["data"].update(extra="by hand"))
    edit(kube, "Deployment", namespace, "web", lambda o: o["spec"].update(replicas=5), manager="kubectl-scale")
    edit(kube, "Service", namespace, "web", lambda o: o["spec"]["ports"][0].update(targetPort=9090))
    server, client = check(server_cfg), check(client_cfg)
    assert server["verdict"] == client["verdict"] == "drift"
    assert drifts(server) == drifts(client)
    assert drifts(server) == {
        "ConfigMap/app-config": ["drifted", ("data.extra", "added", "null", '"by hand"', "out-of-band")],
        "Deployment/web": ["drifted", ("spec.replicas", "modified", "2", "5", "out-of-band")],
        "Service/web": ["drifted", ("spec.ports[port=80,protocol=TCP].targetPort", "modified", "8080", "9090",
                                    "out-of-band")],
        "TanzuKubernetesCluster/prod-demo01": ["drifted", ("spec.topology.workers.count", "modified", "1", "3",
                                                           "out-of-band")]}
    # only the server mode knows the 409 of each edited field
    conflicts = {f"{o['kind']}/{o['name']}": [(c["manager"], c["path"]) for d in o["drifts"]
                                              for c in d["evidence"].get("conflicts", [])] for o in server["objects"]}
    assert conflicts == {"ConfigMap/app-config": [],     # a key Git does not declare: no apply conflict
                         "Deployment/web": [("kubectl-scale", "spec.replicas")],
                         "Service/web": [("kubectl-edit", "spec.ports[port=80,protocol=TCP].targetPort")],
                         "TanzuKubernetesCluster/prod-demo01": [("kubectl-edit", "spec.topology.workers.count")]}
    assert not any("conflicts" in d["evidence"] for o in client["objects"] for d in o["drifts"])
    kube.close()


def test_user_without_patch_gets_one_notice_and_the_client_verdict(control_plane, namespace, tmp_path):
    files = {"prod/a.yaml": seed_in(namespace, "demo-a"), "prod/b.yaml": seed_in(namespace, "demo-b")}
    repo = make_repo(tmp_path / "repo", files)
    kube = admin(control_plane)
    for name in ("demo-a", "demo-b"):
        apply_as_argocd(kube, seed_in(namespace, name))
    kubectl_edit_workers(kube, namespace, "demo-a", 3)
    reader = reader_kubeconfig(control_plane, f"reader-{namespace}")   # get and list, no patch
    server_cfg = config(tmp_path, repo, reader, namespace, "server")
    client_cfg = config(tmp_path, repo, reader, namespace, "client")

    server, client = check(server_cfg), check(client_cfg)
    assert server["verdict"] == client["verdict"] == "drift"
    assert server["errors"] == [] and server["runs"][0]["errors"] == []
    assert drifts(server) == drifts(client)
    assert drifts(server)["TanzuKubernetesCluster/demo-a"][1][:4] == \
        ("spec.topology.workers.count", "modified", "1", "3")
    [notice] = [n for n in server["runs"][0]["notices"] if n.startswith("compare: server")]
    assert "TanzuKubernetesCluster.run.tanzu.vmware.com" in notice and "403" in notice and "client-side" in notice
    assert server["runs"][0]["compare"] == {"TanzuKubernetesCluster.run.tanzu.vmware.com": "client"}
    # check prints the notice; the log line (once per process, at info) is for the daemon's journal
    assert "server_compare_forbidden" not in server["stderr"]

    shown = driftd("report", "runs", "--config", str(server_cfg), "--output", "json")
    assert shown.returncode == 0, shown.stderr
    [run] = json.loads(shown.stdout)["runs"]
    assert run["compare"] == {"TanzuKubernetesCluster.run.tanzu.vmware.com": "client"}
    assert notice in run["notices"]
    kube.close()


def test_field_removed_from_git_still_live_is_reported_in_server_mode(control_plane, namespace, tmp_path):
    first = CONFIGMAP.replace("    team: shop\n", "    team: shop\n    tier: web\n")
    repo = make_repo(tmp_path / "repo", {"prod/cm.yaml": first})
    kube = admin(control_plane)
    apply(kube, first, namespace)                       # synced by argocd-controller (server-side apply)
    (repo / "prod" / "cm.yaml").write_text(CONFIGMAP)   # Git drops the label; no sync since
    git(repo, "commit", "-q", "-am", "drop the tier label")
    server_cfg = config(tmp_path, repo, control_plane.kubeconfig, namespace, "server")

    report = check(server_cfg)
    assert report["verdict"] == "drift"
    [drift] = report["objects"][0]["drifts"]
    assert (drift["path"], drift["change"], drift["desired"], drift["live"], drift["class"]) == \
        ("metadata.labels.tier", "added", None, "web", "removed-in-git")
    assert drift["evidence"]["changed_by"]["subject"] == "drop the tier label"
    kube.close()


def test_a_dry_run_the_server_rejects_is_an_error_for_that_object_only(control_plane, namespace, tmp_path):
    other = CONFIGMAP.replace("name: app-config", "name: other")
    repo = make_repo(tmp_path / "repo", {"prod/svc.yaml": SERVICE, "prod/cm.yaml": other})
    kube = admin(control_plane)
    apply(kube, SERVICE, namespace)
    apply(kube, other, namespace)
    (repo / "prod" / "svc.yaml").write_text(SERVICE.replace("spec:\n", "spec:\n  type: NotAType\n"))
    git(repo, "commit", "-q", "-am", "a Service type the API server refuses")
    server_cfg = config(tmp_path, repo, control_plane.kubeconfig, namespace, "server")

    report = check(server_cfg)
    assert report["verdict"] == "error"
    assert [(o["kind"], o["name"], o["status"]) for o in report["objects"]] == [("ConfigMap", "other", "in-sync")]
    [error] = report["runs"][0]["errors"]
    assert f"Service {namespace}/web" in error["message"] and "422" in error["message"]
    kube.close()
