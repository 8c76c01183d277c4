"""``driftd report`` through click's CliRunner over real audit databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from driftd.model import Status
from driftd.report import parse_time, report_command
from driftd.store import AuditStore
from tests.unit.test_store import (CLASS, KEY, MD_KEY, REPLICAS, at, class_drift, make_run, md, replicas_drift,
                                   result, tkc)


@pytest.fixture
def db(tmp_path) -> str:
    """prod: tkc-1 drifted (replicas 1 -> 3 by kubectl-edit, later 5, plus a VM class from Git) and
    back in sync on day 3 (cluster-changed); md-1 missing since day 2. staging: tkc-1 unmanaged."""
    path = str(tmp_path / "audit.db")
    with AuditStore.open(path) as s:
        s.record_run(make_run(1, [result(Status.DRIFTED, replicas_drift(1, 3))], live={KEY: tkc(replicas=3)}))
        s.record_run(make_run(2, [result(Status.DRIFTED, replicas_drift(1, 5), class_drift("guaranteed-large",
                                                                                      "best-effort-small")),
                                  result(Status.MISSING, key=MD_KEY)], live={KEY: tkc(replicas=5)}))
        s.record_run(make_run(3, [result(Status.IN_SYNC), result(Status.MISSING, key=MD_KEY)],
                              live={KEY: tkc(replicas=1)}))
        s.record_run(make_run(3, [result(Status.UNMANAGED)], cluster="staging", source="staging", hour=12))
    return path


def report(*args: str):
    res = CliRunner().invoke(report_command, list(args))
    return res


def test_table_shows_episodes_with_times_resolution_and_field_details(db):
    res = report("--database", db)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["STATE", "OBJECT", "CLUSTER", "STATUS", "OPENED", "LAST", "SEEN", "RESOLVED",
                                "RESOLUTION"]
    tkc_line = next(line for line in lines if "prod/gitops" in line and "tkc-1" in line)
    assert tkc_line.split() == ["resolved", "TanzuKubernetesCluster.run.tanzu.vmware.com", "ns1/tkc-1",
                                "prod/gitops", "drifted", at(1), at(2), at(3), "cluster-changed"]
    # columns are aligned: each event line has its status and times under the headers
    event_lines = [line for line in lines if line.startswith(("open ", "resolved "))]
    assert len(event_lines) == 3
    for header, values in (("STATUS", ("drifted", "missing", "unmanaged")), ("OPENED", ("2026-12-0",))):
        col = lines[0].index(header)
        assert all(line[col:].startswith(values) for line in event_lines)
    assert f"    {REPLICAS}: 1 -> 5  out-of-band  kubectl-edit Update 2026-12-02T08:00:00Z" in lines
    assert f'    {CLASS}: "guaranteed-large" -> "best-effort-small"  git-ahead  commit c2 bigger VMs' in lines
    assert "    missing: declared in Git, not live" in lines
    assert lines[-1] == "3 event(s): 2 open, 1 resolved"


def test_json_output_has_a_versioned_shape(db):
    res = report("events", "--database", db, "-o", "json", "--cluster", "prod")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["version"] == 1 and doc["report"] == "events"
    assert doc["filters"] == {"cluster": "prod", "namespace": None, "kind": None, "name": None, "status": "all",
                              "since": None, "limit": None}
    missing, drifted = doc["events"]
    assert (missing["kind"], missing["status"], missing["state"], missing["fields"]) == \
        ("MachineDeployment", "missing", "open", [])
    assert {k: drifted[k] for k in ("group", "namespace", "name", "state", "resolution", "opened_at",
                                    "last_seen_at", "resolved_at", "commit_opened", "commit_resolved")} == {
        "group": "run.tanzu.vmware.com", "namespace": "ns1", "name": "tkc-1", "state": "resolved",
        "resolution": "cluster-changed", "opened_at": at(1), "last_seen_at": at(2), "resolved_at": at(3),
        "commit_opened": "c1", "commit_resolved": "c1"}
    replicas, vm_class = drifted["fields"]
    assert replicas == {"path": REPLICAS, "change": "modified", "desired": 1, "live": 5, "class": "out-of-band",
                        "evidence": {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-02T08:00:00Z",
                                     "reason": "kubectl-edit changed it outside Git"},
                        "note": None, "state": "resolved", "first_seen_run": 1, "last_seen_run": 2,
                        "resolved_run": 3}
    assert vm_class["evidence"]["commit"] == {"sha": "c2", "subject": "bigger VMs"}


def test_csv_has_a_header_and_one_row_per_field_drift(db):
    res = report("--database", db, "-o", "csv", "--cluster", "prod")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [(r["name"], r["path"]) for r in rows] == [("md-1", ""), ("tkc-1", REPLICAS), ("tkc-1", CLASS)]
    replicas = rows[1]
    assert (replicas["desired"], replicas["live"], replicas["class"], replicas["manager"], replicas["time"],
            replicas["resolution"], replicas["field_state"]) == \
        ("1", "5", "out-of-band", "kubectl-edit", "2026-12-02T08:00:00Z", "cluster-changed", "resolved")
    assert json.loads(rows[2]["live"]) == "best-effort-small"


@pytest.mark.parametrize("args, names", [
    (["--status", "open"], ["staging:tkc-1", "prod:md-1"]),
    (["--status", "resolved"], ["prod:tkc-1"]),
    (["--cluster", "staging"], ["staging:tkc-1"]),
    (["--cluster", "prod/gitops"], ["prod:md-1", "prod:tkc-1"]),      # CLUSTER/SOURCE, as the table shows it
    (["--cluster", "prod/other"], []),
    (["--kind", "machinedeployment"], ["prod:md-1"]),
    (["--name", "tkc-1", "--namespace", "ns1"], ["staging:tkc-1", "prod:tkc-1"]),
    (["--namespace", "other"], []),
    (["--limit", "1"], ["staging:tkc-1"]),
])
def test_filters(db, args, names):
    res = report("--database", db, "-o", "json", *args)
    assert res.exit_code == 0, res.output
    assert [f"{e['cluster']}:{e['name']}" for e in json.loads(res.output)["events"]] == names


def test_since_relative_takes_open_and_recently_resolved_events(tmp_path):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ago = lambda days: (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    path = str(tmp_path / "audit.db")
    other = tkc()
    other["metadata"] = {**other["metadata"], "name": "old"}
    old_key = KEY.__class__(KEY.group, KEY.kind, "ns1", "old")
    with AuditStore.open(path) as s:
        for days, objects in ((30, [result(Status.DRIFTED, replicas_drift(1, 3)), result(Status.UNMANAGED, key=old_key)]),
                              (20, [result(Status.IN_SYNC), result(Status.UNMANAGED, key=old_key)]),
                              (3, [result(Status.DRIFTED, replicas_drift(1, 4)), result(Status.IN_SYNC, key=old_key)]),
                              (1, [result(Status.IN_SYNC), result(Status.IN_SYNC, key=old_key)])):
            run = make_run(1, objects, live={KEY: tkc(), old_key: other})
            run.started_at = run.finished_at = ago(days)
            s.record_run(run)
    res = report("--database", path, "--since", "7d", "-o", "json")
    assert res.exit_code == 0, res.output
    events = json.loads(res.output)["events"]
    # the day-30 episode ended on day 20: out; the day-3 one ended yesterday and old's ended 3 days ago: in
    assert [(e["name"], e["opened_at"], e["resolved_at"]) for e in events] == \
        [("tkc-1", ago(3), ago(1)), ("old", ago(30), ago(3))]
    assert json.loads(report("--database", path, "--since", "2d", "-o", "json").output)["events"][0]["opened_at"] == ago(3)
    assert len(json.loads(report("--database", path, "-o", "json").output)["events"]) == 3


def test_snapshot_at_shows_objects_as_they_were(db):
    res = report("snapshot", "--database", db, "--at", "2026-12-02T12:00:00Z", "--kind", "TanzuKubernetesCluster")
    assert res.exit_code == 0, res.output
    [doc] = list(yaml.safe_load_all(res.output))
    assert doc["spec"]["topology"]["nodePools"][0]["replicas"] == 5
    assert res.output.startswith("# TanzuKubernetesCluster.run.tanzu.vmware.com ns1/tkc-1 in cluster prod, "
                                 "content as of 2026-12-02T10:00:00Z (run 2)\n")
    res = report("snapshot", "--database", db, "--at", "2026-12-01T23:59:59+01:00", "-o", "json",
                 "--cluster", "prod", "--name", "tkc-1", "-n", "ns1")
    doc = json.loads(res.output)
    assert (doc["version"], doc["report"], doc["at"]) == (1, "snapshot", "2026-12-01T22:59:59Z")
    [obj] = doc["objects"]
    assert (obj["seen_at"], obj["run_id"], obj["group"]) == (at(1), 1, "run.tanzu.vmware.com")
    assert obj["content"]["spec"]["topology"]["nodePools"][0]["replicas"] == 3
    res = report("snapshot", "--database", db, "--at", "2026-11-01")
    assert res.exit_code == 0 and res.stdout == "" and "no objects known at" in res.stderr


def test_snapshot_of_an_object_deleted_by_then_says_so(tmp_path):
    path = str(tmp_path / "audit.db")
    with AuditStore.open(path) as s:
        s.record_run(make_run(1, live={KEY: tkc()}))
        s.record_run(make_run(2, live={}))                      # listed, gone: deleted
    res = report("snapshot", "--database", path, "--at", "2026-12-03", "--name", "tkc-1")
    assert res.exit_code == 0 and res.stdout == ""
    gone, none = res.stderr.splitlines()
    assert gone == f"TanzuKubernetesCluster ns1/tkc-1 on prod: deleted by then (gone since {at(2)}, run 2)"
    assert none.startswith("no objects live at ")
    before = report("snapshot", "--database", path, "--at", at(1), "--name", "tkc-1")
    assert yaml.safe_load(before.stdout)["metadata"]["name"] == "tkc-1"


def test_runs_subcommand(db):
    res = report("runs", "--database", db, "--cluster", "prod")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["RUN", "STARTED", "CLUSTER", "SOURCE", "COMMIT", "VERDICT", "COUNTS", "NOTES"]
    assert lines[1].split() == ["3", at(3), "prod", "gitops", "c1", "drift", "1", "in-sync,", "1", "missing"]
    doc = json.loads(report("runs", "--database", db, "-o", "json", "--limit", "1").output)
    assert doc["version"] == 1 and [r["cluster"] for r in doc["runs"]] == ["staging"]
    rows = list(csv.DictReader(io.StringIO(report("runs", "--database", db, "-o", "csv").output)))
    assert [r["id"] for r in rows] == ["4", "3", "2", "1"] and rows[3]["verdict"] == "drift"


def test_options_may_stand_before_the_subcommand(db):
    before = report("--database", db, "runs", "-o", "json")
    after = report("runs", "--database", db, "-o", "json")
    assert before.exit_code == 0, before.output
    assert [r["id"] for r in json.loads(before.output)["runs"]] == [4, 3, 2, 1]
    assert before.output == after.output


def test_a_subcommand_name_as_an_option_value_is_a_value(db):
    # an object named "runs" is a --name filter of the events listing, not the runs subcommand
    res = report("--database", db, "--name", "runs", "-o", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["events"] == []


def test_database_from_config_file(db, tmp_path):
    config = tmp_path / "driftd.yaml"
    config.write_text("database: audit.db\n")        # relative to the config file
    res = report("runs", "--config", str(config), "-o", "json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["runs"]) == 4


def test_report_reads_only_the_database_of_the_config(db, tmp_path, monkeypatch):
    """The service's config may need what only the service has (a webhook secret from its
    EnvironmentFile): report takes the database from it and nothing else."""
    monkeypatch.delenv("PAGER_SECRET", raising=False)
    config = tmp_path / "driftd.yaml"
    config.write_text("database: audit.db\nalerts:\n  webhooks:\n    - {url: 'https://pager.example.com/x', "
                      "secret: '${PAGER_SECRET}'}\nsources: []\n")
    res = report("runs", "--config", str(config), "-o", "json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["runs"]) == 4


def test_missing_database_exits_2_naming_the_path_and_creates_nothing(tmp_path):
    path = tmp_path / "nowhere" / "audit.db"
    for args in ([], ["runs"], ["snapshot", "--at", "1d"]):
        res = report(*args, "--database", str(path))
        assert res.exit_code == 2
        assert f"no audit database at {path}" in res.stderr
    assert not path.parent.exists()
    config = tmp_path / "c.yaml"
    config.write_text("database: missing.db\n")
    res = report("--config", str(config))
    assert res.exit_code == 2 and str(tmp_path / "missing.db") in res.stderr


def test_bad_time_is_a_usage_error(db):
    res = report("--database", db, "--since", "last fortnight")
    assert res.exit_code == 2 and "is not a time" in res.output + res.stderr


def test_report_does_not_write(db):
    before = open(db, "rb").read()
    report("--database", db)
    report("snapshot", "--database", db, "--at", "now")
    with AuditStore.open_readonly(db) as s:
        assert len(s.runs()) == 4
    assert open(db, "rb").read() == before


# ----------------------------------------------------------------------------- times

BERLIN = ZoneInfo("Europe/Berlin")
# Thursday 2026-12-03 15:30 in Berlin (UTC+1 in winter)
NOW = datetime(2026, 12, 3, 14, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, want", [
    ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),
    ("2026-12-01T12:00:00+02:00", "2026-12-01T10:00:00Z"),
    ("2026-12-01T10:00", "2026-12-01T09:00:00Z"),          # no offset: local time
    ("2026-12-01", "2026-11-30T23:00:00Z"),                 # a date: local midnight
    ("2026-07-01", "2026-06-30T22:00:00Z"),                 # summer time that day
    ("30m", "2026-12-03T14:00:00Z"),
    ("24h", "2026-12-02T14:30:00Z"),
    ("7d", "2026-11-26T14:30:00Z"),
    ("2w ago", "2026-11-19T14:30:00Z"),
    ("now", "2026-12-03T14:30:00Z"),
    ("today", "2026-12-02T23:00:00Z"),
    ("yesterday", "2026-12-01T23:00:00Z"),
    ("tuesday", "2026-11-30T23:00:00Z"),                    # Tue 2026-12-01 00:00 local
    ("Last Tue", "2026-11-30T23:00:00Z"),
    ("thursday", "2026-11-25T23:00:00Z"),                   # today is Thursday: a week ago
    ("friday", "2026-11-26T23:00:00Z"),
])
def test_parse_time(text, want):
    assert parse_time(text, now=NOW, tz=BERLIN) == want


def test_parse_time_rejects_nonsense():
    with pytest.raises(ValueError, match="not a time"):
        parse_time("someday", now=NOW, tz=BERLIN)


def test_runs_show_the_unusable_git_document_of_an_invalid_run(tmp_path):
    path = str(tmp_path / "audit.db")
    run = make_run(1, [], live={KEY: tkc()})
    run.problems = [{"file": "prod/tkc-1.yaml", "lines": [7], "message": "while parsing a flow sequence",
                     "object": "TanzuKubernetesCluster.run.tanzu.vmware.com ns1/tkc-1"}]
    with AuditStore.open(path) as s:
        s.record_run(run)
    table = report("runs", "--database", path).output
    assert "1 unusable Git document(s): prod/tkc-1.yaml:7 while parsing a flow sequence" in table
    [row] = list(csv.DictReader(io.StringIO(report("runs", "--database", path, "-o", "csv").output)))
    assert json.loads(row["problems"])[0]["object"] == "TanzuKubernetesCluster.run.tanzu.vmware.com ns1/tkc-1"


def test_runs_show_a_problem_without_lines_without_a_line_number(tmp_path):
    # a `paths:` entry that does not exist at the commit is a problem of the whole path: no lines
    path = str(tmp_path / "audit.db")
    run = make_run(1, [], live={KEY: tkc()})
    run.problems = [{"file": "prod/missing", "lines": [], "message": "no such path at this commit"}]
    with AuditStore.open(path) as s:
        s.record_run(run)
    res = report("runs", "--database", path)
    assert res.exit_code == 0, res.output
    assert "1 unusable Git document(s): prod/missing no such path at this commit" in res.output


def test_config_comes_from_driftd_config_and_c_is_short_for_config(db, tmp_path):
    config = tmp_path / "driftd.yaml"
    config.write_text("database: audit.db\n")
    for args in (["runs", "-o", "json"], ["-o", "json"], ["snapshot", "--at", "now", "-o", "json"],
                 ["changes", "-o", "json"], ["alerts", "-o", "json"]):
        res = CliRunner().invoke(report_command, args, env={"DRIFTD_CONFIG": str(config)})
        assert res.exit_code == 0, (args, res.output)
    res = CliRunner().invoke(report_command, ["runs", "-o", "json"], env={"DRIFTD_CONFIG": str(config)})
    assert len(json.loads(res.output)["runs"]) == 4
    res = report("-c", str(config), "runs", "-o", "json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["runs"]) == 4


def test_a_time_too_far_back_is_a_usage_error_not_a_traceback(db):
    res = report("--database", db, "--since", "999999999d")
    assert res.exit_code == 2, res.output
    assert "too far back" in res.output + res.stderr
    assert not isinstance(res.exception, OverflowError)


def test_snapshot_header_says_since_when_the_content_is_unchanged_not_when_it_was_last_seen(tmp_path):
    path = str(tmp_path / "audit.db")
    with AuditStore.open(path) as s:
        s.record_run(make_run(1, [result(Status.IN_SYNC)], live={KEY: tkc()}))
        s.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc()}))   # unchanged: no new snapshot
    res = report("snapshot", "--database", path, "--at", "now")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].endswith(f"content as of {at(1)} (run 1)")


def test_runs_accept_cluster_slash_source(db):
    doc = json.loads(report("runs", "--database", db, "--cluster", "prod/gitops", "-o", "json").output)
    assert [r["id"] for r in doc["runs"]] == [3, 2, 1]
    doc = json.loads(report("runs", "--database", db, "--cluster", "prod/gitops", "--limit", "1", "-o", "json").output)
    assert [r["id"] for r in doc["runs"]] == [3]
    assert json.loads(report("runs", "--database", db, "--cluster", "prod/x", "-o", "json").output)["runs"] == []


def test_runs_csv_has_the_notices_the_table_shows(tmp_path):
    path = str(tmp_path / "audit.db")
    run = make_run(1, [], live={KEY: tkc()})
    run.notices = ["Git remote unreachable (timeout); compared with the last fetched commit c1"]
    with AuditStore.open(path) as s:
        s.record_run(run)
    [row] = list(csv.DictReader(io.StringIO(report("runs", "--database", path, "-o", "csv").output)))
    assert json.loads(row["notices"]) == run.notices


def test_report_help_lists_the_event_filters():
    res = CliRunner().invoke(report_command, ["--help"])
    assert res.exit_code == 0
    for option in ("--status", "--since", "--cluster", "--namespace", "--kind", "--name", "--limit",
                   "driftd report events --help"):
        assert option in res.output, option


def test_events_warn_when_the_latest_run_of_a_source_ended_in_error(db):
    from driftd.model import CycleError

    with AuditStore.open(db) as s:
        s.record_run(make_run(4, [], commit=None, errors=[CycleError("git", "/srv/gitops", "cannot read /srv/gitops")],
                              cluster="staging", source="staging"))
    res = report("--database", db, "--cluster", "staging", "--status", "resolved")
    assert res.exit_code == 0
    assert res.stdout == "no drift events match\n"
    assert res.stderr == (f"driftd: warning: the latest run of staging/staging (run 5, {at(4)}) ended in error: "
                          "cannot read /srv/gitops; events may be out of date\n")
    doc = json.loads(report("--database", db, "-o", "json").stdout)
    assert [(w["cluster"], w["source"], w["run"], w["error"]) for w in doc["warnings"]] == [
        ("staging", "staging", 5, "cannot read /srv/gitops")]
    # prod's latest run did not fail: no warning about it
    assert report("--database", db, "--cluster", "prod", "-o", "json").stderr == ""
    assert json.loads(report("--database", db, "--cluster", "prod/gitops", "-o", "json").stdout)["warnings"] == []
