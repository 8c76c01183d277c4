"""``driftd check`` through click's CliRunner on real files, without a cluster: a local Git
repository, a kubeconfig that does not exist, an audit database that cannot be created. What it
prints for failures and notices."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from driftd.cli import main

MANIFESTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: default}
data: {a: "1"}
---
foo: bar
"""


@pytest.fixture
def config(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "cm.yaml").write_text(MANIFESTS)
    git = ["git", "-C", str(repo), "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    (tmp_path / "not-a-folder").write_text("")
    path = tmp_path / "driftd.yaml"
    path.write_text("database: not-a-folder/audit.db\n"
                    "clusters: [{name: supervisor, kubeconfig: no-such-kubeconfig}]\n"
                    "sources: [{name: prod, repo: repo}]\n")
    return path


def check(config, *args: str):
    return CliRunner().invoke(main, ["check", "--config", str(config), *args])


def test_an_unwritable_database_says_the_run_was_not_recorded_once(config, tmp_path):
    res = check(config)
    assert res.exit_code == 2, res.output
    database = tmp_path / "not-a-folder" / "audit.db"
    [line] = [line for line in res.stdout.splitlines() if str(database) in line]
    assert line.startswith("ERROR      audit trail: audit database ")
    assert line.endswith("; NOT recorded: the run of prod on supervisor")
    assert "kept in memory" not in res.output and "retried" not in res.output
    # each error once, on stdout with the verdict: no log lines repeating them on stderr
    assert res.stderr == ""
    assert res.stdout.count("no-such-kubeconfig") == 1


def test_json_top_level_notices_hold_every_runs_notices_named_by_source(config):
    doc = json.loads(check(config, "-o", "json").stdout)
    [run] = doc["runs"]
    assert run["notices"] == ["cm.yaml:6: document skipped: not a Kubernetes object "
                              "(apiVersion, kind, metadata.name missing)"]
    assert doc["notices"] == [f"source prod: {n}" for n in run["notices"]]
