"""Git history and attribution end to end on the real control plane: a real repository replays the
story of issue 5 — create prod-demo01 (1 worker), raise it to 2, add prod-demo02, delete it,
restore it, move both files to another folder, change prod-demo02's worker class — with syncs (server-side
apply as ``argocd-controller``) after some commits and ``kubectl-edit`` changes between others.
Every ``driftd check`` is a new process: the history index is continued from the state folder.
Each drift is pinned by class, commit and field manager; the commits named before the move prove
that identity survives it; a force push at the end is recorded in the run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.integration.test_check import admin, apply_as_argocd, driftd, kubectl_edit_workers, rows

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples" / "prod"
COUNT, CLASS = "spec.topology.workers.count", "spec.topology.workers.class"


def spec(name: str, namespace: str, workers: int | None = None, worker_class: str | None = None) -> str:
    obj = yaml.safe_load((EXAMPLES / f"tkc-{name}.yaml").read_text())
    obj["metadata"]["namespace"] = namespace
    if workers is not None:
        obj["spec"]["topology"]["workers"]["count"] = workers
    if worker_class is not None:
        obj["spec"]["topology"]["workers"]["class"] = worker_class
    return yaml.safe_dump(obj, sort_keys=False)


class Repo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=Ada Admin", "-c", "user.email=ada@example.com",
                               "-c", "commit.gpgsign=false", *args], cwd=self.path, check=True,
                              capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, files: dict[str, str | None] | None = None,
               moves: dict[str, str] | None = None) -> str:
        for old, new in (moves or {}).items():
            (self.path / new).parent.mkdir(parents=True, exist_ok=True)
            self.git("mv", old, new)
        for name, body in (files or {}).items():
            if body is None:
                self.git("rm", "-q", name)
                continue
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(body)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def config(tmp: Path, repo: Path, kubeconfig: Path, namespace: str) -> Path:
    cfg = tmp / "driftd.yaml"
    cfg.write_text(
        f"interval: 1s\ndatabase: {tmp / 'driftd.db'}\nstate_dir: {tmp / 'state'}\n"
        f"clusters:\n  - name: supervisor\n    kubeconfig: {kubeconfig}\n    timeout: 5s\n"
        f"sources:\n  - name: prod\n    repo: {repo}\n    branch: main\n    paths: ['.']\n"
        f"    cluster: supervisor\n    namespace: {namespace}\n"
        f"watch:\n  - {{group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}}\n")
    return cfg


def check(cfg: Path, want_exit: int) -> dict:
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode == want_exit, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def objects(report: dict) -> dict[str, dict]:
    return {o["name"]: o for o in report["objects"]}


def only_drift(report: dict, name: str) -> dict:
    obj = objects(report)[name]
    assert obj["status"] == "drifted", obj
    [drift] = obj["drifts"]
    return drift


def sha(commit: dict | None) -> str | None:
    return None if commit is None else commit["sha"]


def test_issue_story_each_drift_has_its_class_commit_and_manager_across_delete_restore_and_move(
        control_plane, namespace, tmp_path):
    repo = Repo(tmp_path / "repo")
    kube = admin(control_plane)
    cfg = config(tmp_path, repo.path, control_plane.kubeconfig, namespace)
    d1, d2 = "tkgs/tkc-prod-demo01.yaml", "tkgs/tkc-prod-demo02.yaml"

    def sync(*texts: str) -> None:
        for t in texts:
            apply_as_argocd(kube, t)

    # 1. create prod-demo01 with one worker; synced
    c1 = repo.commit("create prod-demo01 (1 worker)", {d1: spec("prod-demo01", namespace, workers=1)})
    sync(spec("prod-demo01", namespace, workers=1))
    assert check(cfg, 0)["verdict"] == "in-sync"

    # 2. raise it to 2 workers; not synced yet: Git is ahead, naming both commits
    c2 = repo.commit("raise prod-demo01 to 2 workers", {d1: spec("prod-demo01", namespace, workers=2)})
    drift = only_drift(check(cfg, 1), "prod-demo01")
    assert (drift["path"], drift["change"], drift["desired"], drift["live"], drift["class"]) == \
        (COUNT, "modified", 2, 1, "git-ahead")
    ev = drift["evidence"]
    assert (sha(ev["commit"]), sha(ev["changed_by"]), sha(ev["blame"])) == (c1, c2, c2)
    assert (ev["changed_by"]["author"], ev["changed_by"]["subject"]) == ("Ada Admin", "raise prod-demo01 to 2 workers")
    assert (ev["manager"], ev["operation"]) == ("argocd-controller", "Apply")

    # 3. synced; then a person sets 3 workers by hand: out-of-band, a value Git never had
    sync(spec("prod-demo01", namespace, workers=2))
    kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
    drift = only_drift(check(cfg, 1), "prod-demo01")
    assert (drift["desired"], drift["live"], drift["class"]) == (2, 3, "out-of-band")
    ev = drift["evidence"]
    assert (ev["manager"], ev["operation"], sha(ev["blame"])) == ("kubectl-edit", "Update", c2)
    assert "commit" not in ev and "changed_by" not in ev

    #    ... and then back to 1 by hand: Git's old value, but written after Git changed it
    kubectl_edit_workers(kube, namespace, "prod-demo01", 1)
    drift = only_drift(check(cfg, 1), "prod-demo01")
    assert (drift["desired"], drift["live"], drift["class"]) == (2, 1, "out-of-band")
    ev = drift["evidence"]
    assert (ev["manager"], sha(ev["commit"]), sha(ev["changed_by"])) == ("kubectl-edit", c1, c2)

    # 4. add prod-demo02; synced (the sync also puts prod-demo01 back to 2 workers)
    c3 = repo.commit("add prod-demo02", {d2: spec("prod-demo02", namespace)})
    sync(spec("prod-demo01", namespace, workers=2), spec("prod-demo02", namespace))
    assert check(cfg, 0)["verdict"] == "in-sync"

    # 5. delete prod-demo02 from Git; Argo CD does not prune: still live, removed in Git by c4
    c4 = repo.commit("delete prod-demo02", {d2: None})
    report = check(cfg, 1)
    gone = objects(report)["prod-demo02"]
    assert gone["status"] == "unmanaged"
    assert (gone["evidence"]["class"], sha(gone["evidence"]["commit"]), sha(gone["evidence"]["changed_by"])) == \
        ("removed-in-git", c3, c4)
    assert objects(report)["prod-demo01"]["status"] == "in-sync"

    # 6. restore it; 7. move both files to prod/ — in sync, and no history rewrite is seen
    c5 = repo.commit("restore prod-demo02", {d2: spec("prod-demo02", namespace)})
    assert check(cfg, 0)["verdict"] == "in-sync"
    repo.commit("move the clusters from tkgs/ to prod/",
                moves={d1: "prod/tkc-prod-demo01.yaml", d2: "prod/tkc-prod-demo02.yaml"})
    report = check(cfg, 0)
    assert report["verdict"] == "in-sync" and report["runs"][0]["history_rewritten"] is False

    # 8. change prod-demo02's worker class in its new place, not synced; meanwhile a person edits
    #    prod-demo01. The commits named from before the move show the identity survived it.
    c7 = repo.commit("prod-demo02: best-effort-large workers",
                     {"prod/tkc-prod-demo02.yaml": spec("prod-demo02", namespace, worker_class="best-effort-large")})
    kubectl_edit_workers(kube, namespace, "prod-demo01", 4)
    report = check(cfg, 1)
    drift = only_drift(report, "prod-demo02")
    assert (drift["path"], drift["desired"], drift["live"], drift["class"]) == \
        (CLASS, "best-effort-large", "best-effort-medium", "git-ahead")
    ev = drift["evidence"]
    # The live value is Git's since the restore (c5; c3 set it first, c4 deleted the object).
    assert (sha(ev["commit"]), sha(ev["changed_by"]), sha(ev["blame"]), ev["manager"]) == \
        (c5, c7, c7, "argocd-controller")
    drift = only_drift(report, "prod-demo01")
    assert (drift["path"], drift["desired"], drift["live"], drift["class"]) == (COUNT, 2, 4, "out-of-band")
    assert (drift["evidence"]["manager"], sha(drift["evidence"]["blame"])) == ("kubectl-edit", c2)
    assert objects(report)["prod-demo01"]["source"]["file"] == "prod/tkc-prod-demo01.yaml"

    # The audit trail and the report keep the same evidence.
    db = tmp_path / "driftd.db"
    [stored] = rows(db, "select f.evidence from drift_fields f join drift_events e on e.id = f.event_id "
                        f"where e.name = 'prod-demo02' and f.path = '{CLASS}' and f.state = 'open'")
    assert (sha(json.loads(stored[0])["commit"]), sha(json.loads(stored[0])["blame"])) == (c5, c7)
    shown = driftd("report", "--config", str(cfg), "--status", "open")
    assert shown.returncode == 0, shown.stderr
    assert f"      changed in Git by: {c7[:10]}" in shown.stdout

    # 9. synced at c7: all in sync
    sync(spec("prod-demo01", namespace, workers=2), spec("prod-demo02", namespace, worker_class="best-effort-large"))
    assert check(cfg, 0)["verdict"] == "in-sync"

    # 10. force push: c7 is replaced by a commit that raises prod-demo02's workers instead. The
    #     run records the rewrite; the new history is used: the live class (synced from c7) was
    #     never in it, and the applier wrote it, so driftd says it does not know.
    repo.git("reset", "-q", "--hard", "HEAD~1")
    c7b = repo.commit("prod-demo02: 3 workers", {"prod/tkc-prod-demo02.yaml": spec("prod-demo02", namespace, workers=3)})
    report = check(cfg, 1)
    assert report["runs"][0]["history_rewritten"] is True
    drifts = {d["path"]: d for d in objects(report)["prod-demo02"]["drifts"]}
    assert (drifts[COUNT]["class"], sha(drifts[COUNT]["evidence"]["commit"]),
            sha(drifts[COUNT]["evidence"]["changed_by"])) == ("git-ahead", c5, c7b)
    assert (drifts[CLASS]["class"], drifts[CLASS]["live"], sha(drifts[CLASS]["evidence"]["blame"])) == \
        ("unknown", "best-effort-large", c5)
    assert rows(db, "select history_rewritten from runs order by id desc limit 1") == [(1,)]
    assert check(cfg, 1)["runs"][0]["history_rewritten"] is False    # the next run continues from it
    kube.close()


def test_unreadable_git_history_is_a_notice_and_drifts_keep_their_live_only_class(control_plane, namespace, tmp_path):
    repo = Repo(tmp_path / "repo")
    first = repo.commit("create prod-demo01 (1 worker)", {"prod/tkc-prod-demo01.yaml": spec("prod-demo01", namespace)})
    repo.commit("raise prod-demo01 to 2 workers", {"prod/tkc-prod-demo01.yaml": spec("prod-demo01", namespace, 2)})
    kube = admin(control_plane)
    apply_as_argocd(kube, spec("prod-demo01", namespace))
    # The old blob is gone (a damaged object database): the tip still reads, its history does not.
    blob = repo.git("rev-parse", f"{first}:prod/tkc-prod-demo01.yaml")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    cfg = config(tmp_path, repo.path, control_plane.kubeconfig, namespace)

    report = check(cfg, 1)
    assert report["verdict"] == "drift" and report["errors"] == []
    [notice] = [n for n in report["runs"][0]["notices"] if "Git history" in n]
    assert "classified from the live objects only" in notice and blob in notice
    drift = only_drift(report, "prod-demo01")
    # The live-only rule: the GitOps applier wrote the value and Git differs.
    assert (drift["desired"], drift["live"], drift["class"]) == (2, 1, "git-ahead")
    assert {"commit", "changed_by", "blame"}.isdisjoint(drift["evidence"])
    assert drift["evidence"]["manager"] == "argocd-controller"
    kube.close()


def test_cycles_of_one_process_keep_the_index_warm_and_walk_only_new_commits(control_plane, namespace, tmp_path):
    from driftd.api import CheckSession
    from driftd.config import load_config_file

    repo = Repo(tmp_path / "repo")
    for n in range(1, 6):
        repo.commit(f"prod-demo01: {n} workers", {"prod/tkc-prod-demo01.yaml": spec("prod-demo01", namespace, n)})
    kube = admin(control_plane)
    apply_as_argocd(kube, spec("prod-demo01", namespace, 5))
    with CheckSession(load_config_file(str(config(tmp_path, repo.path, control_plane.kubeconfig, namespace)))) as s:
        assert s.run_cycle().verdict.value == "in-sync"
        history, git = s.cycle.history["prod"], s.cycle.git["prod"]
        assert (history.walked, history.rebuilt) == (5, True)

        parsed = git.parse_count
        assert s.run_cycle().verdict.value == "in-sync"
        assert s.cycle.history["prod"] is history
        assert (history.walked, history.rebuilt, git.parse_count) == (0, False, parsed)

        raised = repo.commit("prod-demo01: 6 workers", {"prod/tkc-prod-demo01.yaml": spec("prod-demo01", namespace, 6)})
        outcome = s.run_cycle()
        assert (history.walked, history.rebuilt, git.parse_count) == (1, False, parsed + 1)
        [drift] = outcome.merged().objects[0].drifts
        assert (drift.drift_class.value, drift.evidence.changed_by["sha"]) == ("git-ahead", raised)
    kube.close()


def test_a_source_pointed_at_another_repository_is_not_a_force_push(control_plane, namespace, tmp_path):
    """The history index belongs to a repository and branch, not to the source's name: moving a
    source to a new repository (a migration to another Git server) starts a new index."""
    kube = admin(control_plane)
    old, new = Repo(tmp_path / "old"), Repo(tmp_path / "new")
    text = spec("prod-demo01", namespace, workers=1)
    old.commit("create prod-demo01", {"tkgs/tkc-prod-demo01.yaml": text})
    created = new.commit("create prod-demo01 on the new server", {"tkgs/tkc-prod-demo01.yaml": text})
    apply_as_argocd(kube, text)
    cfg = config(tmp_path, old.path, control_plane.kubeconfig, namespace)
    assert check(cfg, 0)["runs"][0]["history_rewritten"] is False
    cfg.write_text(cfg.read_text().replace(str(old.path), str(new.path)))
    kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
    report = check(cfg, 1)
    assert report["runs"][0]["history_rewritten"] is False
    assert not any("rewritten" in n for n in report["runs"][0]["notices"])
    drift = only_drift(report, "prod-demo01")
    assert (drift["class"], sha(drift["evidence"]["blame"])) == ("out-of-band", created)
    kube.close()


def test_a_missing_object_is_deleted_out_of_band_or_not_synced_yet_and_a_moved_one_says_so(
        control_plane, namespace, tmp_path):
    """No managedFields survive a deletion: the audit trail remembers the object live, Git history
    when it was declared."""
    kube = admin(control_plane)
    repo = Repo(tmp_path / "repo")
    one = spec("prod-demo01", namespace)
    repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": one})
    apply_as_argocd(kube, one)
    cfg = config(tmp_path, repo.path, control_plane.kubeconfig, namespace)
    cfg.write_text(cfg.read_text().replace("paths: ['.']", "paths: [prod]"))
    assert check(cfg, 0)["verdict"] == "in-sync"

    # a person deletes the cluster's TKC; meanwhile Git adds prod-demo02, not synced
    kube.request("DELETE", f"/apis/run.tanzu.vmware.com/v1alpha1/namespaces/{namespace}/tanzukubernetesclusters/"
                           "prod-demo01")
    added = repo.commit("add prod-demo02", {"prod/tkc-prod-demo02.yaml": spec("prod-demo02", namespace)})
    report = check(cfg, 1)
    gone, new = objects(report)["prod-demo01"], objects(report)["prod-demo02"]
    assert (gone["status"], gone["evidence"]["class"]) == ("missing", "out-of-band")
    assert gone["evidence"]["reason"].startswith("deleted from the cluster: driftd saw it live")
    assert (new["status"], new["evidence"]["class"], sha(new["evidence"]["blame"])) == ("missing", "git-ahead", added)
    assert "never live since: sync" in new["evidence"]["reason"]
    # the audit trail keeps the object evidence with the episode
    stored = dict(rows(tmp_path / "driftd.db", "select name, evidence from drift_events where state = 'open'"))
    assert json.loads(stored["prod-demo01"])["class"] == "out-of-band"

    # the admin syncs demo01 back, then retires it to archive/ (outside paths): still live, moved
    apply_as_argocd(kube, one)
    moved = repo.commit("retire prod-demo01", moves={"prod/tkc-prod-demo01.yaml": "archive/tkc-prod-demo01.yaml"})
    left = objects(check(cfg, 1))["prod-demo01"]
    assert (left["status"], left["evidence"]["class"], sha(left["evidence"]["changed_by"])) == (
        "unmanaged", "removed-in-git", moved)
    assert left["evidence"]["reason"].startswith("moved out of the configured paths (to archive/tkc-prod-demo01.yaml)")
    kube.close()
