"""driftd.history and classification with Git history, on real Git repositories made in tmp_path:
identity across moved files and deleted/restored objects, the evidence of each class (commit,
author, date, subject, blame, field manager), incremental and cached indexing, force pushes, and
unreadable history falling back to live-only evidence."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from driftd.config import engine_options
from driftd.engine import diff_sets
from driftd.gitsource import GitError, GitSource
from driftd.history import HistoryEvidence, ObjectHistory, index_path
from driftd.model import ObjectKey, RunRecord, Status, object_key
from driftd.output import report_json, report_table
from driftd.paths import parse
from driftd.report import report_command
from driftd.store import AuditStore
from tests.unit.drift_helpers import by_path, one
from tests.unit.history_helpers import GitRepo, check, indexed, live, source, text, tkc
from tests.unit.test_store import outbox_rows

DEMO01 = ObjectKey("run.tanzu.vmware.com", "TanzuKubernetesCluster", "prod", "prod-demo01")
DEMO02 = ObjectKey("run.tanzu.vmware.com", "TanzuKubernetesCluster", "prod", "prod-demo02")
WORKERS = parse("spec.topology.workers.count")
WORKER_CLASS = parse("spec.topology.workers.class")


def same(_path, a, b) -> bool:
    return a == b


def short(commit: dict) -> tuple[str, str, str, str]:
    return commit["sha"], commit["author"], commit["date"], commit["subject"]


def by_name(result, name: str):
    [obj] = [o for o in result.objects if o.key.name == name]
    return obj


# ----------------------------------------------------------------------------- identity across history


def test_moving_a_file_to_another_folder_is_no_new_version_and_blame_names_the_commit_before_the_move(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01", {"tkgs/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    raised = repo.commit("raise prod-demo01 to 2 workers", {"tkgs/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    repo.commit("move clusters to prod/", moves={"tkgs/tkc-prod-demo01.yaml": "prod/tkc-prod-demo01.yaml"})
    git, history = indexed(repo, tmp_path)

    versions = history.versions[DEMO01]
    assert [history.commits[v.seq]["sha"] for v in versions] == [created, raised]
    assert [v.path for v in versions] == ["tkgs/tkc-prod-demo01.yaml"] * 2
    evidence = HistoryEvidence(history, git)
    assert short(evidence.blame(DEMO01, WORKERS, same)) == (raised, "Ada Admin", "2026-11-01T02:00:00Z",
                                                            "raise prod-demo01 to 2 workers")
    assert evidence.earlier_value(DEMO01, WORKERS, 1, same)[0]["sha"] == created


def test_object_moved_between_multi_document_files_keeps_its_versions(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("both clusters in one file", {"prod/clusters.yaml": text(tkc(), tkc("prod-demo02", 2))})
    repo.commit("one file per cluster", {"prod/clusters.yaml": text(tkc()),
                                         "prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    raised = repo.commit("prod-demo02: 3 workers", {"prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 3))})
    git, history = indexed(repo, tmp_path)

    assert [(history.commits[v.seq]["sha"], v.path) for v in history.versions[DEMO02]] == \
        [(created, "prod/clusters.yaml"), (raised, "prod/tkc-prod-demo02.yaml")]
    assert [history.commits[v.seq]["sha"] for v in history.versions[DEMO01]] == [created]
    found = HistoryEvidence(history, git).earlier_value(DEMO02, WORKERS, 2, same)
    assert (found[0]["sha"], found[1]["sha"]) == (created, raised)


def test_deleted_and_restored_object_has_three_versions_and_removed_object_only_while_deleted(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    added = repo.commit("add prod-demo02", {"prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    deleted = repo.commit("delete prod-demo02", {"prod/tkc-prod-demo02.yaml": None})
    git, history = indexed(repo, tmp_path)
    evidence = HistoryEvidence(history, git)
    last, removed, moved_to = evidence.removed_object(DEMO02)
    assert (last["sha"], removed["sha"], removed["subject"], moved_to) == (added, deleted, "delete prod-demo02", None)
    assert evidence.added_object(DEMO02) is None

    restored = repo.commit("restore prod-demo02", {"prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    history.update(git, git.sync().commit)
    assert history.walked == 1
    assert [(history.commits[v.seq]["sha"], v.deleted) for v in history.versions[DEMO02]] == \
        [(added, False), (deleted, True), (restored, False)]
    assert evidence.removed_object(DEMO02) is None
    assert evidence.added_object(DEMO02)["sha"] == restored   # declared without a break since the restore
    # Blame names the restore: Git has declared the value without a break only since then.
    assert evidence.blame(DEMO02, WORKERS, same)["sha"] == restored


def test_object_moved_out_of_the_configured_paths_is_removed_naming_the_move(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    added = repo.commit("add prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc())})
    moved = repo.commit("retire prod-demo01", moves={"prod/tkc-prod-demo01.yaml": "attic/tkc-prod-demo01.yaml"})
    git, history = indexed(repo, tmp_path, paths=("prod",))
    last, removed, moved_to = HistoryEvidence(history, git).removed_object(DEMO01)
    assert (last["sha"], removed["sha"], moved_to) == (added, moved, "attic/tkc-prod-demo01.yaml")


def test_a_file_that_stops_parsing_keeps_its_objects_unusable_not_deleted(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    repo.commit("a typo", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1)).replace("count: 1", "count: [1")})
    git, history = indexed(repo, tmp_path)
    evidence = HistoryEvidence(history, git)
    assert [v.digest for v in history.versions[DEMO01]][1] == "invalid"
    assert evidence.removed_object(DEMO01) is None

    fixed = repo.commit("fix the typo, 2 workers", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    history.update(git, git.sync().commit)
    assert [(history.commits[v.seq]["sha"], v.deleted) for v in history.versions[DEMO01]][-1] == (fixed, False)
    assert evidence.blame(DEMO01, WORKERS, same)["sha"] == fixed
    # The unusable version says nothing about values: Git's 1 worker was changed by the fix.
    assert [c["sha"] for c in evidence.earlier_value(DEMO01, WORKERS, 1, same)] == [created, fixed]


# ----------------------------------------------------------------------------- classes and evidence


def test_live_value_from_an_earlier_commit_is_git_ahead_naming_both_commits(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01 (1 worker)", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    repo.commit("label it", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1, labels={"a": "1"}))})
    raised = repo.commit("raise prod-demo01 to 2 workers", {
        "prod/tkc-prod-demo01.yaml": text(tkc(workers=2, labels={"a": "1"}))})
    repo.commit("label it again", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2, labels={"a": "2"}))})
    git, history = indexed(repo, tmp_path)

    obj = one(check(git, history, [live(tkc(workers=1, labels={"a": "2"}), "2026-11-01T01:05:00Z")]))
    drift = by_path(obj)["spec.topology.workers.count"]
    assert (drift.change.value, drift.desired, drift.live, drift.drift_class.value) == ("modified", 2, 1, "git-ahead")
    ev = drift.evidence
    # The commit that set the live value (not the later one that only touched a label), and the
    # commit that changed it (not the newest commit of the object).
    assert short(ev.commit) == (created, "Ada Admin", "2026-11-01T01:00:00Z", "create prod-demo01 (1 worker)")
    assert short(ev.changed_by) == (raised, "Ada Admin", "2026-11-01T03:00:00Z", "raise prod-demo01 to 2 workers")
    assert ev.blame["sha"] == raised
    assert (ev.manager, ev.operation, ev.time) == ("argocd-controller", "Apply", "2026-11-01T01:05:00Z")
    assert raised[:10] in ev.reason and "sync" in ev.reason


def test_live_value_never_in_git_written_by_kubectl_edit_is_out_of_band_with_blame(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    git, history = indexed(repo, tmp_path)

    edited = live(tkc(workers=1), "2026-11-01T01:05:00Z",
                  [("kubectl-edit", "2026-11-02T09:30:00Z", 3, "spec.topology.workers.count")])
    drift = by_path(one(check(git, history, [edited])))["spec.topology.workers.count"]
    assert (drift.desired, drift.live, drift.drift_class.value) == (1, 3, "out-of-band")
    ev = drift.evidence
    assert (ev.manager, ev.operation, ev.time) == ("kubectl-edit", "Update", "2026-11-02T09:30:00Z")
    assert ev.blame["sha"] == created and ev.commit is None and ev.changed_by is None
    assert "never in Git" in ev.reason


def test_old_git_value_set_back_by_kubectl_edit_after_the_change_is_out_of_band_not_git_ahead(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    raised = repo.commit("raise to 2 workers", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    git, history = indexed(repo, tmp_path)

    # Synced at 2 workers after the raise, then a person put 1 back by hand.
    edited = live(tkc(workers=2), "2026-11-01T02:10:00Z",
                  [("kubectl-edit", "2026-11-01T05:00:00Z", 1, "spec.topology.workers.count")])
    drift = by_path(one(check(git, history, [edited])))["spec.topology.workers.count"]
    assert drift.drift_class.value == "out-of-band"
    ev = drift.evidence
    assert (ev.commit["sha"], ev.changed_by["sha"], ev.manager) == (created, raised, "kubectl-edit")


def test_live_only_label_git_removed_is_removed_in_git_naming_the_removing_commit(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    labelled = repo.commit("label prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(labels={"team": "infra"}))})
    unlabelled = repo.commit("drop the team label", {"prod/tkc-prod-demo01.yaml": text(tkc())})
    git, history = indexed(repo, tmp_path)

    # Applied with the label before the removal; the applier still owns it (nothing re-applied).
    still = live(tkc(labels={"team": "infra"}), "2026-11-01T01:05:00Z")
    obj = one(check(git, history, [still]))
    drift = by_path(obj)["metadata.labels.team"]
    assert (drift.change.value, drift.desired, drift.live, drift.drift_class.value) == \
        ("added", None, "infra", "removed-in-git")
    assert (drift.evidence.commit["sha"], drift.evidence.changed_by["sha"]) == (labelled, unlabelled)
    assert drift.evidence.changed_by["subject"] == "drop the team label"
    assert drift.evidence.blame is None   # Git declares no value there to blame
    assert drift.evidence.reason.endswith("still live, not synced since (last sync 2026-11-01T01:05:00Z): sync")

    # A person labelled it too (before the removal): a sync keeps it, since that manager owns it.
    shared = live(tkc(labels={"team": "infra"}), "2026-11-01T01:05:00Z",
                  [("kubectl-label", "2026-11-01T01:30:00Z", "infra", "metadata.labels.team")])
    drift = by_path(one(check(git, history, [shared])))["metadata.labels.team"]
    assert drift.drift_class.value == "removed-in-git"
    assert drift.evidence.reason.endswith("an apply does not remove a field another field manager also owns: "
                                          "kubectl-label")


def test_live_only_label_added_by_hand_after_git_removed_it_is_out_of_band(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("label prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(labels={"team": "infra"}))})
    repo.commit("drop the team label", {"prod/tkc-prod-demo01.yaml": text(tkc(labels={"tier": "gold"}))})
    git, history = indexed(repo, tmp_path)

    edited = live(tkc(labels={"tier": "gold"}), "2026-11-01T02:05:00Z",
                  [("kubectl-edit", "2026-11-03T00:00:00Z", "ops", "metadata.labels.team")])
    drift = by_path(one(check(git, history, [edited])))["metadata.labels.team"]
    assert (drift.live, drift.drift_class.value, drift.evidence.manager) == ("ops", "out-of-band", "kubectl-edit")


def test_field_git_added_after_the_last_sync_is_git_ahead_and_one_removed_by_hand_after_it_is_out_of_band(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(labels={"tier": "gold"}))})
    labelled = repo.commit("label prod-demo01", {
        "prod/tkc-prod-demo01.yaml": text(tkc(labels={"tier": "gold", "team": "infra"}))})
    git, history = indexed(repo, tmp_path)

    not_synced = live(tkc(labels={"tier": "gold"}), "2026-11-01T01:30:00Z")   # before the label commit (02:00)
    drift = by_path(one(check(git, history, [not_synced])))["metadata.labels.team"]
    assert (drift.change.value, drift.drift_class.value, drift.evidence.blame["sha"]) == \
        ("removed", "git-ahead", labelled)

    synced_then_dropped = live(tkc(labels={"tier": "gold", "team": "infra"}), "2026-11-01T03:00:00Z",
                               [("kubectl-edit", "2026-11-01T04:00:00Z", None, "metadata.labels.team")])
    drift = by_path(one(check(git, history, [synced_then_dropped])))["metadata.labels.team"]
    assert (drift.change.value, drift.drift_class.value, drift.evidence.blame["sha"]) == \
        ("removed", "out-of-band", labelled)
    assert (drift.evidence.manager, drift.evidence.time) == ("kubectl-edit", "2026-11-01T04:00:00Z")

    # Synced after the label commit and nobody else wrote the object: the field is gone, but who
    # dropped it (the server, a webhook) is not known.
    dropped_by_nobody = live(tkc(labels={"tier": "gold"}), "2026-11-01T03:00:00Z")
    drift = by_path(one(check(git, history, [dropped_by_nobody])))["metadata.labels.team"]
    assert (drift.change.value, drift.drift_class.value, drift.evidence.manager) == ("removed", "unknown", None)
    assert "no field manager says who removed it" in drift.evidence.reason


def test_object_deleted_from_git_but_live_is_unmanaged_with_removed_in_git_evidence(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc())})
    added = repo.commit("add prod-demo02", {"prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    deleted = repo.commit("delete prod-demo02", {"prod/tkc-prod-demo02.yaml": None})
    git, history = indexed(repo, tmp_path)

    result = check(git, history, [live(tkc(), "2026-11-01T04:00:00Z"), live(tkc("prod-demo02", 2), "2026-11-01T04:00:00Z")])
    gone = by_name(result, "prod-demo02")
    assert gone.status is Status.UNMANAGED
    assert (gone.evidence["class"], gone.evidence["commit"]["sha"], gone.evidence["changed_by"]["sha"]) == \
        ("removed-in-git", added, deleted)
    assert gone.to_json()["evidence"]["changed_by"]["subject"] == "delete prod-demo02"
    assert by_name(result, "prod-demo01").status is Status.IN_SYNC


def test_git_ahead_after_delete_restore_and_move_names_the_restore_and_the_change(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("add prod-demo02", {"tkgs/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    repo.commit("delete prod-demo02", {"tkgs/tkc-prod-demo02.yaml": None})
    restored = repo.commit("restore prod-demo02", {"tkgs/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    repo.commit("move to prod/", moves={"tkgs/tkc-prod-demo02.yaml": "prod/tkc-prod-demo02.yaml"})
    larger = repo.commit("prod-demo02: large workers", {
        "prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2, "best-effort-large"))})
    git, history = indexed(repo, tmp_path)

    drift = by_path(one(check(git, history, [live(tkc("prod-demo02", 2), "2026-11-01T04:30:00Z")])))[
        "spec.topology.workers.class"]
    assert (drift.desired, drift.live, drift.drift_class.value) == ("best-effort-large", "best-effort-medium", "git-ahead")
    assert (drift.evidence.commit["sha"], drift.evidence.changed_by["sha"], drift.evidence.blame["sha"]) == \
        (restored, larger, larger)


def test_without_history_the_same_drift_is_classified_from_the_live_object_only(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("create", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    repo.commit("raise", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    git, history = indexed(repo, tmp_path)
    loaded = git.manifests(history.tip)
    result = diff_sets(loaded.manifests, loaded.problems, [live(tkc(workers=1), "2026-11-01T01:05:00Z")],
                       engine_options(None))
    drift = by_path(one(result))["spec.topology.workers.count"]
    # The applier wrote it: git-ahead still, but with no commit to name.
    assert drift.drift_class.value == "git-ahead"
    assert (drift.evidence.commit, drift.evidence.changed_by, drift.evidence.blame) == (None, None, None)


# ----------------------------------------------------------------------------- cost


def test_warm_update_walks_only_the_new_commit_and_parses_only_its_blob(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    for n in range(1, 6):
        repo.commit(f"workers {n}", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=n)),
                                     f"prod/cm-{n}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{n}\n"
                                                          "  namespace: prod\n"})
    git, history = indexed(repo, tmp_path)
    assert (history.walked, history.rebuilt, history.rewritten) == (5, True, False)
    cold_parsed = history.parsed
    assert cold_parsed == 10                  # 5 versions of the TKC file + 5 ConfigMap files, each once

    history.update(git, git.sync().commit)
    assert (history.walked, history.parsed, history.rebuilt) == (0, 0, False)

    repo.commit("workers 6", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=6))})
    history.update(git, git.sync().commit)
    assert (history.walked, history.parsed, history.rebuilt) == (1, 1, False)
    assert len(history.versions[DEMO01]) == 6


def test_saved_index_is_continued_by_a_new_process_without_a_walk_of_the_history(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    for n in range(1, 4):
        repo.commit(f"workers {n}", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=n))})
    git, history = indexed(repo, tmp_path)
    path = index_path(tmp_path / "state", "prod")
    history.save(path)
    repo.commit("workers 4", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=4))})

    fresh_git = GitSource(source(repo), tmp_path / "state")   # a new process: empty blob cache
    again = ObjectHistory.load(path, "prod", None, (".",))
    assert again.tip == history.tip and again.versions == history.versions
    again.update(fresh_git, fresh_git.sync().commit)
    # One new commit; two parses: the tip file before it (to know what it held) and the new blob.
    assert (again.walked, again.rebuilt, fresh_git.parse_count) == (1, False, 2)
    assert [v.digest is not None for v in again.versions[DEMO01]] == [True] * 4


def test_an_index_built_for_other_paths_or_namespace_or_unreadable_is_not_used(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("create", {"prod/tkc-prod-demo01.yaml": text(tkc())})
    git, history = indexed(repo, tmp_path)
    path = tmp_path / "index.json"
    history.save(path)
    assert ObjectHistory.load(path, "prod", None, (".",)).tip == history.tip
    assert ObjectHistory.load(path, "prod", None, ("prod",)).tip is None
    assert ObjectHistory.load(path, "prod", "other", (".",)).tip is None
    path.write_text('{"format": 2, "default_namespace": null, "paths": ["."], "tip": 3}')
    assert ObjectHistory.load(path, "prod", None, (".",)).tip is None
    path.write_text("not json")
    assert ObjectHistory.load(path, "prod", None, (".",)).versions == {}


def test_force_push_rebuilds_from_the_new_history_and_says_it_was_rewritten(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    dropped = repo.commit("raise to 2", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    git, history = indexed(repo, tmp_path)
    assert history.tip == dropped

    repo.git("reset", "-q", "--hard", created)
    replaced = repo.commit("raise to 5 instead", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=5))})
    history.update(git, git.sync().commit)
    assert (history.rebuilt, history.rewritten, history.tip) == (True, True, replaced)
    assert [history.commits[v.seq]["sha"] for v in history.versions[DEMO01]] == [created, replaced]
    assert dropped not in {c["sha"] for c in history.commits}

    repo.commit("raise to 6", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=6))})
    history.update(git, git.sync().commit)
    assert (history.walked, history.rebuilt, history.rewritten) == (1, False, False)


def test_tip_merging_the_indexed_tip_as_second_parent_is_reindexed_along_the_first_parent_chain(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    base = repo.commit("create", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    repo.git("checkout", "-q", "-b", "feature")
    side = repo.commit("raise on a branch", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=3))})
    git = GitSource(source(repo), tmp_path / "state")      # updated by sha: the branch is not read
    history = ObjectHistory("prod", None, (".",))
    history.update(git, side)
    repo.git("checkout", "-q", "main")
    other = repo.commit("label on main", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1, labels={"a": "b"}))})
    repo.git("merge", "-q", "--no-ff", "-X", "theirs", "-m", "merge feature", "feature", date=repo.date(50))
    merge = repo.head()

    history.update(git, merge)
    assert (history.rebuilt, history.rewritten) == (True, False)
    # First-parent chain: create -> label on main -> merge (which brought the 3 workers in).
    assert [history.commits[v.seq]["sha"] for v in history.versions[DEMO01]] == [base, other, merge]
    evidence = HistoryEvidence(history, git)
    assert evidence.blame(DEMO01, WORKERS, same)["sha"] == merge


# ----------------------------------------------------------------------------- failures


def test_unreadable_blob_gives_no_history_answer_and_classification_falls_back(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit("create", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    repo.commit("raise", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    git, history = indexed(repo, tmp_path)
    loaded = git.manifests(history.tip)             # the tip is read before the damage

    old_blob = repo.git("rev-parse", f"{first}:prod/tkc-prod-demo01.yaml")
    (repo.path / ".git" / "objects" / old_blob[:2] / old_blob[2:]).unlink()
    fresh = GitSource(source(repo), tmp_path / "state")
    evidence = HistoryEvidence(history, fresh)
    result = diff_sets(loaded.manifests, loaded.problems, [live(tkc(workers=1), "2026-11-01T01:05:00Z")],
                       engine_options(None), evidence)
    drift = by_path(one(result))["spec.topology.workers.count"]
    assert drift.drift_class.value == "git-ahead"    # the live-only rule: the applier wrote it
    assert drift.evidence.commit is None
    assert evidence.failures and old_blob in evidence.failures[0]


def test_history_of_a_repository_that_is_gone_is_a_git_error_and_leaves_an_empty_index(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("create", {"prod/tkc-prod-demo01.yaml": text(tkc())})
    git, history = indexed(repo, tmp_path)
    tip = history.tip
    repo.commit("more", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    new_tip = repo.head()
    shutil.rmtree(repo.path / ".git" / "objects")
    (repo.path / ".git" / "objects").mkdir()
    with pytest.raises(GitError, match="git source 'prod'"):
        history.update(git, new_tip)
    assert (history.tip, history.versions, history.files) == (None, {}, {})
    assert tip != new_tip


def test_saved_index_is_plain_json_naming_commits_and_versions(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc())})
    _, history = indexed(repo, tmp_path)
    path = tmp_path / "state" / "history" / "prod.json"
    history.save(path)
    data = json.loads(Path(path).read_text())
    assert data["tip"] == created and data["commits"][0]["subject"] == "create prod-demo01"
    assert data["versions"][0][0] == ["run.tanzu.vmware.com", "TanzuKubernetesCluster", "prod", "prod-demo01"]


# ----------------------------------------------------------------------------- where the evidence shows


def _story_run(tmp_path):
    """prod-demo01 git-ahead (1 -> 2 workers, not synced) and prod-demo02 deleted from Git, still live."""
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01 (1 worker)", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=1))})
    added = repo.commit("add prod-demo02", {"prod/tkc-prod-demo02.yaml": text(tkc("prod-demo02", 2))})
    raised = repo.commit("raise prod-demo01 to 2 workers", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    deleted = repo.commit("delete prod-demo02", {"prod/tkc-prod-demo02.yaml": None})
    git, history = indexed(repo, tmp_path)
    lives = [live(tkc(workers=1), "2026-11-01T02:30:00Z"), live(tkc("prod-demo02", 2), "2026-11-01T02:30:00Z")]
    result = check(git, history, lives)
    run = RunRecord(cluster="supervisor", source="prod", started_at="2026-11-02T00:00:00Z",
                    finished_at="2026-11-02T00:00:01Z", commit=history.tip, verdict=result.verdict,
                    objects=result.objects, live={object_key(obj): obj for obj in lives},
                    watched=[("run.tanzu.vmware.com", "TanzuKubernetesCluster")], namespaces=["prod"])
    return run, result, {"created": created, "added": added, "raised": raised, "deleted": deleted}


def test_evidence_with_commits_and_blame_survives_the_audit_trail_and_the_alert_payload(tmp_path):
    run, _, shas = _story_run(tmp_path)
    with AuditStore.open(str(tmp_path / "audit.db")) as store:
        store.record_run(run)
        events = {e["name"]: e for e in store.events()}
        [field] = events["prod-demo01"]["fields"]
        assert field["class"] == "git-ahead"
        ev = field["evidence"]
        assert (ev["commit"]["sha"], ev["changed_by"]["sha"], ev["blame"]["sha"]) == \
            (shas["created"], shas["raised"], shas["raised"])
        assert (ev["changed_by"]["author"], ev["changed_by"]["date"], ev["changed_by"]["subject"]) == \
            ("Ada Admin", "2026-11-01T03:00:00Z", "raise prod-demo01 to 2 workers")
        assert ev["manager"] == "argocd-controller"

        gone = events["prod-demo02"]
        assert (gone["status"], gone["evidence"]["class"], gone["evidence"]["changed_by"]["sha"]) == \
            ("unmanaged", "removed-in-git", shas["deleted"])
        assert gone["summary"] == f"unmanaged: live, removed from Git by {shas['deleted'][:10]} (delete prod-demo02)"

        payloads = {p["payload"]["event"]["name"]: p["payload"] for p in outbox_rows(store)}
        assert payloads["prod-demo01"]["fields"][0]["evidence"]["blame"]["sha"] == shas["raised"]
        assert payloads["prod-demo02"]["event"]["evidence"]["changed_by"]["subject"] == "delete prod-demo02"


def test_report_table_json_and_csv_show_the_git_evidence(tmp_path):
    run, _, shas = _story_run(tmp_path)
    db = str(tmp_path / "audit.db")
    with AuditStore.open(db) as store:
        store.record_run(run)
    runner = CliRunner()
    table = runner.invoke(report_command, ["--database", db])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert "    spec.topology.workers.count: 2 -> 1  git-ahead  argocd-controller Apply 2026-11-01T02:30:00Z" in lines
    assert f"      live value from:   {shas['created'][:10]} 2026-11-01 Ada Admin: create prod-demo01 (1 worker)" in lines
    assert f"      changed in Git by: {shas['raised'][:10]} 2026-11-01 Ada Admin: raise prod-demo01 to 2 workers" in lines
    assert f"      desired set by:    {shas['raised'][:10]} 2026-11-01 Ada Admin: raise prod-demo01 to 2 workers" in lines
    assert f"      removed from Git by: {shas['deleted'][:10]} 2026-11-01 Ada Admin: delete prod-demo02" in lines

    doc = json.loads(runner.invoke(report_command, ["--database", db, "-o", "json"]).output)
    by = {e["name"]: e for e in doc["events"]}
    assert by["prod-demo01"]["fields"][0]["evidence"]["blame"]["sha"] == shas["raised"]
    assert by["prod-demo02"]["evidence"]["commit"]["sha"] == shas["added"]

    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(runner.invoke(report_command,
                                                                            ["--database", db, "-o", "csv"]).output))}
    assert (rows["prod-demo01"]["commit"], rows["prod-demo01"]["changed_by"], rows["prod-demo01"]["blame"]) == \
        (shas["created"], shas["raised"], shas["raised"])
    assert rows["prod-demo02"]["changed_by"] == shas["deleted"]


def test_check_table_and_json_show_commit_changed_by_and_blame(tmp_path):
    _, result, shas = _story_run(tmp_path)
    table = report_table(result).splitlines()
    assert f"      live value from:   {shas['created'][:10]} 2026-11-01 Ada Admin: create prod-demo01 (1 worker)" in table
    assert f"      desired set by:    {shas['raised'][:10]} 2026-11-01 Ada Admin: raise prod-demo01 to 2 workers" in table
    assert f"    class removed-in-git · removed from Git by {shas['deleted'][:10]} (delete prod-demo02); still live" \
        in table
    assert f"      last in Git at:      {shas['added'][:10]} 2026-11-01 Ada Admin: add prod-demo02" in table
    doc = report_json(result)
    [demo01] = [o for o in doc["objects"] if o["name"] == "prod-demo01"]
    [drift] = demo01["drifts"]
    assert {k: drift[k] for k in ("path", "change", "desired", "live", "class")} == \
        {"path": "spec.topology.workers.count", "change": "modified", "desired": 2, "live": 1, "class": "git-ahead"}
    assert (drift["evidence"]["commit"]["sha"], drift["evidence"]["changed_by"]["sha"],
            drift["evidence"]["blame"]["sha"]) == (shas["created"], shas["raised"], shas["raised"])


def test_drift_with_no_evidence_either_way_is_unknown_and_says_what_was_looked_at(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    created = repo.commit("create prod-demo01", {"prod/tkc-prod-demo01.yaml": text(tkc(workers=2))})
    git, history = indexed(repo, tmp_path)
    nobody = tkc(workers=5)            # no managedFields, no last-applied: nobody says who wrote 5
    drift = by_path(one(check(git, history, [nobody])))["spec.topology.workers.count"]
    assert (drift.desired, drift.live, drift.drift_class.value) == (2, 5, "unknown")
    assert drift.evidence.blame["sha"] == created
    assert drift.evidence.reason == ("no evidence of which side moved: no field manager owns it, no last-applied "
                                     "record, the live value was never in Git for this object")


def test_changes_lists_every_first_parent_commit_with_only_its_regular_yaml_files(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit("first", {"prod/a.yaml": text(tkc()), "README.md": "# docs\n"})
    docs = repo.commit("docs only", {"README.md": "# more docs\n"})
    (repo.path / "prod" / "link.yaml").symlink_to("a.yaml")
    linked = repo.commit("a symbolic link and a rename", moves={"prod/a.yaml": "prod/b.yml"})
    git = GitSource(source(repo), tmp_path / "state")
    changes = list(git.changes(linked))
    assert [(c.sha, c.parent, c.subject) for c in changes] == [(first, None, "first"), (docs, first, "docs only"),
                                                             (linked, docs, "a symbolic link and a rename")]
    blob = repo.git("rev-parse", f"{first}:prod/a.yaml")
    assert changes[0].files == [("prod/a.yaml", blob)]
    assert changes[1].files == []
    # A rename is a delete and an add (--no-renames); the link counts as no file.
    assert sorted(changes[2].files) == [("prod/a.yaml", None), ("prod/b.yml", blob), ("prod/link.yaml", None)]
    assert (changes[0].author, changes[0].email, changes[0].date) == ("Ada Admin", "ada@example.com",
                                                                      "2026-11-01T01:00:00Z")
    assert [c.sha for c in git.changes(linked, first)] == [docs, linked]


def test_classify_missing_from_the_audit_trails_memory():
    from driftd.classify import classify_missing

    blame = {"sha": "a" * 40, "subject": "add prod-demo02", "date": "2026-11-05T10:00:00Z"}
    git_says = {"class": "unknown", "blame": blame, "reason": "declared in Git since aaaaaaaaaa"}
    live = {"seen_at": "2026-11-06T10:00:00Z", "run_id": 7, "deleted": False}
    gone = {"seen_at": "2026-11-07T10:00:00Z", "run_id": 9, "deleted": True}

    deleted = classify_missing(git_says, [live, gone], "2026-11-01T00:00:00Z")
    assert (deleted["class"], deleted["last_live"], deleted["blame"]) == ("out-of-band", live["seen_at"], blame)
    assert deleted["reason"] == ("deleted from the cluster: driftd saw it live (content as of 2026-11-06T10:00:00Z, "
                                 "run 7), gone since 2026-11-07T10:00:00Z (run 9); Git declares it since aaaaaaaaaa")
    # live only before Git declared it (an old object of the same name): not evidence of a deletion
    older = {**live, "seen_at": "2026-11-04T10:00:00Z"}
    assert classify_missing(git_says, [older, gone], "2026-11-01T00:00:00Z")["class"] == "git-ahead"
    # declared before driftd began watching and never seen: nobody knows
    assert classify_missing(git_says, [], "2026-11-06T00:00:00Z") == git_says
    assert classify_missing(git_says, [], None) == git_says
