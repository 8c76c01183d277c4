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
    ("revert: {enabled: true}\n", "revert.enabled"),
    ("metrics: {address: '127.0.0.1:9090'}\n", "metrics.address"),
])
def test_features_this_version_lacks_are_refused_not_silently_ignored(text, key):
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_load(text))
    assert str(err.value).startswith(f"{key}: not available in driftd")


def test_alert_webhooks_are_read_with_their_headers_secret_and_retry(monkeypatch):
    monkeypatch.setenv("CHAT_TOKEN", "t0ken")
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    cfg = parse_config(yaml.safe_load("""
alerts:
  webhooks:
    - name: chat
      url: https://hooks.example.com/driftd
      headers: {Authorization: "Bearer $CHAT_TOKEN", X-Team: "platform-${CHAT_TOKEN}"}
      timeout: 5s
      events: [drift_opened, drift_changed]
      secret: $HOOK_SECRET
    - url: http://127.0.0.1:9000/hook
  retry: {initial: 10s, max: 10m, attempts: 4}
"""))
    chat, second = cfg.webhooks
    assert (chat.name, chat.url, chat.timeout, chat.events, chat.secret) == (
        "chat", "https://hooks.example.com/driftd", 5.0, ("drift_opened", "drift_changed"), "s3cret")
    assert chat.headers == (("Authorization", "Bearer t0ken"), ("X-Team", "platform-t0ken"))
    assert (second.name, second.events, second.secret) == (
        "webhook-2", ("drift_opened", "drift_resolved", "cycle_failed"), None)
    assert (cfg.alert_retry.initial, cfg.alert_retry.max, cfg.alert_retry.attempts) == (10.0, 600.0, 4)


@pytest.mark.parametrize("text, message", [
    ("alerts: {webhooks: [{url: 'ftp://x'}]}\n", "alerts.webhooks[0].url: must be an http(s) URL"),
    ("alerts: {webhooks: [{url: 'http://x', headers: {A: '$DRIFTD_TEST_UNSET_VAR'}}]}\n",
     "alerts.webhooks[0].headers.A: environment variable DRIFTD_TEST_UNSET_VAR is not set"),
    ("alerts: {webhooks: [{url: 'http://x', events: [drift_opend]}]}\n",
     "alerts.webhooks[0].events[0]: 'drift_opend' is not one of drift_opened, drift_changed, drift_resolved, cycle_failed"),
    ("alerts: {webhooks: [{name: a, url: 'http://x'}, {name: a, url: 'http://y'}]}\n",
     "alerts.webhooks: two webhooks have the same name"),
    ("alerts: {webhooks: [{url: 'http://x', secrt: y}]}\n", "alerts.webhooks[0].secrt: unknown key"),
    ("alerts: {retry: {attempts: 0}}\n", "alerts.retry.attempts: must be a whole number of at least 1"),
    ("alerts: {retry: {initial: soon}}\n", "alerts.retry.initial: 'soon' is not a duration"),
])
def test_alert_mistakes_name_the_key(text, message):
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_load(text))
    assert str(err.value).startswith(message)


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


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "clusters: [{name: c}]\n",
                                  "clusters: [{name: c}]\nsources: []\n"])
def test_a_config_without_sources_is_an_error_for_check_and_run(tmp_path, text):
    from click.testing import CliRunner

    from driftd.cli import main

    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == f"{path}: sources: at least one source is needed (docs/config.md)"
    for args in (["check", "--no-store"], ["run"]):
        res = CliRunner().invoke(main, [*args, "--config", str(path)])
        assert res.exit_code == 2, res.output
        assert res.stderr == f"driftd: config: {path}: sources: at least one source is needed (docs/config.md)\n"


def test_report_and_diff_read_a_config_with_only_a_database(tmp_path):
    cfg = load_config_file(write(tmp_path, "database: audit.db\n"), need_sources=False)
    assert cfg.database == str(tmp_path / "audit.db") and cfg.sources == ()


def test_a_yaml_syntax_error_is_one_line_naming_the_file_line_and_column(tmp_path):
    path = write(tmp_path, "interval: 5m\nclusters:\n  - name: a\n   kubeconfig: /x\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    message = str(err.value)
    assert "\n" not in message and "<unicode string>" not in message
    assert message == (f"{path}: line 4, column 4: invalid YAML: did not find expected '-' indicator "
                       "(while parsing a block collection)")


@pytest.mark.parametrize("text, message", [
    ("watch: TanzuKubernetesCluster\n", "watch: must be a list"),
    ("sources: prod\n", "sources: must be a list"),
    ("intervall: 5m\n", "intervall: unknown key (known: interval, "),
    ("- interval: 5m\n", "must be a mapping of keys (interval, "),
])
def test_shape_mistakes_name_the_key_as_written(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value).startswith(f"{path}: {message}")
