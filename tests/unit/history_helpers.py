"""Real Git repositories for history tests: commits with chosen dates (so evidence can be pinned
exactly), TKC documents from the example specs, and live objects with managedFields."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import yaml

from driftd.config import SourceConfig, engine_options
from driftd.engine import DiffResult, diff_sets
from driftd.gitsource import GitSource
from driftd.history import HistoryEvidence, ObjectHistory

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples" / "prod"


def tkc(name: str = "prod-demo01", workers: int = 1, worker_class: str | None = None,
        labels: dict | None = None, namespace: str = "prod") -> dict:
    """A TKC from config/examples/prod (prod-demo02's spec for prod-demo02, else prod-demo01's)."""
    base = "tkc-prod-demo02.yaml" if name == "prod-demo02" else "tkc-prod-demo01.yaml"
    obj = yaml.safe_load((EXAMPLES / base).read_text())
    obj["metadata"]["name"], obj["metadata"]["namespace"] = name, namespace
    obj["spec"]["topology"]["workers"]["count"] = workers
    if worker_class:
        obj["spec"]["topology"]["workers"]["class"] = worker_class
    if labels:
        obj["metadata"]["labels"] = dict(labels)
    return obj


def text(*objs: dict) -> str:
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)


class GitRepo:
    """A working repository driven by the git CLI; commit N is dated 2026-11-01 + N hours."""

    def __init__(self, path: Path):
        self.path = path
        self.n = 0
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, date: str | None = None) -> str:
        env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}
        if date:
            env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        return subprocess.run(["git", "-c", "user.name=Ada Admin", "-c", "user.email=ada@example.com",
                               "-c", "commit.gpgsign=false", *args], cwd=self.path, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def date(self, n: int) -> str:
        return f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:00:00Z"

    def commit(self, message: str, files: dict[str, str | None] | None = None,
               moves: dict[str, str] | None = None) -> str:
        """Write (text) or delete (None) files and move others, then commit everything."""
        for old, new in (moves or {}).items():
            (self.path / new).parent.mkdir(parents=True, exist_ok=True)
            self.git("mv", old, new)
        for name, body in (files or {}).items():
            p = self.path / name
            if body is None:
                self.git("rm", "-q", name)
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(body)
        self.git("add", "-A")
        self.n += 1
        self.git("commit", "-q", "--allow-empty", "-m", message, date=self.date(self.n))
        return self.git("rev-parse", "HEAD")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def source(repo: GitRepo, paths=(".",), namespace: str | None = None) -> SourceConfig:
    return SourceConfig(name="prod", repo=str(repo.path), cluster="supervisor", branch="main",
                        paths=tuple(paths), namespace=namespace)


def indexed(repo: GitRepo, tmp: Path, paths=(".",), namespace: str | None = None) -> tuple[GitSource, ObjectHistory]:
    git = GitSource(source(repo, paths, namespace), tmp / "state")
    history = ObjectHistory("prod", namespace, tuple(paths))
    history.update(git, git.sync().commit)
    return git, history


# ----------------------------------------------------------------------------- live objects

def fields_of(value: object) -> dict:
    """FieldsV1 owning every leaf of ``value`` (lists as atomic leaves)."""
    if isinstance(value, dict):
        return {f"f:{k}": fields_of(v) for k, v in value.items()}
    return {}


def _take(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.get(f"f:{p}", {})
    tree.pop(f"f:{leaf}", None)


def _give(tree: dict, dotted: str) -> None:
    for p in dotted.split("."):
        tree = tree.setdefault(f"f:{p}", {})


def live(desired: dict, synced_at: str, edits: list[tuple[str, str, object, str]] = (),
         applier: str = "argocd-controller") -> dict:
    """The object as the GitOps applier server-side applied ``desired`` at ``synced_at``, then
    changed by ``edits``: (manager, time, value or None to drop, dotted path)."""
    obj = copy.deepcopy(desired)
    spec_fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    applied = fields_of({**spec_fields, "metadata": {k: v for k, v in obj["metadata"].items()
                                                     if k not in ("name", "namespace")}})
    entries: dict[str, dict] = {}
    for manager, at, value, dotted in edits:
        *parents, leaf = dotted.split(".")
        node = obj
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
        _take(applied, dotted)
        entry = entries.setdefault(manager, {"manager": manager, "operation": "Update", "time": at,
                                             "fieldsType": "FieldsV1", "fieldsV1": {}})
        entry["time"] = max(entry["time"], at)
        if value is not None:
            _give(entry["fieldsV1"], dotted)
    obj["metadata"]["uid"] = f"uid-{obj['metadata']['name']}"
    obj["metadata"]["managedFields"] = [{"manager": applier, "operation": "Apply", "time": synced_at,
                                         "fieldsType": "FieldsV1", "fieldsV1": applied}, *entries.values()]
    return obj


def check(git: GitSource, history: ObjectHistory, live_objs: list[dict], namespace: str | None = None) -> DiffResult:
    """The engine over Git at the indexed tip and ``live_objs``, with history evidence."""
    loaded = git.manifests(history.tip, namespace)
    return diff_sets(loaded.manifests, loaded.problems, live_objs, engine_options(None), HistoryEvidence(history, git))
