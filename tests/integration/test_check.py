"""`driftd check` end to end on the real control plane: Git repository -> apply as argocd-controller ->
out-of-band kubectl edit -> exactly one drift -> audit trail -> resolved after the fix; and every
failure (bad YAML, unreachable API server, missing CRD, forbidden LIST) is a clear error, exit 2,
with no drift written."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from driftd.config import ClusterConfig
from driftd.envtest.controlplane import free_port
from driftd.kubesource import KubeSource
from driftd.yamlload import load_yaml

REPO = Path(__file__).resolve().parents[2]
SEED = (REPO / "config" / "examples" / "prod" / "tkc-prod-demo01.yaml").read_text()
TKC = ("run.tanzu.vmware.com", "TanzuKubernetesCluster")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Admin", "-c", "user.email=admin@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def seed_in(namespace: str, name: str = "prod-demo01") -> str:
    return SEED.replace("namespace: prod", f"namespace: {namespace}").replace("name: prod-demo01", f"name: {name}")


def write_config(tmp: Path, repo: Path, kubeconfig: Path | str, namespace: str, extra: str = "") -> Path:
    cfg = tmp / "driftd.yaml"
    cfg.write_text(
        f"interval: 1s\ndatabase: {tmp / 'driftd.db'}\nstate_dir: {tmp / 'state'}\n"
        f"clusters:\n  - name: supervisor\n    kubeconfig: {kubeconfig}\n    timeout: 5s\n"
        f"sources:\n  - name: prod\n    repo: {repo}\n    branch: main\n    paths: [prod]\n"
        f"    cluster: supervisor\n    namespace: {namespace}\n"
        f"watch:\n  - {{group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}}\n{extra}")
    return cfg


def driftd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "driftd.cli", *args], capture_output=True, text=True, timeout=120)


def admin(env) -> KubeSource:
    return KubeSource.connect(ClusterConfig("supervisor", str(env.kubeconfig)))


def apply_as_argocd(kube: KubeSource, text: str) -> None:
    obj = load_yaml(text)
    kube.apply(kube.kind_info(*TKC, "v1alpha1"), obj, field_manager="argocd-controller", force=True)


def kubectl_edit_workers(kube: KubeSource, namespace: str, name: str, count: int) -> None:
    info = kube.kind_info(*TKC, "v1alpha1")
    obj = kube.get(info, namespace, name)
    obj["spec"]["topology"]["workers"]["count"] = count
    kube.update(info, obj, field_manager="kubectl-edit")


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def reader_kubeconfig(env, name: str) -> Path:
    """An X509 user (like the seed's argocd-admin) allowed to read the Tanzu and Cluster API kinds."""
    kube = admin(env)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"{name}-read"},
            "rules": [{"apiGroups": ["run.tanzu.vmware.com", "cluster.x-k8s.io"], "resources": ["*"],
                       "verbs": ["get", "list"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": f"{name}-read"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{name}-read"}}
    kube.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", body=role)
    kube.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body=binding)
    kube.close()
    return env.add_user(name)


def test_out_of_band_edit_is_exactly_one_drift_then_resolved(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    cfg = write_config(tmp_path, repo, reader_kubeconfig(control_plane, f"reader-{namespace}"), namespace)

    synced = driftd("check", "--config", str(cfg), "--output", "json")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert json.loads(synced.stdout)["verdict"] == "in-sync"

    kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "drift"
    [obj] = report["objects"]
    assert (obj["kind"], obj["namespace"], obj["name"], obj["status"]) == \
        ("TanzuKubernetesCluster", namespace, "prod-demo01", "drifted")
    [drift] = obj["drifts"]
    assert drift["path"] == "spec.topology.workers.count"
    assert (drift["change"], drift["desired"], drift["live"]) == ("modified", 1, 3)
    assert drift["class"] == "out-of-band"
    assert drift["evidence"]["manager"] == "kubectl-edit"
    assert drift["evidence"]["operation"] == "Update"

    db = tmp_path / "driftd.db"
    assert [r[0] for r in rows(db, "select verdict from runs order by id")] == ["in-sync", "drift"]
    assert rows(db, "select count(*) from snapshots where name = 'prod-demo01'")[0][0] == 2
    assert rows(db, "select state, status from drift_events") == [("open", "drifted")]
    assert rows(db, "select path from drift_fields") == [("spec.topology.workers.count",)]

    kubectl_edit_workers(kube, namespace, "prod-demo01", 1)
    fixed = driftd("check", "--config", str(cfg), "--output", "json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert rows(db, "select state, resolution from drift_events") == [("resolved", "cluster-changed")]

    shown = driftd("report", "--config", str(cfg), "--output", "json")
    assert shown.returncode == 0, shown.stderr
    assert "spec.topology.workers.count" in shown.stdout
    kube.close()


def _assert_error_nothing_written(proc, cfg_dir: Path, *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    for needle in needles:
        assert needle in text, text
    db = cfg_dir / "driftd.db"
    if db.exists():
        assert rows(db, "select count(*) from drift_events")[0][0] == 0
        assert rows(db, "select count(*) from drift_fields")[0][0] == 0


def test_unparsable_yaml_is_a_clear_error_naming_file_and_line(control_plane, namespace, tmp_path):
    broken = seed_in(namespace).replace("      count: 1\n      class: best-effort-large\n      storageClass: k8s-policy\n"
                                        "      volumes:\n        - name: containerd",
                                        "      count: [1\n      class: best-effort-large\n      storageClass: k8s-policy\n"
                                        "      volumes:\n        - name: containerd")
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": broken})
    apply_as_argocd(admin(control_plane), seed_in(namespace))
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace)
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    _assert_error_nothing_written(proc, tmp_path, "prod/tkc-prod-demo01.yaml")
    report = json.loads(proc.stdout)
    assert report["verdict"] == "invalid"
    [obj] = [o for o in report["objects"] if o["name"] == "prod-demo01"]
    assert obj["status"] == "invalid"  # never "unmanaged" or "missing" because its file is broken
    assert obj["invalid_detail"]["file"] == "prod/tkc-prod-demo01.yaml"
    assert obj["invalid_detail"]["lines"][0] > 1


def test_unreachable_api_server_is_an_error_not_missing_objects(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    dead = tmp_path / "dead.kubeconfig"
    text = Path(control_plane.kubeconfig).read_text()
    dead.write_text(text.replace(control_plane.url, f"https://127.0.0.1:{free_port()}"))
    cfg = write_config(tmp_path, repo, dead, namespace)
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    _assert_error_nothing_written(proc, tmp_path, "unreachable")
    report = json.loads(proc.stdout)
    assert report["verdict"] == "error"
    assert all(o["status"] != "missing" for o in report["objects"])


def test_missing_crd_is_an_error_naming_the_kind(control_plane, namespace, tmp_path):
    widget = (f"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: {namespace}\n"
              "spec:\n  size: 1\n")
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace), "prod/widget.yaml": widget})
    apply_as_argocd(admin(control_plane), seed_in(namespace))
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace)
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    _assert_error_nothing_written(proc, tmp_path, "example.com", "CRD")
    report = json.loads(proc.stdout)
    assert report["verdict"] == "error"
    assert [o["name"] for o in report["objects"]] == ["prod-demo01"]  # the rest of the work went on
    assert report["objects"][0]["status"] == "in-sync"


def test_forbidden_list_for_x509_user_is_an_error(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    apply_as_argocd(admin(control_plane), seed_in(namespace))
    cfg = write_config(tmp_path, repo, control_plane.add_user(f"nobody-{namespace}"), namespace)
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    _assert_error_nothing_written(proc, tmp_path, "403", "TanzuKubernetesCluster")
    assert json.loads(proc.stdout)["verdict"] == "error"


def test_two_sources_on_two_clusters_one_unreachable_the_other_still_checked(control_plane, namespace, tmp_path):
    """Like two Argo CD Applications: each source is compared with its own cluster; a dead cluster is an
    error for its source only, and the other source's drift is still found and recorded."""
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    kubectl_edit_workers(kube, namespace, "prod-demo01", 2)
    prod = make_repo(tmp_path / "prod-repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    lab = make_repo(tmp_path / "lab-repo", {"prod/tkc-lab.yaml": seed_in(namespace, "lab-01")})
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(Path(control_plane.kubeconfig).read_text().replace(control_plane.url,
                                                                       f"https://127.0.0.1:{free_port()}"))
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(
        f"database: {tmp_path / 'driftd.db'}\nstate_dir: {tmp_path / 'state'}\n"
        f"clusters:\n  - {{name: supervisor, kubeconfig: {control_plane.kubeconfig}, timeout: 5s}}\n"
        f"  - {{name: lab, kubeconfig: {dead}, timeout: 5s}}\n"
        f"sources:\n  - {{name: prod, repo: {prod}, paths: [prod], cluster: supervisor, namespace: {namespace}}}\n"
        f"  - {{name: lab, repo: {lab}, paths: [prod], cluster: lab, namespace: {namespace}}}\n"
        "watch:\n  - {group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}\n")
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "error"
    runs = {r["source"]: r for r in report["runs"]}
    assert (runs["prod"]["cluster"], runs["prod"]["verdict"], runs["prod"]["errors"]) == ("supervisor", "drift", [])
    assert runs["lab"]["cluster"] == "lab" and runs["lab"]["verdict"] == "error"
    assert "unreachable" in runs["lab"]["errors"][0]["message"]
    [obj] = report["objects"]
    assert (obj["name"], obj["status"], [d["path"] for d in obj["drifts"]]) == (
        "prod-demo01", "drifted", ["spec.topology.workers.count"])
    db = tmp_path / "driftd.db"
    assert sorted(rows(db, "select source, cluster, verdict from runs")) == [
        ("lab", "lab", "error"), ("prod", "supervisor", "drift")]
    assert rows(db, "select cluster, name, state from drift_events") == [("supervisor", "prod-demo01", "open")]
    kube.close()


def test_an_api_server_that_hangs_is_a_timeout_error_not_missing_objects(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    apply_as_argocd(admin(control_plane), seed_in(namespace))
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace)
    cfg.write_text(cfg.read_text().replace("timeout: 5s", "timeout: 2s"))
    apiserver = control_plane.control_plane.running()["kube-apiserver"]
    os.kill(apiserver, signal.SIGSTOP)   # the process is there, its port accepts, nothing answers
    try:
        proc = driftd("check", "--config", str(cfg), "--output", "json")
    finally:
        os.kill(apiserver, signal.SIGCONT)
    _assert_error_nothing_written(proc, tmp_path, "no answer from", "within 2s")
    report = json.loads(proc.stdout)
    assert report["verdict"] == "error" and report["objects"] == []
    assert rows(tmp_path / "driftd.db", "select verdict from runs") == [("error",)]
