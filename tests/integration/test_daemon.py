"""`driftd run` as a real process: cycles every interval, opens and resolves events on its own, keeps
going through edge failures, and stops cleanly on SIGTERM/SIGINT with no half-written run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftd.envtest.controlplane import free_port
from tests.integration.test_check import (admin, apply_as_argocd, git, kubectl_edit_workers, make_repo,
                                          reader_kubeconfig, seed_in, write_config)


def start_daemon(cfg: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "driftd.cli", "run", "--config", str(cfg)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []


def wait_for(predicate, what: str, timeout: float = 60.0, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited {proc.returncode} while waiting for {what}:\n{log.read_text() if log else ''}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text() if log else ''}")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def test_daemon_opens_and_resolves_events_every_interval_and_stops_on_sigterm(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    cfg = write_config(tmp_path, repo, reader_kubeconfig(control_plane, f"daemon-{namespace}"), namespace,
                       "log:\n  format: json\n")
    db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    try:
        wait_for(lambda: query(db, "select count(*) from runs where verdict = 'in-sync'")[0][0] >= 1 if query(
            db, "select count(*) from runs") else None, "a first in-sync run", proc=proc, log=log)
        kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
        opened = wait_for(lambda: query(db, "select state from drift_events"), "an open event", proc=proc, log=log)
        assert opened == [("open",)]
        assert query(db, "select path, desired, live, class from drift_fields") == \
            [("spec.topology.workers.count", "1", "3", "out-of-band")]
        kubectl_edit_workers(kube, namespace, "prod-demo01", 1)
        wait_for(lambda: query(db, "select state from drift_events") == [("resolved",)], "the event resolved",
                 proc=proc, log=log)
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert '"event": "stop_requested"' in text and '"event": "daemon_stopped"' in text
    # every run that was started was written whole
    assert query(db, "select count(*) from runs where finished_at is null or finished_at = ''")[0][0] == 0
    kube.close()


def test_daemon_keeps_running_when_the_api_server_is_unreachable(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(Path(control_plane.kubeconfig).read_text().replace(control_plane.url,
                                                                       f"https://127.0.0.1:{free_port()}"))
    cfg = write_config(tmp_path, repo, dead, namespace, "log:\n  format: json\n")
    db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    try:
        wait_for(lambda: (query(db, "select count(*) from runs where verdict = 'error'") or [(0,)])[0][0] >= 3,
                 "three failed cycles", proc=proc, log=log)
        assert proc.poll() is None  # still running
        assert query(db, "select count(*) from drift_events")[0][0] == 0
        assert stop(proc, signal.SIGINT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    errors = query(db, "select errors from runs where verdict = 'error' limit 1")[0][0]
    assert "unreachable" in errors
    assert query(db, "select count(*) from outbox where event_type = 'cycle_failed'")[0][0] >= 3


def test_daemon_keeps_going_through_broken_yaml_and_recovers_when_git_is_fixed(control_plane, namespace, tmp_path):
    good = seed_in(namespace)
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": good})
    kube = admin(control_plane)
    apply_as_argocd(kube, good)
    cfg = write_config(tmp_path, repo, reader_kubeconfig(control_plane, f"yaml-{namespace}"), namespace,
                       "log:\n  format: json\n")
    db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    try:
        wait_for(lambda: query(db, "select count(*) from runs where verdict = 'in-sync'") or None,
                 "a first in-sync run", proc=proc, log=log)
        kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
        wait_for(lambda: query(db, "select state from drift_events") == [("open",)], "an open event", proc=proc, log=log)
        (repo / "prod" / "tkc-prod-demo01.yaml").write_text(good.replace("count: 1", "count: [1"))
        git(repo, "commit", "-qam", "typo")
        invalid = wait_for(lambda: query(db, "select problems from runs where verdict = 'invalid'"),
                           "an invalid run", proc=proc, log=log)
        assert "prod/tkc-prod-demo01.yaml" in invalid[0][0]
        wait_for(lambda: query(db, "select count(*) from runs where verdict = 'invalid'")[0][0] >= 2,
                 "a second invalid run", proc=proc, log=log)
        # the broken file neither resolved nor duplicated the episode
        assert query(db, "select state from drift_events") == [("open",)]
        (repo / "prod" / "tkc-prod-demo01.yaml").write_text(good)
        git(repo, "commit", "-qam", "fix the typo")
        kubectl_edit_workers(kube, namespace, "prod-demo01", 1)
        wait_for(lambda: query(db, "select state, resolution from drift_events") == [("resolved", "cluster-changed")],
                 "the event resolved", proc=proc, log=log)
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    kube.close()


@pytest.mark.parametrize("failure", ["forbidden", "crd-missing"])
def test_daemon_keeps_running_through_a_failing_list_and_writes_no_drift(control_plane, namespace, tmp_path, failure):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    if failure == "forbidden":
        kubeconfig, needle, extra = control_plane.add_user(f"nobody-{namespace}"), "403", ""
    else:
        kubeconfig, needle = reader_kubeconfig(control_plane, f"crd-{namespace}"), "example.com"
        extra = "  - {group: example.com, kind: Widget}\n"
    cfg = write_config(tmp_path, repo, kubeconfig, namespace, extra + "log:\n  format: json\n")
    db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    try:
        wait_for(lambda: (query(db, "select count(*) from runs where verdict = 'error'") or [(0,)])[0][0] >= 3,
                 "three failed cycles", proc=proc, log=log)
        assert proc.poll() is None
        assert query(db, "select count(*) from drift_events")[0][0] == 0
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    errors = query(db, "select errors from runs where verdict = 'error' limit 1")[0][0]
    assert needle in errors
    if failure == "crd-missing":
        # the kinds that could be listed were still compared and snapshotted
        assert query(db, "select count(*) from snapshots where name = 'prod-demo01'")[0][0] == 1
    kube.close()


def _fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass
    return filler


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 MiB file system (tmpfs) that the test can fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_loses_no_run_and_the_daemon_goes_on(control_plane, namespace, tmp_path, small_disk):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    cfg = write_config(tmp_path, repo, reader_kubeconfig(control_plane, f"disk-{namespace}"), namespace,
                       "log:\n  format: json\n")
    db = small_disk / "driftd.db"
    cfg.write_text(cfg.read_text().replace(f"database: {tmp_path / 'driftd.db'}", f"database: {db}"))
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    try:
        wait_for(lambda: query(db, "select count(*) from runs where verdict = 'in-sync'") or None,
                 "a first in-sync run", proc=proc, log=log)
        filler = _fill(small_disk)
        kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
        wait_for(lambda: log.read_text().count('"event": "store_failed"') >= 2, "two runs refused by the full disk",
                 proc=proc, log=log)
        assert proc.poll() is None
        assert "the disk or the database is full" in log.read_text()
        filler.unlink()
        opened = wait_for(lambda: query(db, "select opened_at from drift_events where state = 'open'"),
                          "the drift written once there is room", proc=proc, log=log)
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    first_failure = json.loads(next(line for line in text.splitlines() if '"store_failed"' in line))
    # The runs kept in memory were written with their own times: the episode opened when the drift was
    # first seen, before the disk had room again.
    assert opened[0][0] <= first_failure["timestamp"][:19] + "Z"
    cycles = sum(1 for line in text.splitlines() if '"event": "cycle_finished"' in line)
    assert query(db, "select count(*) from runs")[0][0] == cycles
    assert query(db, "select path, desired, live from drift_fields") == [("spec.topology.workers.count", "1", "3")]
    kube.close()


def test_sigterm_inside_a_cycle_finishes_that_run_whole_then_stops(control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/tkc-prod-demo01.yaml": seed_in(namespace)})
    kube = admin(control_plane)
    apply_as_argocd(kube, seed_in(namespace))
    cfg = write_config(tmp_path, repo, reader_kubeconfig(control_plane, f"sig-{namespace}"), namespace,
                       "log:\n  format: json\n")
    db, log = tmp_path / "driftd.db", tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    apiserver = control_plane.control_plane.running()["kube-apiserver"]
    try:
        wait_for(lambda: query(db, "select count(*) from runs")[0][0] >= 1 if query(db, "select count(*) from runs")
                 else None, "a first run", proc=proc, log=log)
        kubectl_edit_workers(kube, namespace, "prod-demo01", 3)
        os.kill(apiserver, signal.SIGSTOP)   # the next cycle hangs in its LIST
        try:
            time.sleep(1.5)                  # interval 1s: a cycle is under way now
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.5)
            assert proc.poll() is None       # it does not exit in the middle of the cycle
        finally:
            os.kill(apiserver, signal.SIGCONT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    requested = json.loads(next(line for line in text.splitlines() if '"stop_requested"' in line))["timestamp"]
    # the interrupted cycle was finished after the signal and written whole: its drift is in the audit trail
    [(verdict, finished)] = query(db, "select verdict, finished_at from runs order by id desc limit 1")
    assert verdict == "drift" and finished > requested[:19] + "Z"
    assert query(db, "select count(*) from runs")[0][0] == text.count('"event": "cycle_finished"')
    assert query(db, "select path, state from drift_fields") == [("spec.topology.workers.count", "open")]
    assert '"event": "daemon_stopped"' in text
    kube.close()


def test_sigterm_while_git_hangs_on_a_silent_remote_ends_the_fetch_and_writes_the_run(
        control_plane, namespace, tmp_path):
    """A remote that accepts and never answers holds `git fetch` up to its timeout (120 s); a stop
    request must not wait for it (systemd would kill the daemon and the run would be lost)."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    cfg = write_config(tmp_path, f"https://127.0.0.1:{server.getsockname()[1]}/platform/gitops.git",
                       control_plane.kubeconfig, namespace)
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, log)
    try:
        def git_running() -> bool:
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            return any(b"git" in Path(f"/proc/{k}/cmdline").read_bytes() for k in kids
                       if Path(f"/proc/{k}/cmdline").exists())
        wait_for(git_running, "git talking to the silent remote", proc=proc, log=log)
        assert stop(proc) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    [(verdict, errors)] = query(tmp_path / "driftd.db", "select verdict, errors from runs")
    assert verdict == "error"
    assert "driftd is stopping (git" in json.loads(errors)[0]["message"], errors
