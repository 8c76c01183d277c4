"""Helpers of test_fidelity: a Git repository and a driftd config per test, writes as the people and
tools that make drift (``argocd-controller`` applying, ``kubectl-edit`` editing), and mutating
webhooks registered with the API server for one namespace at a time."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from driftd.config import ClusterConfig
from driftd.kubesource import KindInfo, KubeError, KubeSource
from driftd.yamlload import load_manifests

GITOPS = "argocd-controller"
PERSON = "kubectl-edit"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Admin", "-c", "user.email=admin@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout


@dataclass
class GitSync:
    """A real Git repository (files under ``prod/``) watched by a driftd config for one namespace."""

    tmp: Path
    kubeconfig: Path
    namespace: str
    watch: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        self.repo = self.tmp / "repo"
        self.repo.mkdir()
        git(self.repo, "init", "-q", "-b", "main")
        self.cfg = self.tmp / "driftd.yaml"
        watch = "".join(f"  - {{group: '{g}', kind: {k}}}\n" for g, k in self.watch)
        self.cfg.write_text(
            f"database: {self.tmp / 'driftd.db'}\nstate_dir: {self.tmp / 'state'}\n"
            f"clusters:\n  - {{name: supervisor, kubeconfig: {self.kubeconfig}, timeout: 10s}}\n"
            f"sources:\n  - {{name: prod, repo: {self.repo}, branch: main, paths: [prod], cluster: supervisor,"
            f" namespace: {self.namespace}}}\n"
            f"watch:{chr(10) + watch if watch else ' []' + chr(10)}")

    def commit(self, files: dict[str, str], message: str = "sync") -> str:
        for name, text in files.items():
            path = self.repo / "prod" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", message)
        return git(self.repo, "rev-parse", "HEAD").strip()

    def cycle(self) -> tuple[int, dict]:
        """One ``driftd check -o json`` cycle: (exit code, report)."""
        proc = subprocess.run([sys.executable, "-m", "driftd.cli", "check", "--config", str(self.cfg),
                               "--output", "json"], capture_output=True, text=True, timeout=120)
        try:
            report = json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(f"driftd check printed no JSON (exit {proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}") from exc
        assert not report.get("errors"), report["errors"]
        return proc.returncode, report


def objects_of(text: str, file: str = "desired.yaml", namespace: str | None = None) -> list[dict]:
    """The objects of a manifest as kubectl reads it (YAML 1.1 octal, no base-60, null documents skipped)."""
    loaded = load_manifests(text, file, namespace)
    assert not loaded.problems, [p.describe() for p in loaded.problems]
    return [m.obj for m in loaded.manifests]


def info_of(kube: KubeSource, obj: dict) -> KindInfo:
    group, _, version = obj["apiVersion"].rpartition("/")
    return kube.kind_info(group, obj["kind"], version)


def apply_as_gitops(kube: KubeSource, obj: dict, manager: str = GITOPS) -> dict:
    """A sync: server-side apply of the Git object as the GitOps applier."""
    return kube.apply(info_of(kube, obj), obj, field_manager=manager, force=True)


def client_side_apply(kube: KubeSource, obj: dict) -> dict:
    """``kubectl apply`` (client-side) of a new object: a create by kubectl-client-side-apply carrying
    the last-applied-configuration annotation."""
    body = json.loads(json.dumps(obj))
    meta = body.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(obj, separators=(",", ":"))
    meta["annotations"] = annotations
    info = info_of(kube, obj)
    return kube.request("POST", kube._path(info, meta.get("namespace")), [("fieldManager", "kubectl-client-side-apply")],
                        body=body, what=f"create {info.label} {meta['name']}")


def edit(kube: KubeSource, obj: dict, change, manager: str = PERSON, version: str | None = None) -> dict:
    """``kubectl edit``: GET, change in place, PUT (an Update by ``manager``) at ``version``."""
    info = info_of(kube, obj)
    if version:
        info = kube.kind_info(info.group, info.kind, version)
    meta = obj["metadata"]
    live = kube.get(info, meta.get("namespace"), meta["name"])
    change(live)
    return kube.update(info, live, field_manager=manager)


def owners(live: dict, *path: str) -> list[str]:
    """Managers whose managedFields hold the field ``path`` (map keys only)."""
    found = []
    for entry in live["metadata"].get("managedFields") or []:
        node = entry.get("fieldsV1") or {}
        for key in path:
            node = node.get(f"f:{key}") if isinstance(node, dict) else None
            if node is None:
                break
        if node is not None:
            found.append(entry["manager"])
    return found


def register_mutating_webhook(kube: KubeSource, webhooks, name: str, path: str, handler, rules: list[dict],
                              namespace_label: tuple[str, str]) -> dict:
    """Serve ``handler`` at ``path`` on the test's HTTPS webhook server and register it with a
    MutatingWebhookConfiguration (clientConfig url + caBundle) for namespaces with the label."""
    from driftd.envtest.webhooks import mutating_webhook_configuration

    webhooks.add_handler(path, handler)
    body = mutating_webhook_configuration(name, webhooks.client_config(path), rules, dict([namespace_label]))
    return kube.request("POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", body=body)


def delete_mutating_webhook(kube: KubeSource, webhooks, name: str, path: str) -> None:
    try:
        kube.request("DELETE", f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}")
    finally:
        webhooks.remove_handler(path)


def label_namespace(kube: KubeSource, namespace: str, label: tuple[str, str]) -> None:
    kube.request("PATCH", f"/api/v1/namespaces/{namespace}", body={"metadata": {"labels": dict([label])}},
                 content_type="application/merge-patch+json")


def wait_until_mutated(kube: KubeSource, probe: dict, mutated, what: str, deadline_s: float = 20.0) -> None:
    """A webhook configuration reaches the admission chain asynchronously: dry-run ``probe`` until
    ``mutated(answer)`` holds (not a timing assertion: it only waits for the registration)."""
    deadline = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = kube.apply(info_of(kube, probe), probe, field_manager="probe", force=True, dry_run=True)
            if mutated(answer):
                return
            last = answer
        except KubeError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{what} never answered: {last}")


def fresh(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def connect(env) -> KubeSource:
    return KubeSource.connect(ClusterConfig("supervisor", str(env.kubeconfig), timeout=10.0))


def renamed_expected(expected: dict, names: dict[str, str]) -> dict:
    """A case's expected.json with namespaces and names replaced (fresh namespaces per test)."""
    out = json.loads(json.dumps(expected))
    for obj in out["objects"]:
        for field in ("namespace", "name"):
            if obj.get(field) in names:
                obj[field] = names[obj[field]]
    return out
