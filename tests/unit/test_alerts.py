"""Alert delivery over real HTTP receivers on 127.0.0.1 and a real SQLite file: the payload and its
evidence, the signature, backoff, per-webhook state, order, giving up, and the schema upgrade.
Time is a clock the test moves, so nothing waits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlite_utils import Database

from driftd.alerts import AlertDelivery, backoff_seconds, build_payload, next_attempt_at
from driftd.config import RetryConfig, WebhookConfig
from driftd.model import CycleError, Status
from driftd.store import AuditStore, migrations
from tests.alert_receiver import Receiver, free_port, verify_signature
from tests.unit.test_store import KEY, REPLICAS, make_run, replicas_drift, result, tkc

RETRY = RetryConfig(initial=30.0, max=600.0, attempts=4)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 10, 0, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path):
    s = AuditStore.open(str(tmp_path / "audit.db"))
    yield s
    s.close()


def hook(receiver_or_url, name: str = "chat", **kw) -> WebhookConfig:
    url = receiver_or_url if isinstance(receiver_or_url, str) else receiver_or_url.url
    return WebhookConfig(name=name, url=url, timeout=5.0, **kw)


def open_drift(store: AuditStore, day: int = 1) -> int:
    drift = replicas_drift(1, 3, time="2026-12-01T09:59:00Z")
    drift.evidence.commit = {"sha": "c0ffee", "author": "Ann", "subject": "one worker"}
    drift.evidence.blame = {"sha": "c0ffee", "author": "Ann", "subject": "one worker"}
    return store.record_run(make_run(day, [result(Status.DRIFTED, drift)], live={KEY: tkc(replicas=3)}))


def states(store: AuditStore) -> list[tuple]:
    return store.db.execute("SELECT webhook, state, attempts, last_status FROM deliveries ORDER BY id").fetchall()


def test_an_opened_drift_is_posted_with_its_object_fields_class_and_evidence(store):
    clock = Clock()
    with Receiver() as receiver:
        alerts = AlertDelivery(store, (hook(receiver),), RETRY, clock)
        alerts.register()                         # before the cycle, as the daemon and check do
        run_id = open_drift(store)
        assert alerts.deliver().delivered == 1
        [request] = receiver.requests
    doc = json.loads(request["body"])
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Driftd-Event"] == "drift_opened"
    assert request["headers"]["X-Driftd-Delivery"] == str(doc["id"])
    assert "X-Driftd-Signature" not in request["headers"]
    assert (doc["version"], doc["type"], doc["cluster"], doc["source"], doc["commit"]) == \
        (1, "drift_opened", "prod", "gitops", "c1")
    assert doc["run"] == {"id": run_id, "started_at": "2026-12-01T10:00:00Z"}
    assert doc["object"] == {"group": "run.tanzu.vmware.com", "kind": "TanzuKubernetesCluster",
                             "namespace": "ns1", "name": "tkc-1"}
    assert (doc["drift"]["status"], doc["drift"]["state"], doc["drift"]["opened_run"]) == ("drifted", "open", run_id)
    [field] = doc["fields"]
    assert (field["path"], field["change"], field["desired"], field["live"], field["class"], field["state"]) == \
        (REPLICAS, "modified", 1, 3, "out-of-band", "open")
    assert field["evidence"] == {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-01T09:59:00Z",
                                 "commit": {"sha": "c0ffee", "author": "Ann", "subject": "one worker"},
                                 "blame": {"sha": "c0ffee", "author": "Ann", "subject": "one worker"},
                                 "reason": "kubectl-edit changed it outside Git"}
    assert doc["summary"] == ("drift opened: TanzuKubernetesCluster ns1/tkc-1 on prod (source gitops): "
                              f"{REPLICAS} 1 -> 3 (out-of-band, kubectl-edit)")
    assert states(store) == [("chat", "delivered", 1, 200)]


def test_resolved_and_failed_cycles_have_their_own_payload(store):
    with Receiver() as receiver:
        alerts = AlertDelivery(store, (hook(receiver, events=("drift_resolved", "cycle_failed")),), RETRY, Clock())
        alerts.register()
        open_drift(store, 1)
        store.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1)}))
        store.record_run(make_run(3, commit=None, errors=[CycleError("git", "https://git.example.com/x",
                                                                     "remote unreachable")]))
        assert alerts.deliver().delivered == 2
        resolved, failed = receiver.delivered()
    assert resolved["type"] == "drift_resolved" and resolved["drift"]["resolution"] == "cluster-changed"
    assert resolved["fields"][0]["state"] == "resolved"
    assert resolved["summary"] == ("drift resolved (cluster-changed): TanzuKubernetesCluster ns1/tkc-1 on prod (source "
                                   "gitops): was spec.topology.nodePools[name=np-1].replicas 1 -> 3 (out-of-band, "
                                   "kubectl-edit)")
    assert failed["object"] is None and failed["commit"] is None
    assert failed["cycle"]["verdict"] == "error" and failed["cycle"]["errors"][0]["message"] == "remote unreachable"
    assert failed["summary"] == "cycle failed on prod (source gitops): remote unreachable"


def test_the_signature_is_hmac_sha256_of_the_exact_body(store):
    with Receiver() as receiver:
        alerts = AlertDelivery(store, (hook(receiver, secret="s3cret"),), RETRY, Clock())
        alerts.register()
        open_drift(store)
        alerts.deliver()
        [request] = receiver.requests
    signature = request["headers"]["X-Driftd-Signature"]
    assert signature.startswith("sha256=")
    assert verify_signature("s3cret", request["body"], signature)
    assert not verify_signature("other", request["body"], signature)


def test_backoff_doubles_up_to_the_cap_and_gives_up_after_the_bound():
    retry = RetryConfig(initial=30.0, max=100.0, attempts=5)
    assert [backoff_seconds(n, retry) for n in (1, 2, 3, 4)] == [30.0, 60.0, 100.0, 100.0]
    now = datetime(2026, 12, 5, 10, 0, 0, tzinfo=timezone.utc)
    assert next_attempt_at(1, retry, now) == "2026-12-05T10:00:30Z"
    assert next_attempt_at(4, retry, now) == "2026-12-05T10:01:40Z"
    assert next_attempt_at(5, retry, now) is None


def test_a_500_is_retried_after_the_backoff_and_delivered_exactly_once_even_across_a_restart(store, tmp_path):
    clock = Clock()
    with Receiver(statuses=[500]) as receiver:
        alerts = AlertDelivery(store, (hook(receiver),), RETRY, clock)
        alerts.register()
        open_drift(store)
        assert alerts.deliver().failed == 1
        [(attempts, next_at, error)] = store.db.execute(
            "SELECT attempts, next_attempt_at, last_error FROM deliveries").fetchall()
        assert (attempts, next_at) == (1, "2026-12-05T10:00:30Z")
        assert error == "HTTP 500 Internal Server Error: receiver says no"
        # a new process on the same file keeps the backoff: not due yet, nothing sent
        reopened = AuditStore.open(store.path)
        again = AlertDelivery(reopened, (hook(receiver),), RETRY, clock)
        assert again.deliver().waiting == 1 and len(receiver.requests) == 1
        clock.advance(30)
        assert again.deliver().delivered == 1
        clock.advance(3600)
        assert again.deliver().to_json() == {"delivered": 0, "failed": 0, "given_up": 0, "waiting": 0}
        reopened.close()
    assert [r["status"] for r in receiver.requests] == [500, 200]
    assert len(receiver.delivered()) == 1
    assert states(store) == [("chat", "delivered", 2, 200)]


def test_an_attempt_cut_short_by_a_killed_process_counts_and_is_made_again_after_the_lease(store):
    clock = Clock()
    with Receiver() as receiver:
        alerts = AlertDelivery(store, (hook(receiver),), RETRY, clock)
        alerts.register()
        open_drift(store)
        alerts.register()                       # the delivery row of the new event
        [row] = store.pending_deliveries("chat", 10)
        # the process claims it, then dies before the answer (kill -9 mid-request)
        assert store.claim_delivery(row["id"], "2026-12-05T10:00:00Z", "2026-12-05T10:01:05Z")
        assert alerts.deliver().waiting == 1 and receiver.requests == []     # leased: not sent twice at once
        clock.advance(65)
        assert alerts.deliver().delivered == 1
    [request] = receiver.requests
    assert request["headers"]["X-Driftd-Attempt"] == "2"
    assert states(store) == [("chat", "delivered", 2, 200)]


def test_a_webhook_that_is_down_neither_blocks_nor_resends_to_the_other(store):
    clock = Clock()
    port = free_port()
    down = hook(f"http://127.0.0.1:{port}/hook", name="pager")
    with Receiver() as up:
        alerts = AlertDelivery(store, (down, hook(up)), RETRY, clock)
        alerts.register()
        open_drift(store)
        report = alerts.deliver()
        assert (report.delivered, report.failed) == (1, 1)
        assert store.db.execute("SELECT last_error FROM deliveries WHERE webhook = 'pager'").fetchone()[0] == \
            "connection refused"
        with Receiver(port=port) as pager:
            clock.advance(30)
            assert alerts.deliver().delivered == 1
            assert len(pager.delivered()) == 1
        assert len(up.requests) == 1
    assert sorted(states(store)) == [("chat", "delivered", 1, 200), ("pager", "delivered", 2, 200)]


def test_a_failing_delivery_holds_back_later_events_of_that_webhook_only_in_order(store):
    clock = Clock()
    with Receiver(statuses=[503]) as receiver:
        alerts = AlertDelivery(store, (hook(receiver),), RETRY, clock)
        alerts.register()
        open_drift(store, 1)
        alerts.deliver()
        store.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1)}))
        assert alerts.deliver().waiting == 2        # the opened one is not due; the resolved one waits
        assert len(receiver.requests) == 1
        clock.advance(30)
        assert alerts.deliver().delivered == 2
        assert [d["type"] for d in receiver.delivered()] == ["drift_opened", "drift_resolved"]


def test_a_delivery_is_given_up_after_the_bound_and_kept(store):
    clock = Clock()
    retry = RetryConfig(initial=10.0, max=10.0, attempts=2)
    with Receiver(statuses=[404, 404, 404]) as receiver:
        alerts = AlertDelivery(store, (hook(receiver),), retry, clock)
        alerts.register()
        open_drift(store)
        assert alerts.deliver().failed == 1
        clock.advance(10)
        assert alerts.deliver().given_up == 1
        clock.advance(3600)
        alerts.deliver()
        assert len(receiver.requests) == 2
    [row] = store.deliveries(state="given-up")
    assert (row["attempts"], row["last_status"], row["next_attempt_at"]) == (2, 404, None)
    assert row["last_error"].startswith("HTTP 404")


def test_a_new_webhook_gets_what_is_queued_after_it_appears_and_only_its_event_types(store):
    open_drift(store, 1)                                   # before the webhook existed
    with Receiver() as receiver:
        alerts = AlertDelivery(store, (hook(receiver, events=("drift_resolved",)),), RETRY, Clock())
        alerts.register()
        store.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(replicas=1)}))
        open_drift(store, 3)
        assert alerts.deliver().delivered == 1
        assert [d["type"] for d in receiver.delivered()] == ["drift_resolved"]


def test_an_older_database_is_upgraded_in_place_and_keeps_its_outbox(tmp_path):
    path = tmp_path / "old.db"
    db = Database(str(path))
    migrations.apply(db, stop_before="m003_alert_deliveries")
    # rows as driftd 0.1.0 wrote them, with that version's columns only
    t = "2026-11-30T10:00:00Z"
    db.execute("INSERT INTO runs (id, cluster, source, started_at, finished_at, git_commit, verdict) "
               "VALUES (1, 'prod', 'gitops', ?, ?, 'c1', 'drift')", [t, t])
    db.execute("INSERT INTO drift_events (id, cluster, source, api_group, kind, namespace, name, status, state, "
               "opened_at, opened_run, last_seen_at, last_seen_run) VALUES (1, 'prod', 'gitops', "
               "'run.tanzu.vmware.com', 'TanzuKubernetesCluster', 'ns1', 'tkc-1', 'drifted', 'open', ?, 1, ?, 1)",
               [t, t])
    db.execute("INSERT INTO outbox (created_at, event_type, event_id, run_id, payload, next_attempt_at) "
               "VALUES (?, 'drift_opened', 1, 1, '{\"type\": \"drift_opened\"}', ?)", [t, t])
    db.conn.commit()
    before = db.execute("SELECT id, event_type, payload FROM outbox").fetchall()
    db.close()
    upgraded = AuditStore.open(str(path))
    assert upgraded.db.execute("SELECT id, event_type, payload FROM outbox").fetchall() == before
    assert {"webhooks", "deliveries"} <= set(upgraded.db.table_names())
    assert upgraded.db.execute("SELECT count(*) FROM drift_events").fetchone()[0] == 1
    assert upgraded.db.execute("SELECT compare FROM runs").fetchall() == [("{}",)]
    upgraded.close()


def test_report_alerts_lists_pending_delivered_and_given_up_deliveries(store):
    from click.testing import CliRunner

    from driftd.report import report_command

    clock = Clock()
    port = free_port()
    with Receiver() as up:
        alerts = AlertDelivery(store, (hook(up), hook(f"http://127.0.0.1:{port}/x", name="pager")), RETRY, clock)
        alerts.register()
        open_drift(store)
        alerts.deliver()
    res = CliRunner().invoke(report_command, ["alerts", "--database", store.path])
    assert res.exit_code == 0, res.output
    assert "drift_opened  -> chat  delivered  1 attempt(s), delivered 2026-12-05T10:00:00Z" in res.output
    assert "drift_opened  -> pager  pending  1 attempt(s), next attempt 2026-12-05T10:00:30Z" in res.output
    assert "    last error: connection refused" in res.output
    pending = CliRunner().invoke(report_command, ["alerts", "--database", store.path, "--state", "pending", "-o", "json"])
    doc = json.loads(pending.output)
    [row] = doc["deliveries"]
    assert (doc["report"], row["webhook"], row["attempts"], row["type"]) == ("alerts", "pager", 1, "drift_opened")
    assert row["summary"].startswith("drift opened: TanzuKubernetesCluster ns1/tkc-1")
