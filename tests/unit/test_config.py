"""The config file: the documented shape works as written, and every mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftd.config import DEFAULT_WATCH, ConfigError, load_config_file, parse_config

REPO = Path(__file__).resolve().parents[2]

ISSUE_SHAPE = """\
interval: 5m                      # the daemon's cycle
database: /var/lib/driftd/driftd.db
clusters:
  - name: supervisor
    kubeconfig: /etc/driftd/kubeconfig
    context: argocd-admin@supervisor      # optional
sources:
  - name: prod
    repo: https://git.example.com/platform/tanzu-gitops.git   # or a local path
    branch: main
    paths: [prod]                 # "." for the whole repository
    cluster: supervisor
    namespace: prod               # for objects that name none
watch:                            # optional; default: TKC and the Cluster API kinds
  - {group: run.tanzu.vmware.com, kind: TanzuKubernetesCluster}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftd.yaml"
    path.write_text(text)
    return path


def test_the_documented_config_shape_reads_as_written(tmp_path):
    cfg = load_config_file(write(tmp_path, ISSUE_SHAPE))
    assert cfg.interval == 300.0
    assert cfg.database == "/var/lib/driftd/driftd.db"
    assert cfg.state_dir == "/var/lib/driftd"
    assert [(c.name, c.kubeconfig, c.context) for c in cfg.clusters] == [
        ("supervisor", "/etc/driftd/kubeconfig", "argocd-admin@supervisor")]
    src = cfg.sources[0]
    assert (src.name, src.repo, src.branch, src.paths, src.cluster, src.namespace) == (
        "prod", "https://git.example.com/platform/tanzu-gitops.git", "main", ("prod",), "supervisor", "prod")
    assert [(w.group, w.kind, w.version) for w in cfg.watch] == [("run.tanzu.vmware.com", "TanzuKubernetesCluster", None)]


def test_the_shipped_example_config_is_valid():
    cfg = load_config_file(REPO / "config" / "driftd.example.yaml")
    assert [s.name for s in cfg.sources] == ["prod"]


def test_defaults_watch_tkc_and_cluster_api_and_resolve_paths_beside_the_file(tmp_path):
    (tmp_path / "gitops").mkdir()
    cfg = load_config_file(write(tmp_path, "database: state/d.db\nclusters: [{name: c}]\n"
                                           "sources: [{name: s, repo: gitops}]\n"))
    assert [(w.group, w.kind) for w in cfg.watch] == list(DEFAULT_WATCH)
    assert cfg.database == str(tmp_path / "state" / "d.db")
    assert cfg.sources[0].repo == str(tmp_path / "gitops")
    assert cfg.sources[0].cluster == "c"          # the only cluster
    assert cfg.clusters[0].kubeconfig is None     # in-cluster config


@pytest.mark.parametrize("text, message", [
    ("interval: soon\n", "interval: 'soon' is not a duration"),
    ("clusters: [{name: a, kubeconfg: /x}]\n", "clusters[0].kubeconfg: unknown key"),
    ("clusters: [{name: a}, {name: b}]\nsources: [{name: s, repo: /r}]\n", "sources[0].cluster: required"),
    ("clusters: [{name: a}]\nsources: [{name: s, repo: /r, cluster: b}]\n",
     "sources[0].cluster: 'b' is not one of clusters[].name (a)"),
    ("clusters: [{name: a}]\nsources: [{name: s, repo: /r, paths: [../up]}]\n",
     "sources[0].paths[0]: must be a path inside the repository"),
    ("clusters: [{name: a}]\nsources: [{name: s}]\n", "sources[0].repo: required"),
    ("compare: maybe\n", "compare: must be client or server"),
    ("normalization: {disable: [no-such-rule]}\n", "normalization.disable: no rule named 'no-such-rule'"),
    ("ignore: [{kind: Deployment}]\n", "ignore[0]: needs paths or managers"),
    ("log: {format: xml}\n", "log.format: must be auto, json or console"),
    ("colour: blue\n", "colour: unknown key"),
])
def test_a_mistake_names_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_duplicate_keys_in_the_config_name_both_lines(tmp_path):
    path = write(tmp_path, "interval: 5m\ndatabase: /a.db\ninterval: 1m\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert "interval" in str(err.value) and "1" in str(err.value) and "3" in str(err.value)


@pytest.mark.parametrize("text, key", [
    ("alerts: {webhooks: [{url: 'https://hooks.example.com/x'}]}\n", "alerts.webhooks"),
    ("revert: {enabled: true}\n", "revert.enabled"),
    ("metrics: {address: '127.0.0.1:9090'}\n", "metrics.address"),
])
def test_features_this_version_lacks_are_refused_not_silently_ignored(text, key):
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_load(text))
    assert str(err.value).startswith(f"{key}: not available in driftd")


def test_a_missing_config_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config_file(tmp_path / "nope.yaml")
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"


def test_diff_with_a_broken_config_is_one_message_and_exit_2_not_drift(tmp_path):
    import json

    from click.testing import CliRunner

    from driftd.cli import main

    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\ndata: {k: v}\n"
    (tmp_path / "desired.yaml").write_text(cm)
    (tmp_path / "live.yaml").write_text(cm)
    cfg = write(tmp_path, "normalization: {disable: [no-such-rule]}\n")
    args = ["diff", str(tmp_path / "desired.yaml"), str(tmp_path / "live.yaml"), "--config", str(cfg)]
    res = CliRunner().invoke(main, [*args, "-o", "json"])
    assert res.exit_code == 2, res.output
    report = json.loads(res.stdout)
    assert report["verdict"] == "error" and report["objects"] == []
    assert "no-such-rule" in report["errors"][0] and report["errors"][0].startswith(f"config: {cfg}")
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "Traceback" not in res.output
