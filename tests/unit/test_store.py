"""The audit trail on real SQLite files: schema, snapshots, the drift-event lifecycle, the outbox,
atomic runs and clear errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import stat

import pytest
from sqlite_utils.db import Table

from driftd.model import (Change, CycleError, DriftClass, Evidence, FieldDrift, ObjectKey, ObjectResult,
                          RunRecord, Status, Verdict)
from driftd.paths import parse
from driftd.store import AuditStore, StoreError, content_hash, iso_utc

TKC = ("run.tanzu.vmware.com", "TanzuKubernetesCluster")
MD = ("cluster.x-k8s.io", "MachineDeployment")
KEY = ObjectKey(*TKC, "ns1", "tkc-1")
MD_KEY = ObjectKey(*MD, "ns1", "md-1")
REPLICAS = "spec.topology.nodePools[name=np-1].replicas"
CLASS = "spec.topology.nodePools[name=np-1].vmClass"
TABLES = ("runs", "snapshots", "drift_events", "drift_fields", "outbox", "reverts")


def at(day: int, hour: int = 10) -> str:
    return f"2026-12-{day:02d}T{hour:02d}:00:00Z"


def tkc(replicas: int = 1, vm_class: str = "best-effort-small", rv: str = "100", phase: str = "running",
        manager: str = "argocd-controller", time: str = "2026-12-01T09:00:00Z") -> dict:
    return {"apiVersion": "run.tanzu.vmware.com/v1alpha3", "kind": "TanzuKubernetesCluster",
            "metadata": {"name": "tkc-1", "namespace": "ns1", "resourceVersion": rv, "generation": 3,
                         "managedFields": [{"manager": manager, "operation": "Update", "time": time}]},
            "spec": {"topology": {"nodePools": [{"name": "np-1", "replicas": replicas, "vmClass": vm_class}]}},
            "status": {"phase": phase}}


def md(replicas: int = 2) -> dict:
    return {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
            "metadata": {"name": "md-1", "namespace": "ns1", "resourceVersion": "7"}, "spec": {"replicas": replicas}}


def replicas_drift(desired: object, live: object, manager: str = "kubectl-edit",
                   time: str = "2026-12-02T08:00:00Z") -> FieldDrift:
    return FieldDrift(parse(REPLICAS), Change.MODIFIED, desired, live, DriftClass.OUT_OF_BAND,
                      Evidence(manager=manager, operation="Update", time=time,
                               reason=f"{manager} changed it outside Git"))


def class_drift(desired: str, live: str) -> FieldDrift:
    return FieldDrift(parse(CLASS), Change.MODIFIED, desired, live, DriftClass.GIT_AHEAD,
                      Evidence(commit={"sha": "c2", "subject": "bigger VMs"}), note="Git changed it")


def result(status: Status, *drifts: FieldDrift, key: ObjectKey = KEY) -> ObjectResult:
    return ObjectResult(key, status, api_version="run.tanzu.vmware.com/v1alpha3", drifts=list(drifts),
                        source={"file": "clusters/tkc-1.yaml", "line": 1, "commit": "c1"})


def make_run(day: int, objects: list[ObjectResult] | None = None, live: dict | None = None,
             commit: str | None = "c1", errors: list[CycleError] | None = None,
             watched: list | None = None, namespaces: list[str] | None = None, verdict: Verdict | None = None,
             reverted: list[ObjectKey] | None = None, hour: int = 10, cluster: str = "prod",
             source: str = "gitops") -> RunRecord:
    objects = objects or []
    if verdict is None:
        verdict = Verdict.ERROR if errors or commit is None else (
            Verdict.DRIFT if any(o.status is not Status.IN_SYNC for o in objects) else Verdict.IN_SYNC)
    return RunRecord(cluster=cluster, source=source, started_at=at(day, hour),
                     finished_at=f"2026-12-{day:02d}T{hour:02d}:00:05Z", commit=commit, verdict=verdict,
                     objects=objects, live=live if live is not None else {KEY: tkc()},
                     watched=watched if watched is not None else [TKC, MD],
                     namespaces=namespaces if namespaces is not None else ["ns1"],
                     errors=errors or [], reverted=reverted or [])


@pytest.fixture
def store(tmp_path):
    s = AuditStore.open(str(tmp_path / "audit.db"))
    yield s
    s.close()


def count(store: AuditStore, table: str, where: str = "1", args=()) -> int:
    return store.db.execute(f"SELECT count(*) FROM {table} WHERE {where}", list(args)).fetchone()[0]


def counts(store: AuditStore) -> dict[str, int]:
    return {t: count(store, t) for t in TABLES}


def outbox_types(store: AuditStore) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT event_type FROM outbox ORDER BY id")]


def outbox_rows(store: AuditStore) -> list[dict]:
    """The queued alert events, oldest first, payload decoded."""
    rows = list(store.db.query("SELECT * FROM outbox ORDER BY id"))
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


# ----------------------------------------------------------------------------- opening

def test_open_creates_folder_schema_through_migrations_mode_0600_and_wal(tmp_path):
    path = tmp_path / "var" / "lib" / "driftd" / "driftd.db"
    s = AuditStore.open(str(path))
    s.record_run(make_run(1))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for side in (str(path) + "-wal", str(path) + "-shm"):
        if os.path.exists(side):
            assert stat.S_IMODE(os.stat(side).st_mode) == 0o600
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert set(TABLES) <= set(s.db.table_names())
    applied = s.db.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall()
    assert applied == [("driftd", "m001_initial"), ("driftd", "m002_drift_event_evidence"),
                       ("driftd", "m003_alert_deliveries"), ("driftd", "m004_run_compare_modes")]
    s.close()
    again = AuditStore.open(str(path))       # reopening applies nothing twice and keeps the data
    assert again.db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 4
    assert count(again, "runs") == 1
    again.close()


def test_open_tightens_an_existing_file_to_0600(tmp_path):
    path = tmp_path / "audit.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    AuditStore.open(str(path)).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_schema_indexes_for_report_filters(store):
    names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"drift_events_object", "drift_events_state", "drift_events_opened", "drift_events_resolved",
            "drift_events_one_open", "snapshots_object", "runs_cluster_started", "outbox_pending"} <= names


# ----------------------------------------------------------------------------- snapshots

def test_unchanged_object_adds_no_snapshot_row_even_with_a_new_resource_version(store):
    store.record_run(make_run(1, live={KEY: tkc(rv="100")}))
    store.record_run(make_run(2, live={KEY: tkc(rv="100")}))
    store.record_run(make_run(3, live={KEY: tkc(rv="250")}))
    assert count(store, "snapshots") == 1
    assert content_hash(tkc(rv="1")) == content_hash(tkc(rv="2"))


def test_changed_object_adds_a_row_with_the_raw_content(store):
    store.record_run(make_run(1, live={KEY: tkc(replicas=1)}))
    run2 = store.record_run(make_run(2, live={KEY: tkc(replicas=3, manager="kubectl-edit")}))
    rows = store.object_history("prod", *TKC, "ns1", "tkc-1")
    assert [r["content"]["spec"]["topology"]["nodePools"][0]["replicas"] for r in rows] == [1, 3]
    assert rows[1]["run_id"] == run2 and rows[1]["seen_at"] == at(2)
    assert rows[1]["content"]["metadata"]["resourceVersion"] == "100"      # the raw object is kept
    assert rows[1]["content"]["metadata"]["managedFields"][0]["manager"] == "kubectl-edit"
    assert rows[1]["content_hash"] == content_hash(tkc(replicas=3, manager="kubectl-edit"))


def test_object_gone_from_a_successful_list_gets_one_deleted_row(store):
    store.record_run(make_run(1, live={KEY: tkc(), MD_KEY: md()}))
    store.record_run(make_run(2, live={MD_KEY: md()}))
    store.record_run(make_run(3, live={MD_KEY: md()}))
    rows = store.object_history("prod", *TKC, "ns1", "tkc-1")
    assert [(r["deleted"], r["seen_at"]) for r in rows] == [(False, at(1)), (True, at(2))]
    assert rows[1]["content"] is None and rows[1]["content_hash"] is None
    store.record_run(make_run(4, live={KEY: tkc(), MD_KEY: md()}))      # back again: a new row
    assert [r["deleted"] for r in store.object_history("prod", *TKC, "ns1", "tkc-1")] == [False, True, False]


def test_objects_outside_the_listed_namespaces_or_kinds_are_not_marked_deleted(store):
    other = ObjectKey(*TKC, "ns2", "tkc-2")
    store.record_run(make_run(1, live={KEY: tkc(), other: {**tkc(), "metadata": {"name": "tkc-2", "namespace": "ns2"}}},
                              namespaces=None))
    store.record_run(make_run(2, live={}, namespaces=["ns1"], watched=[MD]))   # TKC not listed, ns2 not listed
    assert count(store, "snapshots", "deleted = 1") == 0
    store.record_run(make_run(3, live={}, namespaces=["ns1"]))               # TKC listed in ns1 only
    assert [r["name"] for r in store.db.query("SELECT name FROM snapshots WHERE deleted = 1")] == ["tkc-1"]


def test_failed_list_is_never_read_as_deletion_or_resolution(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    failed = CycleError("kube", "TanzuKubernetesCluster.run.tanzu.vmware.com in prod", "403 Forbidden", TKC)
    # The LIST failed: TKC is not in watched, nothing of it is live, and the engine (wrongly) says missing.
    store.record_run(make_run(2, [result(Status.MISSING)], live={MD_KEY: md()}, errors=[failed],
                              watched=[MD], verdict=Verdict.ERROR))
    # Even if a failed kind were also listed as watched, the error wins.
    store.record_run(make_run(3, [], live={MD_KEY: md()}, errors=[failed], watched=[TKC, MD], verdict=Verdict.ERROR))
    assert count(store, "snapshots", "deleted = 1") == 0
    [event] = store.events()
    assert (event["state"], event["status"], event["last_seen_at"]) == ("open", "drifted", at(1))
    assert outbox_types(store) == ["drift_opened", "cycle_failed", "cycle_failed"]


# ----------------------------------------------------------------------------- Git unavailable

def test_git_unavailable_touches_no_event_and_queues_cycle_failed(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    before = store.events()
    git = CycleError("git", "https://git.example/infra.git", "cannot fetch: connection refused")
    run_id = store.record_run(make_run(2, [], live={KEY: tkc(replicas=1)}, commit=None, errors=[git]))
    assert store.events() == before
    assert count(store, "drift_events") == 1 and count(store, "drift_fields", "state = 'open'") == 1
    [failed] = [r for r in outbox_rows(store) if r["event_type"] == "cycle_failed"]
    assert failed["run_id"] == run_id and failed["event_id"] is None
    assert failed["payload"]["errors"] == [git.to_json()]
    assert failed["payload"]["run"] == {"id": run_id, "cluster": "prod", "source": "gitops", "commit": None,
                                        "started_at": at(2)}
    [row] = store.runs(limit=1)
    assert row["git_commit"] is None and row["verdict"] == "error" and row["errors"] == [git.to_json()]
    # Live snapshots are facts of their own: still recorded.
    assert count(store, "snapshots") == 2


def test_error_verdict_without_objects_touches_no_event(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    kube = CycleError("kube", "prod", "cluster prod: not configured")
    store.record_run(make_run(2, [], live={}, watched=[], errors=[kube]))
    [event] = store.events()
    assert event["state"] == "open" and event["last_seen_run"] == 1
    assert outbox_types(store) == ["drift_opened", "cycle_failed"]


# ----------------------------------------------------------------------------- event lifecycle

def test_event_opened_continued_and_resolved_when_the_cluster_changes_back(store):
    r1 = store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    r2 = store.record_run(make_run(2, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    [event] = store.events()
    assert (event["state"], event["opened_run"], event["last_seen_run"], event["last_seen_at"]) == ("open", r1, r2, at(2))
    assert event["summary"] == f"{REPLICAS} 1 -> 3 (out-of-band, kubectl-edit)"
    assert event["commit_opened"] == "c1" and event["source"] == "gitops" and event["api_group"] == TKC[0]
    r3 = store.record_run(make_run(3, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1, rv="300")}))
    [event] = store.events()
    assert (event["state"], event["resolution"], event["resolved_run"], event["resolved_at"]) == \
        ("resolved", "cluster-changed", r3, at(3))
    assert event["commit_resolved"] == "c1"
    [field] = event["fields"]
    assert (field["state"], field["first_seen_run"], field["last_seen_run"], field["resolved_run"]) == \
        ("resolved", r1, r2, r3)
    assert (field["desired"], field["live"], field["class"], field["change"]) == (1, 3, "out-of-band", "modified")
    assert field["evidence"]["manager"] == "kubectl-edit"
    assert outbox_types(store) == ["drift_opened", "drift_resolved"]


def test_cluster_set_back_within_the_same_second_is_still_a_cluster_change(store):
    # Times have second precision: `driftd check` twice in one second must still compare the
    # object as the drifted run saw it, not the snapshot the resolving run just wrote.
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    store.record_run(make_run(1, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1, rv="300")}))
    [event] = store.events()
    assert (event["state"], event["resolution"], event["opened_at"], event["resolved_at"]) == \
        ("resolved", "cluster-changed", at(1), at(1))


def test_an_unusable_git_document_neither_opens_nor_resolves_an_episode(store):
    invalid = ObjectResult(KEY, Status.INVALID, invalid_detail={"file": "clusters/tkc-1.yaml", "lines": [3, 7],
                                                                "message": "duplicate key"})
    store.record_run(make_run(1, [invalid], live={KEY: tkc(replicas=3)}, verdict=Verdict.INVALID))
    assert store.events() == []
    store.record_run(make_run(2, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    store.record_run(make_run(3, [invalid], live={KEY: tkc(replicas=1)}, verdict=Verdict.INVALID))
    [event] = store.events()
    assert (event["state"], event["last_seen_run"], event["resolved_run"]) == ("open", 2, None)


def test_event_resolved_by_a_git_change_when_live_did_not_move(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    # Git now says 3; the live object only got a new status and resourceVersion.
    store.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=3, rv="400", phase="updating")},
                              commit="c2"))
    [event] = store.events()
    assert (event["resolution"], event["commit_opened"], event["commit_resolved"]) == ("git-changed", "c1", "c2")


def test_event_resolved_as_reverted_when_driftd_reverted_it(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    store.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1)}, reverted=[KEY]))
    assert store.events()[0]["resolution"] == "reverted"


def test_status_change_resolves_the_episode_and_opens_a_new_one(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    store.record_run(make_run(2, [result(Status.MISSING)], live={}))
    missing, drifted = store.events()
    assert (drifted["state"], drifted["resolution"]) == ("resolved", "status-changed")
    assert (missing["state"], missing["status"], missing["summary"]) == \
        ("open", "missing", "missing: declared in Git, not live")
    # Removed from Git while still not live: gone from both sides.
    store.record_run(make_run(3, [], live={}, commit="c3"))
    assert store.events(state="resolved")[0]["resolution"] == "object-deleted"
    assert store.events(state="open") == []
    assert outbox_types(store) == ["drift_opened", "drift_resolved", "drift_opened", "drift_resolved"]


def test_unmanaged_object_still_live_but_not_judged_stays_open(store):
    store.record_run(make_run(1, [result(Status.UNMANAGED)], live={KEY: tkc()}))
    store.record_run(make_run(2, [], live={KEY: tkc()}))          # e.g. unmanaged reporting turned off
    assert store.events()[0]["state"] == "open"


def test_problems_in_git_keep_unjudged_events_open(store):
    store.record_run(make_run(1, [result(Status.MISSING)], live={}))
    run = make_run(2, [], live={})
    run.problems = [{"file": "clusters/tkc-1.yaml", "lines": [1, 9], "message": "mapping values are not allowed"}]
    store.record_run(run)
    assert store.events()[0]["state"] == "open"


def test_unmanaged_is_not_known_while_a_git_document_of_unknown_identity_is_unreadable(store):
    unreadable = [{"file": "prod/broken.yaml", "lines": [3], "message": "kind missing: not a usable object"}]
    run = make_run(1, [result(Status.UNMANAGED)], live={KEY: tkc()})
    run.problems = list(unreadable)
    store.record_run(run)
    assert store.events() == []            # the broken document may declare it: no episode opened
    store.record_run(make_run(2, [result(Status.UNMANAGED)], live={KEY: tkc()}))
    assert [(e["status"], e["state"]) for e in store.events()] == [("unmanaged", "open")]
    run = make_run(3, [result(Status.UNMANAGED)], live={KEY: tkc()})
    run.problems = list(unreadable)
    store.record_run(run)
    assert [(e["state"], e["last_seen_run"]) for e in store.events()] == [("open", 2)]   # neither seen nor resolved


def test_an_invalid_known_object_does_not_stop_unmanaged_episodes_of_others(store):
    other = ObjectKey(KEY.group, KEY.kind, KEY.namespace, "tkc-2")
    run = make_run(1, [result(Status.INVALID), result(Status.UNMANAGED, key=other)], live={KEY: tkc(), other: tkc()})
    run.problems = [{"file": "clusters/tkc-1.yaml", "lines": [4], "message": "duplicate key", "object": str(KEY)}]
    store.record_run(run)
    assert [(e["name"], e["status"]) for e in store.events()] == [("tkc-2", "unmanaged")]


def test_an_episode_whose_drifts_all_ended_while_others_began_is_resolved_and_a_new_one_opens(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    # a sync put replicas back while a new commit changed the VM class: another story, not a change
    store.record_run(make_run(2, [result(Status.DRIFTED, class_drift("guaranteed-large", "best-effort-small"))],
                              live={KEY: tkc(replicas=1)}))
    first, second = sorted(store.events(), key=lambda e: e["id"])
    assert (first["state"], first["resolution"], [f["path"] for f in first["fields"]]) == (
        "resolved", "cluster-changed", [REPLICAS])
    assert (second["state"], [f["path"] for f in second["fields"]]) == ("open", [CLASS])
    assert outbox_types(store) == ["drift_opened", "drift_resolved", "drift_opened"]


def test_a_field_whose_class_changes_opens_a_new_episode(store):
    git_ahead = FieldDrift(parse(REPLICAS), Change.MODIFIED, 2, 1, DriftClass.GIT_AHEAD, Evidence())
    store.record_run(make_run(1, [result(Status.DRIFTED, git_ahead)], live={KEY: tkc(replicas=1)}))
    store.record_run(make_run(2, [result(Status.DRIFTED, replicas_drift(2, 3))], live={KEY: tkc(replicas=3)}))
    classes = [(e["state"], e["fields"][0]["class"]) for e in sorted(store.events(), key=lambda e: e["id"])]
    assert classes == [("resolved", "git-ahead"), ("open", "out-of-band")]


def test_field_details_follow_later_runs(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    # Live moves on (3 -> 5) and a second field drifts: one drift_changed alert.
    store.record_run(make_run(2, [result(Status.DRIFTED, replicas_drift(1, 5, time="2026-12-02T09:30:00Z"),
                                         class_drift("guaranteed-large", "best-effort-small"))],
                              live={KEY: tkc(replicas=5)}))
    [event] = store.events()
    replicas, vm_class = event["fields"]
    assert (replicas["live"], replicas["evidence"]["time"], replicas["first_seen_run"], replicas["last_seen_run"]) == \
        (5, "2026-12-02T09:30:00Z", 1, 2)
    assert (vm_class["path"], vm_class["class"], vm_class["evidence"]["commit"]["sha"], vm_class["note"]) == \
        (CLASS, "git-ahead", "c2", "Git changed it")
    assert event["summary"].endswith("(+1 more)")
    # replicas back in sync, the object still drifted by its VM class.
    store.record_run(make_run(3, [result(Status.DRIFTED, class_drift("guaranteed-large", "best-effort-small"))],
                              live={KEY: tkc(replicas=1)}))
    [event] = store.events()
    replicas, vm_class = event["fields"]
    assert event["state"] == "open"
    assert (replicas["state"], replicas["resolved_run"], vm_class["state"]) == ("resolved", 3, "open")
    # Same drift again with only newer evidence: updated, but no new alert.
    store.record_run(make_run(4, [result(Status.DRIFTED, FieldDrift(
        parse(CLASS), Change.MODIFIED, "guaranteed-large", "best-effort-small", DriftClass.GIT_AHEAD,
        Evidence(commit={"sha": "c2", "subject": "bigger VMs"}, reason="now explained")))],
        live={KEY: tkc(replicas=1)}))
    vm_class = store.events()[0]["fields"][1]
    assert vm_class["evidence"]["reason"] == "now explained" and vm_class["note"] is None
    assert outbox_types(store) == ["drift_opened", "drift_changed", "drift_changed"]


def test_outbox_rows_carry_event_fields_and_run(store):
    run_id = store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    [row] = outbox_rows(store)
    assert (row["event_type"], row["created_at"], row["run_id"]) == ("drift_opened", "2026-12-01T10:00:05Z", run_id)
    payload = row["payload"]
    assert payload["run"] == {"id": run_id, "cluster": "prod", "source": "gitops", "commit": "c1", "started_at": at(1)}
    assert (payload["event"]["kind"], payload["event"]["name"], payload["event"]["state"]) == \
        ("TanzuKubernetesCluster", "tkc-1", "open")
    assert payload["fields"][0]["evidence"]["manager"] == "kubectl-edit" and payload["fields"][0]["live"] == 3


def test_a_crash_in_the_middle_of_record_run_leaves_the_database_as_before(store, monkeypatch):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    before = counts(store)
    history = store.object_history("prod", *TKC, "ns1", "tkc-1")
    original = Table.insert

    def crash_on_fields(self, record, *args, **kwargs):
        if self.name == "drift_fields":
            raise RuntimeError("killed mid-run")
        return original(self, record, *args, **kwargs)

    monkeypatch.setattr(Table, "insert", crash_on_fields)
    crash = make_run(2, [result(Status.DRIFTED, replicas_drift(1, 3), class_drift("a", "b")),
                         result(Status.DRIFTED, FieldDrift(parse("spec.replicas"), Change.MODIFIED, 2, 4),
                                key=MD_KEY)],
                     live={KEY: tkc(replicas=4), MD_KEY: md(4)})
    with pytest.raises(RuntimeError, match="killed mid-run"):
        store.record_run(crash)
    assert counts(store) == before
    assert store.object_history("prod", *TKC, "ns1", "tkc-1") == history
    assert not store.db.conn.in_transaction
    monkeypatch.undo()
    store.record_run(crash)                                # the same run written later, whole
    assert count(store, "runs") == 2 and count(store, "drift_events") == 2


def test_read_only_database_raises_store_error_naming_the_file(tmp_path):
    path = tmp_path / "audit.db"
    AuditStore.open(str(path)).close()
    # Root ignores chmod 0400, so the honest read-only case is SQLite's own: a mode=ro connection.
    ro = AuditStore.open_readonly(str(path))
    with pytest.raises(StoreError, match="read-only") as info:
        ro.record_run(make_run(1))
    assert str(path) in str(info.value) and isinstance(info.value.__cause__, sqlite3.Error)
    ro.close()


def test_full_database_raises_store_error_and_writes_nothing(store):
    store.record_run(make_run(1))
    before = counts(store)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")   # SQLite's own "database or disk is full"
    big = {**tkc(replicas=9), "data": "x" * 200_000}
    with pytest.raises(StoreError, match="full") as info:
        store.record_run(make_run(2, live={KEY: big}))
    assert store.path in str(info.value) and info.value.__cause__.sqlite_errorname == "SQLITE_FULL"
    assert counts(store) == before


def test_locked_database_raises_store_error(tmp_path):
    path = str(tmp_path / "audit.db")
    AuditStore.open(path).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    s = AuditStore.open(path, busy_timeout=0.2)
    try:
        with pytest.raises(StoreError, match="locked") as info:
            s.record_run(make_run(1))
        assert path in str(info.value)
    finally:
        holder.rollback()
        holder.close()
        s.close()


def test_unusable_paths_raise_store_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file")
    with pytest.raises(StoreError, match="cannot create the folder") as info:
        AuditStore.open(str(blocker / "audit.db"))
    assert str(blocker / "audit.db") in str(info.value)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreError, match="not a SQLite database") as info:
        AuditStore.open(str(junk))
    assert str(junk) in str(info.value)
    with pytest.raises(StoreError, match="no audit database at"):
        AuditStore.open_readonly(str(tmp_path / "absent.db"))
    assert not (tmp_path / "absent.db").exists()


def test_readonly_open_of_a_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(StoreError, match=r"not a driftd audit database \(it holds the tables t\)$"):
        AuditStore.open_readonly(str(path))


def test_report_reads_a_database_in_a_read_only_folder(tmp_path):
    """A copy of the audit trail on an immutable folder: SQLite cannot create the WAL index beside
    it; the reader opens the file as it is instead of failing. (Root ignores chmod; the immutable
    attribute binds root too.)"""
    folder = tmp_path / "backup"
    folder.mkdir()
    with AuditStore.open(str(folder / "audit.db")) as s:
        s.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        assert not os.access(folder, os.W_OK)
        with AuditStore.open_readonly(str(folder / "audit.db")) as ro:
            assert [(e["name"], e["state"]) for e in ro.events()] == [("tkc-1", "open")]
        assert sorted(p.name for p in folder.iterdir()) == ["audit.db"]
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# ----------------------------------------------------------------------------- queries

def test_snapshot_at_before_between_and_after_changes(store):
    store.record_run(make_run(2, live={KEY: tkc(replicas=1)}))
    store.record_run(make_run(4, live={KEY: tkc(replicas=3)}))
    store.record_run(make_run(6, live={}))                       # deleted
    store.record_run(make_run(8, live={KEY: tkc(replicas=5)}))

    def replicas(when: str):
        obj = store.snapshot_at("prod", *TKC, "ns1", "tkc-1", when)
        return None if obj is None else obj["spec"]["topology"]["nodePools"][0]["replicas"]

    assert replicas(at(1)) is None                    # before driftd first saw it
    assert replicas(at(2)) == 1                       # at the run itself
    assert replicas(at(3, 23)) == 1
    assert replicas("2026-12-04T12:00:00+02:00") == 3 # offsets are honoured (10:00Z)
    assert replicas(at(4, 9)) == 1
    assert replicas(at(7)) is None                    # gone then
    assert replicas(at(20)) == 5
    assert store.snapshot_at("prod", *TKC, "ns1", "other", at(20)) is None


def test_snapshots_at_lists_every_object_as_it_was(store):
    store.record_run(make_run(1, live={KEY: tkc(replicas=1), MD_KEY: md(2)}))
    store.record_run(make_run(3, live={KEY: tkc(replicas=3)}))
    assert [(r["kind"], r["content"]["metadata"]["name"]) for r in store.snapshots_at(at(2))] == \
        [("MachineDeployment", "md-1"), ("TanzuKubernetesCluster", "tkc-1")]
    [tkc_row] = store.snapshots_at(at(4))
    assert tkc_row["content"]["spec"]["topology"]["nodePools"][0]["replicas"] == 3 and tkc_row["seen_at"] == at(3)
    assert [r["name"] for r in store.snapshots_at(at(2), kind="machinedeployment")] == ["md-1"]
    assert store.snapshots_at(at(2), cluster="staging") == []
    assert store.snapshots_at(at(2), namespace="ns1", name="tkc-1")[0]["content"]["kind"] == "TanzuKubernetesCluster"


def test_event_and_run_queries_filter(store):
    store.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
    store.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1)}))
    store.record_run(make_run(5, [result(Status.MISSING, key=MD_KEY)], live={KEY: tkc(replicas=1)}))
    store.record_run(make_run(5, [result(Status.UNMANAGED)], cluster="staging", hour=11))
    assert [e["kind"] for e in store.events(cluster="prod")] == ["MachineDeployment", "TanzuKubernetesCluster"]
    assert [e["cluster"] for e in store.events(kind="tanzukubernetescluster")] == ["staging", "prod"]
    assert [e["name"] for e in store.events(state="open", cluster="prod")] == ["md-1"]
    assert [e["status"] for e in store.events(since=at(3))] == ["unmanaged", "missing"]   # open ones
    assert len(store.events(since=at(2))) == 3                                            # + resolved at day 2
    assert len(store.events(limit=1)) == 1 and store.events(namespace="nope") == []
    assert [r["started_at"] for r in store.runs(limit=2)] == [at(5, 11), at(5)]
    assert [r["cluster"] for r in store.runs(cluster="staging")] == ["staging"]
    run = store.runs(cluster="prod", limit=None)[-1]
    assert run["counts"] == {"drifted": 1} and run["verdict"] == "drift" and run["stale"] is False


def test_record_revert(store):
    run_id = store.record_run(make_run(1))
    rid = store.record_revert(cluster="prod", key=KEY, run_id=run_id, started_at=at(1, 11),
                              finished_at="2026-12-01T11:00:02Z", outcome="reverted",
                              fields=[{"path": REPLICAS, "from": 3, "to": 1}])
    row = store.db.execute("SELECT run_id, api_group, kind, namespace, name, outcome, fields, error FROM reverts "
                           "WHERE id = ?", [rid]).fetchone()
    assert row[:6] == (run_id, *TKC, "ns1", "tkc-1", "reverted") and '"from": 3' in row[6] and row[7] is None


def test_iso_utc_normalizes():
    assert iso_utc("2026-12-03T19:29:34Z") == "2026-12-03T19:29:34Z"
    assert iso_utc("2026-12-03T21:29:34.5+02:00") == "2026-12-03T19:29:34Z"
    with pytest.raises(ValueError):
        iso_utc("last week")
