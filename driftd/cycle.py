"""One drift cycle for one source: read Git -> list live -> compare -> classify -> (store).

The only place where the edges (Git, Kubernetes) meet the pure engine. Every edge failure becomes a
``CycleError`` in the run record: a kind whose LIST failed is left out of the comparison (its
objects are neither "missing" nor "in sync"), and the verdict is ``error``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import logs
from .config import Config, SourceConfig, engine_options
from .engine import DiffResult, diff_sets, match_live
from .gitsource import GitError, GitSource
from .history import HistoryEvidence, ObjectHistory, index_path
from .kubesource import KindInfo, KubeError, KubeSource
from .model import CycleError, ObjectKey, RunRecord, Status, Verdict, group_of, object_key
from .schema import CrdSchemas
from .serverside import Conflict, ServerView, dry_run_body, parse_conflicts
from .yamlload import Manifest, Problem

DRY_RUN_MANAGER = "driftd"

# (cluster, group, kind) whose dry runs were refused (403), already logged by this process: the
# notice is in every run that falls back, the log line only once.
_forbidden_logged: set[tuple[str, str, str]] = set()


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kind_of(m: Manifest) -> tuple[str, str]:
    return (m.key.group, m.key.kind)


def _version_of(m: Manifest) -> str:
    """The version of the apiVersion Git declares ``m`` at (``v1alpha1`` of ``run.tanzu.vmware.com/v1alpha1``)."""
    return str(m.obj.get("apiVersion", "")).split("/")[-1]


def _versions_in_git(manifests: list[Manifest]) -> dict[tuple[str, str], str]:
    """The apiVersion Git uses most for each kind (live is listed at it, so the server converts)."""
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for m in manifests:
        counts[_kind_of(m)][_version_of(m)] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items()}


def kinds_to_list(manifests: list[Manifest], problems: list[Problem],
                  watched: dict[tuple[str, str], str | None]) -> dict[tuple[str, str], str | None]:
    """Every kind a cycle lists, with the version to list it at (None: the server's preferred one):
    the watched kinds, the kinds Git declares, and the kinds of Git documents that cannot be used.
    Without the last, a file whose only object is invalid (a duplicate key, case 19) would be left
    out with its kind and the cycle would say in sync."""
    git_versions = _versions_in_git(manifests)
    kinds: dict[tuple[str, str], str | None] = {k: git_versions.get(k) or v for k, v in watched.items()}
    kinds.update({k: v for k, v in git_versions.items()})
    for problem in problems:
        if problem.key is not None:
            kinds.setdefault((problem.key.group, problem.key.kind), None)
    return kinds


@dataclasses.dataclass
class CycleContext:
    config: Config
    source: SourceConfig
    git: GitSource
    kube: KubeSource | None        # None: the cluster could not even be configured
    kube_error: KubeError | None = None
    previous_commit: str | None = None
    history: ObjectHistory | None = None   # kept between cycles: a warm cycle walks only new commits
    clock: Callable[[], str] = utcnow


def _history(ctx: CycleContext, commit: str, run: RunRecord) -> HistoryEvidence | None:
    """The source's Git history brought up to ``commit`` (docs/history.md); None, with a notice, when
    it cannot be read: drifts are then classified from the live objects only, never judged worse."""
    path = index_path(ctx.config.state_dir, ctx.source.name, f"{ctx.source.repo}\n{ctx.source.branch}")
    paths = tuple(ctx.source.paths)
    if ctx.history is None or ctx.history.paths != paths:
        ctx.history = ObjectHistory.load(path, ctx.source.name, ctx.source.namespace, paths)
    try:
        ctx.history.update(ctx.git, commit)
    except GitError as exc:
        ctx.history = None
        run.notices.append(f"Git history unavailable ({exc}); drifts are classified from the live objects only")
        return None
    if ctx.history.rewritten:
        # Also seen after a restart, when the cycle no longer knows the previous commit itself.
        if not run.history_rewritten:
            run.notices.append(f"branch {ctx.source.branch} was rewritten (force push): the indexed history no "
                               "longer leads to it")
        run.history_rewritten = True
    if ctx.history.walked or ctx.history.rebuilt:
        try:
            ctx.history.save(path)
        except OSError as exc:
            run.notices.append(f"history index not saved ({exc.strerror or exc}); the next start walks the "
                               "history again")
    return HistoryEvidence(ctx.history, ctx.git)


def run_source_cycle(ctx: CycleContext) -> tuple[RunRecord, DiffResult]:
    cfg, src = ctx.config, ctx.source
    run = RunRecord(cluster=src.cluster, source=src.name, started_at=ctx.clock(), finished_at="", commit=None)
    result = DiffResult()
    try:
        snap = ctx.git.sync(ctx.previous_commit)
    except GitError as exc:
        run.errors.append(CycleError("git", ctx.git.display, str(exc)))
        run.finished_at = ctx.clock()
        return run, result
    run.commit, run.stale, run.history_rewritten = snap.commit, snap.stale, snap.history_rewritten
    if snap.stale:
        run.notices.append(f"Git remote unreachable ({snap.fetch_error}); compared with the last fetched commit "
                           f"{snap.commit[:12]}")
    if snap.history_rewritten:
        run.notices.append(f"branch {src.branch} was rewritten (force push) since {(snap.previous_commit or '')[:12]}")
    try:
        loaded = ctx.git.manifests(snap.commit, src.namespace)
    except GitError as exc:
        run.errors.append(CycleError("git", ctx.git.display, str(exc)))
        run.commit = None  # nothing of this commit could be read: no event may be touched
        run.finished_at = ctx.clock()
        return run, result
    run.notices += loaded.notices

    if ctx.kube is None:
        err = ctx.kube_error or KubeError(f"cluster {src.cluster}: not configured")
        run.errors.append(CycleError("kube", src.cluster, str(err)))
        run.finished_at = ctx.clock()
        return run, result

    watched = {(w.group, w.kind): w.version for w in cfg.watch}
    kinds = kinds_to_list(loaded.manifests, loaded.problems, watched)
    infos: dict[tuple[str, str], KindInfo] = {}
    for kind in sorted(kinds):
        try:
            infos[kind] = ctx.kube.kind_info(kind[0], kind[1], kinds[kind])
        except KubeError as exc:
            run.errors.append(CycleError("kube", _label(kind), str(exc), kind))

    # Cluster-scoped kinds have no namespace, whatever the source's default says.
    manifests = [m if infos.get(_kind_of(m)) is None or infos[_kind_of(m)].namespaced
                 else dataclasses.replace(m, key=dataclasses.replace(m.key, namespace=None)) for m in loaded.manifests]
    namespaces = sorted({m.key.namespace for m in manifests if m.key.namespace} | ({src.namespace} if src.namespace else set()))
    run.namespaces = namespaces or None

    live: list[dict] = []
    for kind, info in sorted(infos.items()):
        try:
            if info.namespaced and namespaces:
                items = [o for ns in namespaces for o in ctx.kube.list(info, ns)]
            else:
                items = ctx.kube.list(info)
        except KubeError as exc:
            run.errors.append(CycleError("kube", _label(kind), str(exc), kind))
            continue
        run.watched.append(kind)
        live += items

    listed = set(run.watched)
    compared = [m for m in manifests if _kind_of(m) in listed]
    live, unread = _at_git_versions(ctx, compared, live, infos, run)
    schemas = _crd_schemas(ctx, [infos[k] for k in sorted(listed)], run)
    problems = [p for p in loaded.problems if p.key is None or (p.key.group, p.key.kind) in listed]
    options = engine_options(cfg)
    history = _history(ctx, snap.commit, run)
    unusable = {p.key for p in problems if p.key is not None}
    server = _dry_runs(ctx, [m for m in compared if m.key not in unusable | unread], live, infos, run) \
        if cfg.compare == "server" else None
    run.compare = {_label(k): "server" if server is not None and k not in run.compare_fallback else "client"
                   for k in sorted({_kind_of(m) for m in compared})}
    result = diff_sets(compared, problems, live, options, history, server, schemas, unread)
    if history is not None and history.failures:
        run.notices.append(f"Git history partly unreadable ({history.failures[0]}); the drifts it concerns are "
                           "classified from the live objects only")
    # Unmanaged objects are reported only for watched kinds: a ConfigMap that Git declares does not
    # make every ConfigMap of the namespace "unmanaged".
    result.objects = [o for o in result.objects
                      if o.status is not Status.UNMANAGED or (o.key.group, o.key.kind) in watched]
    for o in result.objects:
        if o.source is not None:
            o.source["commit"] = snap.commit
    result.notices = loaded.notices
    run.objects = result.objects
    run.live = {ObjectKey(group_of(o.get("apiVersion", "")), o.get("kind", ""),
                          (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name", "")): o
                for o in live}
    # Every unusable Git document goes into the run, also those of a known object (which open no
    # drift episode): the audit trail keeps what was wrong, where.
    run.problems = [{"file": p.file, "lines": list(p.lines), "message": p.message} for p in result.problems] + [
        {**o.invalid_detail, "object": str(o.key)} for o in result.objects
        if o.status is Status.INVALID and o.invalid_detail]
    run.verdict = Verdict.ERROR if run.errors else result.verdict
    run.finished_at = ctx.clock()
    return run, result


def _at_git_versions(ctx: CycleContext, manifests: list[Manifest], live: list[dict],
                     infos: dict[tuple[str, str], KindInfo], run: RunRecord) -> tuple[list[dict], set[ObjectKey]]:
    """Each kind is listed at the version most of Git uses; an object Git declares at another
    version of its kind (a v1alpha1 -> v1alpha3 migration in progress) is read again at its own
    version, so the server converts it and both sides are compared in one version. An object that
    cannot be read so is an error of the run and gets no verdict (returned as unread), never a
    comparison across versions."""
    assert ctx.kube is not None
    live_by_key = {object_key(o): o for o in live}
    unread: set[ObjectKey] = set()
    for m in manifests:
        info = infos[_kind_of(m)]
        version = _version_of(m)
        live_key = match_live(m.key, live_by_key)
        if version == info.version or live_key is None:
            continue   # listed at its version already, or missing at every version
        try:
            own = ctx.kube.kind_info(info.group, info.kind, version)
            live_by_key[live_key] = ctx.kube.get(own, live_key.namespace, live_key.name)
        except KubeError as exc:
            unread.add(live_key)
            run.errors.append(CycleError("kube", str(live_key),
                                         f"{live_key} is declared at {m.obj.get('apiVersion')} ({m.file}:{m.line}) "
                                         f"and could not be read at that version, so its drift is not known: {exc}"))
    return list(live_by_key.values()), unread


def _crd_schemas(ctx: CycleContext, infos: list[KindInfo], run: RunRecord) -> CrdSchemas:
    """The structural schemas of the listed custom kinds (list-map-keys, free-form fields;
    driftd.schema). A built-in kind has no CRD (404). A CRD the user may not read is one notice: the
    comparison then relies on the profiles alone, as ``driftd diff`` without ``--crd`` does."""
    assert ctx.kube is not None
    crds, refused = [], []
    for info in infos:
        if not info.group:
            continue
        try:
            crds.append(ctx.kube.crd(info))
        except KubeError as exc:
            if exc.reason != "not-found":
                refused.append(f"{info.label} ({exc.status or exc.reason})")
    if refused:
        run.notices.append(f"CRD schemas not readable for {', '.join(refused)}: their list keys and free-form "
                           "fields come from the built-in profiles only (grant get on "
                           "customresourcedefinitions.apiextensions.k8s.io to use them)")
    return CrdSchemas.from_crds(crds)


def _dry_runs(ctx: CycleContext, manifests: list[Manifest], live: list[dict], infos: dict[tuple[str, str], KindInfo],
              run: RunRecord) -> ServerView:
    """``compare: server``: server-side apply each Git object that is live, as ``driftd`` with
    ``dryRun=All`` (docs/config.md). A kind whose dry runs are refused (403: no patch permission) is
    compared client-side, with one notice; any other failure is an error naming the object, which
    then gets no verdict. Objects missing live are not dry-run: they stay ``missing``."""
    view = ServerView()
    live_by_key = {object_key(o): o for o in live}
    declared = Counter(m.key for m in manifests)
    for m in manifests:
        kind = _kind_of(m)
        if kind in run.compare_fallback or declared[m.key] > 1:
            continue   # the kind falls back; a key declared twice is invalid, never compared
        live_key = match_live(m.key, live_by_key)
        if live_key is None:
            continue
        assert ctx.kube is not None
        try:
            info = infos[kind]
            if _version_of(m) != info.version:   # applied at the version Git declares it in
                info = ctx.kube.kind_info(info.group, info.kind, _version_of(m))
            after, conflicts = _dry_run(ctx.kube, info, dry_run_body(m.obj, live_key.namespace),
                                        live_by_key[live_key])
        except KubeError as exc:
            if exc.reason == "forbidden":
                # The whole kind falls back (patch may be granted by name: keep one mode per kind).
                run.compare_fallback.add(kind)
                for key in [k for k in view.after_sync if (k.group, k.kind) == kind]:
                    del view.after_sync[key]
                    view.conflicts.pop(key, None)
                run.notices.append(
                    f"compare: server: the dry-run apply of {_label(kind)} on cluster {ctx.source.cluster} was "
                    f"refused (403: the user may not patch {_label(kind)}); {_label(kind)} is compared "
                    "client-side in this run. Grant patch on it for the server-side comparison")
                if (ctx.source.cluster, *kind) not in _forbidden_logged:
                    _forbidden_logged.add((ctx.source.cluster, *kind))
                    logs.get().info("server_compare_forbidden", cluster=ctx.source.cluster, kind=_label(kind),
                                       fallback="client", error=str(exc))
                continue
            view.skipped.add(live_key)
            run.errors.append(CycleError("kube", str(live_key),
                                         f"compare: server: dry-run apply of {live_key} failed, so its drift is "
                                         f"not known: {exc}"))
            continue
        view.after_sync[live_key] = after
        if conflicts:
            view.conflicts[live_key] = conflicts
    return view


def _dry_run(kube: KubeSource, info: KindInfo, body: dict, live_obj: dict) -> tuple[dict, list[Conflict]]:
    """The object as the server would store it after applying ``body``, and the conflicts a
    non-forced apply meets (each other manager owning a field Git's apply would change)."""
    try:
        return kube.apply(info, body, DRY_RUN_MANAGER, force=False, dry_run=True), []
    except KubeError as exc:
        if exc.reason != "conflict":
            raise
        conflicts = parse_conflicts(exc.details, live_obj)
    return kube.apply(info, body, DRY_RUN_MANAGER, force=True, dry_run=True), conflicts


def _label(kind: tuple[str, str]) -> str:
    return f"{kind[1]}.{kind[0]}" if kind[0] else kind[1]


def overall_verdict(runs: list[RunRecord]) -> Verdict:
    verdicts = {r.verdict if (r.commit and not r.errors) else Verdict.ERROR for r in runs}
    for v in (Verdict.ERROR, Verdict.INVALID, Verdict.DRIFT):
        if v in verdicts:
            return v
    return Verdict.IN_SYNC


class Cycle:
    """All sources of a config, with their Git and cluster connections kept between cycles."""

    def __init__(self, config: Config, store=None):
        self.config, self.store = config, store
        self.git = {s.name: GitSource(s, Path(config.state_dir)) for s in config.sources}
        self._kube: dict[str, KubeSource] = {}
        self.previous_commit: dict[str, str | None] = {}
        self.history: dict[str, ObjectHistory | None] = {}

    def kube_for(self, cluster: str) -> tuple[KubeSource | None, KubeError | None]:
        if cluster in self._kube:
            self._kube[cluster].forget_discovery()  # a CRD may have been installed since the last cycle
            return self._kube[cluster], None
        try:
            self._kube[cluster] = KubeSource.connect(self.config.cluster(cluster))
        except KubeError as exc:
            return None, exc
        return self._kube[cluster], None

    def run_once(self, stop: Callable[[], bool] = lambda: False) -> list[tuple[RunRecord, DiffResult]]:
        out = []
        for src in self.config.sources:
            if stop():
                break
            self.git[src.name].stop = stop   # a stop request ends a hung fetch at once
            kube, kube_error = self.kube_for(src.cluster)
            ctx = CycleContext(self.config, src, self.git[src.name], kube, kube_error,
                               self.previous_commit.get(src.name), self.history.get(src.name))
            run, result = run_source_cycle(ctx)
            self.history[src.name] = ctx.history
            if run.commit:
                self.previous_commit[src.name] = run.commit
            out.append((run, result))
        return out

    def close(self) -> None:
        for kube in self._kube.values():
            kube.close()
