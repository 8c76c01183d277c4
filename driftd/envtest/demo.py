"""The README's main job: driftd end to end on a local control plane, in a few minutes.

1. start etcd + kube-apiserver (driftd.envtest) with the TKC conversion webhook and the project's CRDs;
2. make an X509 client-certificate user ``driftd`` with read-only RBAC, like the seed's ``argocd-admin``;
3. build a GitOps repository from config/examples/ with a few commits of history;
4. sync it the way Argo CD does (server-side apply, field manager ``argocd-controller``);
5. edit ``prod-demo01`` out of band (``kubectl edit``: workers.count 1 -> 3, field manager ``kubectl-edit``);
6. ``driftd check`` (prints exactly that drift, exit 1) and ``driftd report`` (the open audit row);
7. set the count back; ``driftd check`` again resolves the event; ``driftd report`` shows it resolved;
   ``driftd report changes`` shows both edits of the live object and who made them;
8. a Git commit raises the worker count without a sync: ``driftd check`` says git-ahead, naming the
   commit; after the sync it is in sync again.

Everything runs in a temporary folder (or ``--workdir``); the control plane is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..config import ClusterConfig
from ..kubesource import KubeSource
from ..yamlload import load_yaml
from .controlplane import ControlPlane, find_binaries
from .crds import install_crds
from .webhooks import WebhookServer, tkc_conversion

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples"
CRD_DIR = REPO / "tests" / "crds"
TKC = ("run.tanzu.vmware.com", "TanzuKubernetesCluster")

READER_RBAC = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "driftd-reader"},
     "rules": [{"apiGroups": ["run.tanzu.vmware.com", "cluster.x-k8s.io", "controlplane.cluster.x-k8s.io",
                              "infrastructure.cluster.x-k8s.io", "bootstrap.cluster.x-k8s.io"],
                "resources": ["*"], "verbs": ["get", "list", "watch"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "driftd-reader"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "driftd"}],
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "driftd-reader"}},
]


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def git(repo: Path, *args: str, date: str | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Platform Admin", "GIT_AUTHOR_EMAIL": "platform@example.com",
           "GIT_COMMITTER_NAME": "Platform Admin", "GIT_COMMITTER_EMAIL": "platform@example.com"}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def build_repository(repo: Path) -> None:
    """A GitOps repository with history: demo01 in tkgs/, raised, demo02 added, both moved to prod/."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    demo01 = (EXAMPLES / "prod" / "tkc-prod-demo01.yaml").read_text()
    (repo / "tkgs").mkdir()
    (repo / "tkgs" / "tkc-prod-demo01.yaml").write_text(demo01.replace("storage: 100Gi", "storage: 50Gi"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "prod-demo01: first production cluster", date="2026-11-02T09:00:00Z")
    (repo / "tkgs" / "tkc-prod-demo01.yaml").write_text(demo01)
    git(repo, "commit", "-q", "-am", "prod-demo01: 100Gi containerd volume for workers", date="2026-11-09T09:00:00Z")
    shutil.copy(EXAMPLES / "prod" / "tkc-prod-demo02.yaml", repo / "tkgs" / "tkc-prod-demo02.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "prod-demo02: second production cluster", date="2026-11-16T09:00:00Z")
    git(repo, "mv", "tkgs", "prod")
    git(repo, "commit", "-q", "-m", "move cluster specs to prod/", date="2026-11-23T09:00:00Z")


def sync_like_argocd(kube: KubeSource, repo: Path) -> None:
    for path in sorted((repo / "prod").glob("*.yaml")):
        obj = load_yaml(path.read_text())
        info = kube.kind_info(*TKC, version=obj["apiVersion"].split("/")[1])
        kube.apply(info, obj, field_manager="argocd-controller", force=True)
        print(f"   applied {path.relative_to(repo)} as field manager argocd-controller")


def kubectl_edit(kube: KubeSource, name: str, count: int) -> None:
    info = kube.kind_info(*TKC, version="v1alpha1")
    obj = kube.get(info, "prod", name)
    obj["spec"]["topology"]["workers"]["count"] = count
    kube.update(info, obj, field_manager="kubectl-edit")


def driftd(*args: str, check_exit: tuple[int, ...] = (0, 1)) -> int:
    cmd = [sys.executable, "-m", "driftd.cli", *args]
    print("$ driftd " + " ".join(args), flush=True)
    proc = subprocess.run(cmd, text=True)
    if proc.returncode not in check_exit:
        raise SystemExit(f"driftd {' '.join(args)} exited {proc.returncode}")
    print(f"(exit {proc.returncode})", flush=True)
    return proc.returncode


def run_demo(workdir: Path, kept: bool) -> int:
    say("local control plane (etcd + kube-apiserver v1.36.3, built once into ~/.cache/driftd)")
    binaries = find_binaries()
    cp = ControlPlane(workdir / "control-plane", binaries)
    webhooks = WebhookServer().start()
    try:
        webhooks.add_handler("/convert/tkc", tkc_conversion)
        cp.start()
        print(f"   API server {cp.url}")
        install_crds(cp.admin_kubeconfig, CRD_DIR, webhooks)
        admin = KubeSource.connect(ClusterConfig("supervisor", str(cp.admin_kubeconfig)))
        admin.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": "prod"}}, what="create namespace prod")
        for obj in READER_RBAC:
            plural = "clusterroles" if obj["kind"] == "ClusterRole" else "clusterrolebindings"
            admin.request("POST", f"/apis/rbac.authorization.k8s.io/v1/{plural}", body=obj, what=f"create {plural}")
        user_kubeconfig = cp.add_user("driftd", ["driftd-readers"])
        print(f"   X509 user 'driftd' with read-only RBAC: {user_kubeconfig}")

        say("a GitOps repository with history (config/examples/)")
        repo = workdir / "tanzu-gitops"
        build_repository(repo)
        print(subprocess.run(["git", "log", "--format=   %h %ad %s", "--date=short"], cwd=repo,
                             capture_output=True, text=True).stdout, end="")

        say("sync, the way Argo CD does it (server-side apply)")
        sync_like_argocd(admin, repo)

        config = workdir / "driftd.yaml"
        config.write_text(
            f"interval: 10s\ndatabase: {workdir / 'driftd.db'}\nstate_dir: {workdir / 'state'}\n"
            f"clusters:\n  - name: supervisor\n    kubeconfig: {user_kubeconfig}\n"
            f"sources:\n  - name: prod\n    repo: {repo}\n    branch: main\n    paths: [prod]\n"
            f"    cluster: supervisor\n    namespace: prod\n"
            f"watch:\n  - {{group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}}\n")

        say("driftd check right after the sync: in sync")
        driftd("check", "--config", str(config))

        say("out-of-band edit: kubectl edit tkc prod-demo01 (workers.count 1 -> 3)")
        kubectl_edit(admin, "prod-demo01", 3)

        say("driftd check: exactly that drift")
        driftd("check", "--config", str(config))
        driftd("check", "--config", str(config), "--output", "json", "--no-store")
        say("driftd report: the open audit row")
        driftd("report", "--config", str(config))

        say("set the count back; the next cycle resolves the event")
        kubectl_edit(admin, "prod-demo01", 1)
        driftd("check", "--config", str(config))
        driftd("report", "--config", str(config))
        say("Git moves ahead: a commit raises prod-demo01 to 2 workers, not synced yet")
        tkc = repo / "prod" / "tkc-prod-demo01.yaml"
        tkc.write_text(tkc.read_text().replace("workers:\n      count: 1", "workers:\n      count: 2"))
        git(repo, "commit", "-q", "-am", "prod-demo01: 2 workers")
        driftd("check", "--config", str(config))
        say("sync; the next cycle is in sync again")
        sync_like_argocd(admin, repo)
        driftd("check", "--config", str(config))

        say("driftd report changes: the live object's own history, and who wrote each change")
        driftd("report", "changes", "--config", str(config), "--name", "prod-demo01")
        if kept:
            say(f"done; the audit trail is {workdir / 'driftd.db'}; `driftd report --database` it")
        else:
            say("done; the demo's folder is removed now: `scripts/demo --workdir DIR` keeps the repository, "
                "the config and the audit trail to explore with driftd report")
        admin.close()
        return 0
    finally:
        cp.stop()
        webhooks.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="keep everything here (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.workdir:
        if args.workdir.exists() and any(args.workdir.iterdir()):
            parser.error(f"{args.workdir} is not empty")
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run_demo(args.workdir.resolve(), kept=True)
    with tempfile.TemporaryDirectory(prefix="driftd-demo-") as tmp:
        return run_demo(Path(tmp), kept=False)


if __name__ == "__main__":
    sys.exit(main())
