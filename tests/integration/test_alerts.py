"""Alerts end to end: a real out-of-band edit on the control plane, a real cycle (``driftd check`` or
the daemon), real HTTP receivers on 127.0.0.1. The receiver gets the drift with its class and the
field manager's evidence, signed; a 500 is retried and delivered once; a receiver that is down gets
it when it comes back, while the other got it once."""

from __future__ import annotations

import json
from pathlib import Path

from tests.alert_receiver import Receiver, free_port, verify_signature
from tests.integration.test_check import (admin, apply_as_argocd, driftd, git, kubectl_edit_workers, make_repo,
                                          reader_kubeconfig, rows, seed_in, write_config)
from tests.integration.test_daemon import query, start_daemon, stop, wait_for

WORKERS = "spec.topology.workers.count"


def alerts_config(*hooks: str, retry: str = "") -> str:
    return "log:\n  format: json\nalerts:\n  webhooks:\n" + "".join(hooks) + retry


def webhook(name: str, url: str, extra: str = "") -> str:
    return f"    - name: {name}\n      url: {url}\n      timeout: 5s\n{extra}"


def setup(control_plane, namespace: str, tmp_path: Path, extra: str) -> tuple:
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    cfg = write_config(tmp_path, repo, reader_kubeconfig(control_plane, f"alerts-{namespace}"), namespace, extra)
    return repo, kube, cfg


def test_check_posts_the_out_of_band_edit_with_its_class_and_manager_evidence_signed(
        control_plane, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFTD_TEST_HOOK_SECRET", "s3cret-for-the-test")
    with Receiver() as receiver:
        repo, kube, cfg = setup(control_plane, namespace, tmp_path, alerts_config(webhook(
            "chat", receiver.url, "      secret: $DRIFTD_TEST_HOOK_SECRET\n"
                                  "      events: [drift_opened, drift_changed, drift_resolved, cycle_failed]\n")))
        synced = driftd("check", "--config", str(cfg), "--output", "json")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert json.loads(synced.stdout)["alerts"] == {"delivered": 0, "failed": 0, "given_up": 0, "waiting": 0}
        assert receiver.requests == []

        kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
        drifted = driftd("check", "--config", str(cfg), "--output", "json")
        assert drifted.returncode == 1, drifted.stdout + drifted.stderr
        assert json.loads(drifted.stdout)["alerts"]["delivered"] == 1

        kubectl_edit_workers(kube, namespace, "prod-demo01", 1)
        fixed = driftd("check", "--config", str(cfg))
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert "alerts: 1 delivered, 0 failed (retried later), 0 given up, 0 waiting" in fixed.stdout
        opened_request = receiver.requests[0]
        opened, resolved = receiver.delivered()
    kube.close()

    assert verify_signature("s3cret-for-the-test", opened_request["body"],
                            opened_request["headers"]["X-Driftd-Signature"])
    head = git(repo, "rev-parse", "HEAD").strip()
    assert (opened["version"], opened["type"], opened["cluster"], opened["source"], opened["commit"]) == \
        (1, "drift_opened", "supervisor", "prod", head)
    assert opened["object"] == {"group": "run.tanzu.vmware.com", "kind": "TanzuKubernetesCluster",
                                "namespace": namespace, "name": "prod-demo01"}
    [field] = opened["fields"]
    assert (field["path"], field["change"], field["desired"], field["live"], field["class"]) == \
        (WORKERS, "modified", 1, 3, "out-of-band")
    assert (field["evidence"]["manager"], field["evidence"]["operation"]) == ("kubectl-edit", "Update")
    assert field["evidence"]["time"].endswith("Z")
    assert opened["summary"].startswith(
        f"drift opened: TanzuKubernetesCluster {namespace}/prod-demo01 on supervisor (source prod): {WORKERS} 1 -> 3 "
        "(out-of-band, kubectl-edit)")
    assert (resolved["type"], resolved["drift"]["resolution"]) == ("drift_resolved", "cluster-changed")
    assert resolved["drift"]["episode"] == opened["drift"]["episode"]
    db = tmp_path / "driftd.db"
    assert rows(db, "select webhook, state, attempts from deliveries order by id") == \
        [("chat", "delivered", 1), ("chat", "delivered", 1)]


def test_check_keeps_its_exit_code_when_the_receiver_fails_and_the_run_is_recorded(control_plane, namespace, tmp_path):
    with Receiver(statuses=[500]) as receiver:
        _, kube, cfg = setup(control_plane, namespace, tmp_path, alerts_config(webhook("chat", receiver.url)))
        assert driftd("check", "--config", str(cfg)).returncode == 0
        kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
        proc = driftd("check", "--config", str(cfg), "--output", "json")
    kube.close()
    assert proc.returncode == 1, proc.stdout + proc.stderr          # the drift, not the receiver
    assert json.loads(proc.stdout)["alerts"] == {"delivered": 0, "failed": 1, "given_up": 0, "waiting": 0}
    assert "alert_failed" in proc.stderr and "HTTP 500" in proc.stderr
    db = tmp_path / "driftd.db"
    assert rows(db, "select state from drift_events") == [("open",)]
    assert rows(db, "select state, attempts, last_status from deliveries") == [("pending", 1, 500)]


def test_daemon_retries_a_500_and_delivers_exactly_once(control_plane, namespace, tmp_path):
    with Receiver(statuses=[500]) as receiver:
        _, kube, cfg = setup(control_plane, namespace, tmp_path, alerts_config(
            webhook("chat", receiver.url), retry="  retry: {initial: 1s, max: 1s, attempts: 100}\n"))
        db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
        proc = start_daemon(cfg, log)
        try:
            wait_for(lambda: query(db, "select count(*) from runs where verdict = 'in-sync'") or None,
                     "a first in-sync run", proc=proc, log=log)
            kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
            wait_for(lambda: receiver.delivered(), "the drift delivered after a 500", proc=proc, log=log)
            runs = query(db, "select count(*) from runs")[0][0]
            wait_for(lambda: query(db, "select count(*) from runs")[0][0] >= runs + 2, "two more cycles",
                     proc=proc, log=log)
            assert stop(proc) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    kube.close()
    assert [r["status"] for r in receiver.requests] == [500, 200]
    [doc] = receiver.delivered()
    assert doc["type"] == "drift_opened" and doc["fields"][0]["evidence"]["manager"] == "kubectl-edit"
    assert query(db, "select state, attempts from deliveries") == [("delivered", 2)]
    text = log.read_text()
    assert '"event": "alert_failed"' in text and "HTTP 500" in text and '"event": "alert_delivered"' in text


def test_a_receiver_that_is_down_gets_the_drift_when_it_comes_back_and_the_other_gets_it_once(
        control_plane, namespace, tmp_path):
    port = free_port()
    with Receiver() as up:
        _, kube, cfg = setup(control_plane, namespace, tmp_path, alerts_config(
            webhook("pager", f"http://127.0.0.1:{port}/hook"), webhook("chat", up.url),
            retry="  retry: {initial: 1s, max: 1s, attempts: 100}\n"))
        db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
        proc = start_daemon(cfg, log)
        try:
            wait_for(lambda: query(db, "select count(*) from runs where verdict = 'in-sync'") or None,
                     "a first in-sync run", proc=proc, log=log)
            kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
            wait_for(lambda: up.delivered(), "the drift delivered to chat", proc=proc, log=log)
            wait_for(lambda: query(db, "select 1 from deliveries where webhook = 'pager' and attempts >= 2 "
                                       "and last_error = 'connection refused'"), "pager failing twice",
                     proc=proc, log=log)
            assert proc.poll() is None
            assert query(db, "select state from drift_events") == [("open",)]
            with Receiver(port=port) as pager:
                wait_for(lambda: pager.delivered(), "the drift delivered to pager once it is up", proc=proc, log=log)
                runs = query(db, "select count(*) from runs")[0][0]
                wait_for(lambda: query(db, "select count(*) from runs")[0][0] >= runs + 2, "two more cycles",
                         proc=proc, log=log)
                assert stop(proc) == 0
                [paged] = pager.delivered()
        finally:
            if proc.poll() is None:
                proc.kill()
        [chatted] = up.delivered()
        assert len(up.requests) == 1
    kube.close()
    assert paged == chatted and paged["fields"][0]["class"] == "out-of-band"
    assert sorted(query(db, "select webhook, state from deliveries")) == [("chat", "delivered"), ("pager", "delivered")]
    text = log.read_text()
    assert '"event": "alert_failed"' in text and "connection refused" in text
