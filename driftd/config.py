"""The config file (docs/config.md): read, validated with messages that name the key, as dataclasses.

Only parsing and validation live here; nothing is connected to.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .classify import DEFAULT_GITOPS_MANAGERS, ClassifyOptions
from .compare import DEFAULT_OUT_OF_BAND_MANAGERS, CompareOptions
from .engine import EngineOptions
from .profiles import ProfileError, Rule, builtin_rules, rule_from_dict
from .yamlload import DuplicateKeyError, load_yaml

DEFAULT_WATCH = (
    ("run.tanzu.vmware.com", "TanzuKubernetesCluster"),
    ("cluster.x-k8s.io", "Cluster"),
    ("cluster.x-k8s.io", "MachineDeployment"),
    ("cluster.x-k8s.io", "MachineSet"),
    ("cluster.x-k8s.io", "Machine"),
    ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane"),
    ("infrastructure.cluster.x-k8s.io", "VSphereMachineTemplate"),
)


class ConfigError(ValueError):
    """The config file is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    kubeconfig: str | None = None     # None: in-cluster config
    context: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class SourceConfig:
    name: str
    repo: str
    cluster: str
    branch: str = "main"
    paths: tuple[str, ...] = (".",)
    namespace: str | None = None


@dataclass(frozen=True)
class WatchedKind:
    group: str
    kind: str
    version: str | None = None        # None: the version Git uses, else the server's preferred one


ALERT_EVENTS = ("drift_opened", "drift_changed", "drift_resolved", "cycle_failed")


@dataclass(frozen=True)
class WebhookConfig:
    """One alert receiver (docs/alerts.md). ``name`` is the identity of its delivery state."""
    name: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    events: tuple[str, ...] = ("drift_opened", "drift_resolved", "cycle_failed")
    secret: str | None = None         # HMAC-SHA256 key of the X-Driftd-Signature header


@dataclass(frozen=True)
class RetryConfig:
    """Backoff of failed alert deliveries: ``initial`` doubled after each failure, at most ``max``,
    given up after ``attempts`` attempts."""
    initial: float = 30.0
    max: float = 3600.0
    attempts: int = 10


@dataclass(frozen=True)
class RevertConfig:
    enabled: bool = False
    dry_run: bool = False
    field_manager: str = "driftd"
    classes: tuple[str, ...] = ("out-of-band",)


@dataclass(frozen=True)
class Config:
    path: str | None
    interval: float = 300.0
    database: str = "/var/lib/driftd/driftd.db"
    state_dir: str = "/var/lib/driftd"
    compare: str = "client"
    clusters: tuple[ClusterConfig, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    watch: tuple[WatchedKind, ...] = tuple(WatchedKind(g, k) for g, k in DEFAULT_WATCH)
    gitops_managers: tuple[str, ...] = DEFAULT_GITOPS_MANAGERS
    out_of_band_managers: tuple[str, ...] = DEFAULT_OUT_OF_BAND_MANAGERS
    disabled_rules: frozenset[str] = frozenset()
    ignore_rules: tuple[Rule, ...] = ()
    webhooks: tuple[WebhookConfig, ...] = ()
    alert_retry: RetryConfig = RetryConfig()
    revert: RevertConfig = RevertConfig()
    report_unmanaged: bool = True
    log_format: str = "auto"
    metrics_address: str | None = None
    extra: dict = field(default_factory=dict)

    def cluster(self, name: str) -> ClusterConfig:
        return next(c for c in self.clusters if c.name == name)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: object, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    m = _DURATION.match(str(value))
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"{where}: {value!r} is not a duration (like 30s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


class _Reader:
    """Typed access to one mapping of the config, naming the key in every error."""

    def __init__(self, data: object, where: str, allowed: tuple[str, ...]):
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a mapping" if where else
                              f"must be a mapping of keys ({', '.join(allowed)})")
        self.data, self.where = data, where
        unknown = sorted(set(data) - set(allowed), key=str)
        if unknown:
            raise ConfigError(f"{self._at(str(unknown[0]))}: unknown key (known: {', '.join(allowed)})")

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def str(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        if key not in self.data or self.data[key] is None:
            if required:
                raise ConfigError(f"{self._at(key)}: required")
            return default
        value = self.data[key]
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{self._at(key)}: must be a string")
        return str(value)

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self._at(key)}: must be true or false")
        return value

    def list(self, key: str, default: list | None = None, one_string: bool = False) -> list:
        """``one_string``: a lone string stands for a list of one (``paths: prod``)."""
        value = self.data.get(key, default if default is not None else [])
        if one_string and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{self._at(key)}: must be a list")
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        values = self.list(key, list(default), one_string=True)
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v:
                raise ConfigError(f"{self._at(key)}[{i}]: must be a non-empty string")
        return tuple(values)


TOP_KEYS = ("interval", "database", "state_dir", "compare", "clusters", "sources", "watch", "managers",
            "normalization", "ignore", "alerts", "revert", "report", "log", "metrics")


def _beside(p: str, base: Path) -> str:
    """A path of the config taken relative to the config file's folder (``~`` expanded); URLs as they are."""
    p = os.path.expanduser(p)
    return p if os.path.isabs(p) or "://" in p or p.startswith("git@") else str((base / p).resolve())


def parse_config(data: object, path: str | None = None) -> Config:
    where = ""
    r = _Reader(data if data is not None else {}, where, TOP_KEYS)
    base = Path(path).parent if path else Path.cwd()

    def resolve(p: str | None) -> str | None:
        return None if p is None else _beside(p, base)

    interval = parse_duration(r.data.get("interval", "5m"), "interval")
    database = resolve(r.str("database", "/var/lib/driftd/driftd.db"))
    state_dir = resolve(r.str("state_dir")) or str(Path(database).parent)
    compare = r.str("compare", "client")
    if compare not in ("client", "server"):
        raise ConfigError("compare: must be client or server")

    clusters = []
    for i, raw in enumerate(r.list("clusters")):
        c = _Reader(raw, f"clusters[{i}]", ("name", "kubeconfig", "context", "timeout"))
        clusters.append(ClusterConfig(
            name=c.str("name", required=True), kubeconfig=resolve(c.str("kubeconfig")), context=c.str("context"),
            timeout=parse_duration(c.data.get("timeout", 30), f"clusters[{i}].timeout")))
    names = [c.name for c in clusters]
    if len(set(names)) != len(names):
        raise ConfigError("clusters: two clusters have the same name")

    sources = []
    for i, raw in enumerate(r.list("sources")):
        s = _Reader(raw, f"sources[{i}]", ("name", "repo", "branch", "paths", "cluster", "namespace"))
        cluster = s.str("cluster", clusters[0].name if len(clusters) == 1 else None, required=len(clusters) != 1)
        if cluster not in names:
            raise ConfigError(f"sources[{i}].cluster: {cluster!r} is not one of clusters[].name ({', '.join(names) or 'none'})")
        repo = s.str("repo", required=True)
        paths = s.strings("paths", (".",))
        for j, p in enumerate(paths):
            if os.path.isabs(p) or ".." in Path(p).parts:
                raise ConfigError(f"sources[{i}].paths[{j}]: must be a path inside the repository")
        sources.append(SourceConfig(name=s.str("name", required=True), repo=resolve(repo) if not _is_url(repo) else repo,
                                    cluster=cluster, branch=s.str("branch", "main"), paths=paths,
                                    namespace=s.str("namespace")))
    snames = [s.name for s in sources]
    if len(set(snames)) != len(snames):
        raise ConfigError("sources: two sources have the same name")

    watch = []
    for i, raw in enumerate(r.list("watch", [{"group": g, "kind": k} for g, k in DEFAULT_WATCH])):
        w = _Reader(raw, f"watch[{i}]", ("group", "kind", "version"))
        watch.append(WatchedKind(w.str("group", ""), w.str("kind", required=True), w.str("version")))

    m = _Reader(r.data.get("managers") or {}, "managers", ("gitops", "out_of_band"))
    n = _Reader(r.data.get("normalization") or {}, "normalization", ("disable",))
    disabled = frozenset(n.strings("disable"))
    known = {rule.name for rule in builtin_rules()}
    for name in sorted(disabled - known):
        raise ConfigError(f"normalization.disable: no rule named {name!r} (`driftd profiles` lists them)")

    ignore_rules = []
    for i, raw in enumerate(r.list("ignore")):
        ig = _Reader(raw, f"ignore[{i}]", ("group", "kind", "namespace", "name", "paths", "managers", "why"))
        kind = ig.str("kind", "*")
        group = ig.str("group")
        rule = {"name": f"config-ignore-{i + 1}", "action": "ignore",
                "kinds": [f"{kind}.{group}" if group else kind],   # "*.apps": every kind of group apps
                "paths": list(ig.strings("paths")), "why": ig.str("why", "set in the config file"),
                "namespaces": [ig.str("namespace")] if ig.str("namespace") else [],
                "names": [ig.str("name")] if ig.str("name") else [], "managers": list(ig.strings("managers"))}
        if not rule["paths"] and not rule["managers"]:
            raise ConfigError(f"ignore[{i}]: needs paths or managers")
        try:
            ignore_rules.append(rule_from_dict(rule, "config", f"ignore[{i}]"))
        except ProfileError as exc:
            raise ConfigError(str(exc)) from exc

    webhooks, alert_retry = _parse_alerts(r.data.get("alerts") or {})

    rv = _Reader(r.data.get("revert") or {}, "revert", ("enabled", "dry_run", "field_manager", "classes"))
    revert = RevertConfig(enabled=rv.bool("enabled", False), dry_run=rv.bool("dry_run", False),
                          field_manager=rv.str("field_manager", "driftd"),
                          classes=rv.strings("classes", RevertConfig.classes))
    rep = _Reader(r.data.get("report") or {}, "report", ("unmanaged",))
    log = _Reader(r.data.get("log") or {}, "log", ("format",))
    log_format = log.str("format", "auto")
    if log_format not in ("auto", "json", "console"):
        raise ConfigError("log.format: must be auto, json or console")
    metrics = _Reader(r.data.get("metrics") or {}, "metrics", ("address",))
    # Parsed and validated above so a config written for a later driftd reads the same; refused
    # here because this version would silently not do them (an admin must not believe it reverts).
    for key, wanted in (("revert.enabled", revert.enabled),
                        ("metrics.address", metrics.str("address"))):
        if wanted:
            raise ConfigError(f"{key}: not available in driftd {__version__} yet (docs/config.md); remove it")

    return Config(
        path=path, interval=interval, database=database, state_dir=state_dir, compare=compare,
        clusters=tuple(clusters), sources=tuple(sources), watch=tuple(watch),
        gitops_managers=m.strings("gitops", DEFAULT_GITOPS_MANAGERS),
        out_of_band_managers=m.strings("out_of_band", DEFAULT_OUT_OF_BAND_MANAGERS),
        disabled_rules=disabled, ignore_rules=tuple(ignore_rules), webhooks=webhooks, alert_retry=alert_retry,
        revert=revert,
        report_unmanaged=rep.bool("unmanaged", True), log_format=log_format,
        metrics_address=metrics.str("address"))


_ENV_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expand_env(value: str, where: str) -> str:
    """``$NAME`` and ``${NAME}`` from the environment; an unset variable is an error, never sent as
    the literal text (a header ``Authorization: Bearer $TOKEN`` must not leave as written)."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return os.environ[name]
    return _ENV_VAR.sub(sub, value)


def _parse_alerts(data: object) -> tuple[tuple[WebhookConfig, ...], RetryConfig]:
    alerts = _Reader(data, "alerts", ("webhooks", "retry"))
    webhooks = []
    for i, raw in enumerate(alerts.list("webhooks")):
        at = f"alerts.webhooks[{i}]"
        h = _Reader(raw, at, ("name", "url", "headers", "timeout", "events", "secret"))
        url = _expand_env(h.str("url", required=True), f"{at}.url")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{at}.url: must be an http(s) URL")
        headers = h.data.get("headers") or {}
        if not isinstance(headers, dict):
            raise ConfigError(f"{at}.headers: must be a mapping")
        events = h.strings("events", WebhookConfig.events)
        for j, event in enumerate(events):
            if event not in ALERT_EVENTS:
                raise ConfigError(f"{at}.events[{j}]: {event!r} is not one of {', '.join(ALERT_EVENTS)}")
        secret = h.str("secret")
        webhooks.append(WebhookConfig(
            name=h.str("name", f"webhook-{i + 1}"), url=url,
            headers=tuple((str(k), _expand_env(str(v), f"{at}.headers.{k}")) for k, v in headers.items()),
            timeout=parse_duration(h.data.get("timeout", 10), f"{at}.timeout"), events=events,
            secret=_expand_env(secret, f"{at}.secret") if secret is not None else None))
    names = [w.name for w in webhooks]
    if len(set(names)) != len(names):
        raise ConfigError("alerts.webhooks: two webhooks have the same name")
    rt = _Reader(alerts.data.get("retry") or {}, "alerts.retry", ("initial", "max", "attempts"))
    attempts = rt.data.get("attempts", RetryConfig.attempts)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise ConfigError("alerts.retry.attempts: must be a whole number of at least 1")
    retry = RetryConfig(initial=parse_duration(rt.data.get("initial", RetryConfig.initial), "alerts.retry.initial"),
                        max=parse_duration(rt.data.get("max", RetryConfig.max), "alerts.retry.max"),
                        attempts=attempts)
    return tuple(webhooks), retry


def _is_url(repo: str) -> bool:
    return "://" in repo or repo.startswith("git@")


def _read_config(path: str) -> object:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return load_yaml(text)
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError and its marks
        raise ConfigError(f"{path}: {_yaml_error(exc)}") from exc


def database_of(path: str | Path) -> str:
    """The audit database a config file names, and nothing else of it: ``driftd report`` must work
    where the rest cannot be read (a webhook secret from an environment only the service has)."""
    path = str(path)
    data = _read_config(path)
    if not isinstance(data, dict):
        data = {}
    value = data.get("database", Config(path=None).database)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: database: must be a path")
    return _beside(value, Path(path).parent)


def load_config_file(path: str | Path, need_sources: bool = True) -> Config:
    """``need_sources``: a config for cycles (check, run) must have at least one source; ``driftd
    diff`` (normalization, ignore) reads it without."""
    path = str(path)
    data = _read_config(path)
    try:
        config = parse_config(data, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if need_sources and not config.sources:
        # Without a source a cycle compares nothing and would say "in-sync" forever.
        raise ConfigError(f"{path}: sources: at least one source is needed (docs/config.md)")
    return config


def _yaml_error(exc: Exception) -> str:
    """A YAML syntax error on one line: where (line, column of the file) and what; PyYAML's own text
    is several lines and names the stream "<unicode string>"."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if mark is None or not what:
        return "invalid YAML: " + " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    detail = f" ({context})" if context and context != what else ""
    return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {what}{detail}"


def engine_options(config: Config | None) -> EngineOptions:
    if config is None:
        return EngineOptions(rules=tuple(builtin_rules()))
    return EngineOptions(
        rules=tuple(builtin_rules()) + config.ignore_rules,
        disabled_rules=config.disabled_rules,
        classify=ClassifyOptions(CompareOptions(config.out_of_band_managers), config.gitops_managers),
        report_unmanaged=config.report_unmanaged)
