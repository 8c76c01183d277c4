"""``driftd diff`` through click's CliRunner over real files: inputs with nothing to compare are
errors naming the file, and the table says what was skipped."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from driftd.cli import main

CM = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: default}
data: {a: "1"}
"""


def diff(tmp_path, desired: str, live: str, *args: str):
    (tmp_path / "desired.yaml").write_text(desired)
    (tmp_path / "live.yaml").write_text(live)
    return CliRunner().invoke(main, ["diff", str(tmp_path / "desired.yaml"), str(tmp_path / "live.yaml"), *args])


@pytest.mark.parametrize("live", ["", "# kubectl said nothing\n", "just some text\n", "foo: bar\n",
                                  "---\nkind: ConfigMap\n"])
def test_live_without_a_kubernetes_object_is_an_error_naming_the_file(tmp_path, live):
    res = diff(tmp_path, CM, live)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(f"driftd: error: {tmp_path / 'live.yaml'}: no Kubernetes object")
    doc = json.loads(diff(tmp_path, CM, live, "-o", "json").stdout)
    assert doc["verdict"] == "error" and "no Kubernetes object" in doc["errors"][0]


def test_kubectls_empty_list_means_nothing_is_live(tmp_path):
    res = diff(tmp_path, CM, "apiVersion: v1\nkind: List\nitems: []\nmetadata: {resourceVersion: ''}\n")
    assert res.exit_code == 1, res.output
    assert "MISSING    ConfigMap default/app" in res.stdout


@pytest.mark.parametrize("desired", ["", "foo: bar\n"])
def test_desired_without_a_kubernetes_object_is_an_error_naming_the_file(tmp_path, desired):
    res = diff(tmp_path, desired, CM)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(f"driftd: error: {tmp_path / 'desired.yaml'}: no Kubernetes object")


def test_desired_with_only_unusable_documents_is_invalid_not_an_input_error(tmp_path):
    res = diff(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app\n", CM, "-o", "json")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["verdict"] == "invalid"


def test_the_table_prints_the_notices(tmp_path):
    res = diff(tmp_path, CM + "---\nfoo: bar\n", CM)
    assert res.exit_code == 0, res.output
    assert f"notice: {tmp_path / 'desired.yaml'}:6: document skipped: not a Kubernetes object" in res.stdout
