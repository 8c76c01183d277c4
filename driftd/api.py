"""Library entry points the CLI calls: ``diff_files`` (offline), ``check`` and ``CheckSession`` (cycles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import logs
from .config import Config
from .cycle import Cycle, overall_verdict
from .engine import DiffResult, EngineOptions, diff_sets
from .classify import classify_missing
from .model import RunRecord, Status, Verdict
from .output import report_json
from .schema import CrdSchemas
from .store import AuditStore, StoreError
from .yamlload import LoadResult, load_manifests

if TYPE_CHECKING:
    from .alerts import DeliveryReport

YAML_SUFFIXES = (".yaml", ".yml")


class DiffInputError(Exception):
    """An input file of ``driftd diff`` cannot be read at all."""


def load_path(path: str | Path, default_namespace: str | None = None, relative_to: Path | None = None) -> LoadResult:
    """Every manifest in a file, or in the *.yaml/*.yml files under a folder (sorted, recursive)."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()) if root.is_dir() else [root]
    total = LoadResult()
    for f in files:
        name = str(f.relative_to(relative_to)) if relative_to else str(f)
        try:
            data = f.read_bytes()
        except OSError as exc:
            raise DiffInputError(f"{f}: cannot read: {exc.strerror}") from exc
        total.add(load_manifests(data, name, default_namespace))
    return total


def diff_files(desired: str | Path, live: str | Path, namespace: str | None = None,
               config_path: str | Path | None = None, crd_paths: tuple[str | Path, ...] = ()) -> DiffResult:
    """``crd_paths``: CustomResourceDefinition files or folders whose schemas give list keys and
    free-form values (driftd.schema), as the API server's CRDs do in a cycle."""
    from .config import engine_options, load_config_file

    options = engine_options(load_config_file(config_path, need_sources=False)) if config_path else engine_options(None)
    want = load_path(desired, namespace)
    have = load_path(live)
    if have.problems:
        raise DiffInputError("; ".join(p.describe() for p in have.problems))
    # Nothing to compare is an input mistake (a wrong file, an empty redirect), never "everything
    # missing" or "in sync". kubectl's empty answer, `kind: List` with `items: []`, does say that
    # nothing is live.
    if not have.manifests and not have.lists:
        raise DiffInputError(f"{live}: no Kubernetes object (needs apiVersion, kind and metadata.name; "
                             f"`kubectl get -o yaml` of nothing is a List with items: [])")
    if not want.manifests and not want.problems:
        raise DiffInputError(f"{desired}: no Kubernetes object (needs apiVersion, kind and metadata.name)")
    schemas = None
    if crd_paths:
        crds = LoadResult()
        for path in crd_paths:
            crds.add(load_path(path))
        if crds.problems:
            raise DiffInputError("; ".join(p.describe() for p in crds.problems))
        schemas = CrdSchemas.from_crds([m.obj for m in crds.manifests])
        if not len(schemas):
            raise DiffInputError(f"--crd {', '.join(map(str, crd_paths))}: no CustomResourceDefinition with a schema")
    result = diff_sets(want.manifests, want.problems, [m.obj for m in have.manifests], options, schemas=schemas)
    result.notices = want.notices + have.notices
    return result


# ----------------------------------------------------------------------------- check / run


@dataclass
class CheckOutcome:
    """What one cycle over all sources found, ready to print."""
    runs: list
    results: list
    store_errors: list[str]
    alerts: "DeliveryReport | None" = field(default=None)   # set when webhooks are configured

    @property
    def verdict(self) -> Verdict:
        if self.store_errors:
            return Verdict.ERROR
        return overall_verdict(self.runs)

    def merged(self) -> DiffResult:
        merged = DiffResult()
        for result in self.results:
            merged.objects += result.objects
            merged.problems += result.problems
            merged.notices += result.notices
        return merged

    def errors(self) -> list[str]:
        return [e.message for r in self.runs for e in r.errors] + self.store_errors

    def summary(self) -> dict[str, int]:
        return self.merged().counts()

    def to_json(self) -> dict:
        runs = [{"cluster": r.cluster, "source": r.source, "commit": r.commit, "stale": r.stale,
                 "history_rewritten": r.history_rewritten, "verdict": r.verdict.value,
                 "started_at": r.started_at, "finished_at": r.finished_at,
                 "errors": [e.to_json() for e in r.errors], "notices": r.notices, "compare": r.compare}
                for r in self.runs]
        # Top-level notices are every run's, named by source: a reader of the top level alone must
        # see a stale remote too. (A run's notices include its skipped documents.)
        notices = [f"source {r.source}: {n}" for r in self.runs for n in r.notices]
        extra: dict = {"notices": notices, "runs": runs, "errors": self.errors()}
        if self.alerts is not None:
            extra["alerts"] = self.alerts.to_json()
        return report_json(self.merged(), self.verdict, extra)


class CheckSession:
    """Cycles over every source of a config, writing each run to the audit trail.

    A run that cannot be written (disk full, database locked ...) is kept and written before the
    next one, so the audit trail loses nothing while the daemon keeps going. ``once`` (``driftd
    check``): there is no next cycle, so such a run is said to be not recorded and dropped, and
    errors are not logged, since the printed outcome says each of them once."""

    def __init__(self, config: Config, open_store: bool = True, once: bool = False):
        self.once = once
        self.config = config
        self.cycle = Cycle(config)
        self.pending: list[RunRecord] = []
        self.store: AuditStore | None = None
        self.open_store = open_store
        self.log = logs.get().bind(component="cycle")

    def __enter__(self) -> "CheckSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.cycle.close()
        if self.pending:
            # One last try before exit (the disk may have room again); what still cannot be written
            # is said loudly, with the runs' times, rather than dropped in silence.
            self._write([])
            if self.pending:
                self.log.error("runs_not_written", count=len(self.pending),
                               runs=[f"{r.source}@{r.started_at}" for r in self.pending])
        if self.store is not None:
            self.store.close()

    def _store(self) -> AuditStore:
        if self.store is None:
            self.store = AuditStore.open(self.config.database)
        return self.store

    def _write(self, runs: list[RunRecord]) -> list[str]:
        self.pending += runs
        if not self.open_store:
            self.pending.clear()
            return []
        errors = []
        while self.pending:
            run = self.pending[0]
            try:
                self._store().record_run(run)
            except StoreError as exc:
                if self.once:
                    lost = ", ".join(f"{r.source} on {r.cluster}" for r in self.pending)
                    errors.append(f"audit trail: {exc}; NOT recorded: the run of {lost}")
                    self.pending.clear()
                    break
                errors.append(f"audit trail: {exc} ({len(self.pending)} run(s) kept in memory, retried next cycle)")
                self.log.error("store_failed", error=str(exc), pending=len(self.pending))
                break
            self.pending.pop(0)
        return errors

    def _alerts(self):
        from .alerts import AlertDelivery

        return AlertDelivery(self._store(), self.config.webhooks, self.config.alert_retry)

    def register_webhooks(self) -> None:
        """Before a cycle: a webhook configured for the first time gets this cycle's events."""
        if not self.config.webhooks or not self.open_store:
            return
        try:
            self._alerts().register()
        except StoreError as exc:
            self.log.error("alerts_store_failed", error=str(exc))

    def deliver_alerts(self, stop=lambda: False) -> "DeliveryReport | None":
        """One delivery pass over the outbox (docs/alerts.md). A receiver's failure is logged and
        retried later; it never raises and never touches the runs already written."""
        if not self.config.webhooks or not self.open_store:
            return None
        try:
            return self._alerts().deliver(stop)
        except StoreError as exc:
            self.log.error("alerts_store_failed", error=str(exc))
            return None

    def _explain_missing(self, runs: list[RunRecord]) -> None:
        """A missing object: deleted from the cluster or not synced yet? The audit trail remembers
        what the API server forgets (classify_missing). Without it, Git history's word stands."""
        if not self.open_store:
            return
        try:
            store = self._store()
            for run in runs:
                watched_since = None
                for o in run.objects:
                    if o.status is not Status.MISSING or not o.evidence:
                        continue
                    watched_since = watched_since or store.first_run_at(run.cluster, run.source)
                    rows = store.object_history(run.cluster, o.key.group, o.key.kind, o.key.namespace, o.key.name)
                    o.evidence = classify_missing(o.evidence, rows, watched_since)
        except StoreError:
            pass   # Git history's word stands; writing the run meets the same error and says it once

    def run_cycle(self, stop=lambda: False) -> CheckOutcome:
        pairs = self.cycle.run_once(stop)
        runs = [run for run, _ in pairs]
        for run in runs:
            log = self.log.bind(source=run.source, cluster=run.cluster, commit=(run.commit or "")[:12])
            for err in run.errors if not self.once else ():
                log.error("edge_failed", edge=err.edge, target=err.target, error=err.message)
            log.info("source_checked", verdict=run.verdict.value, stale=run.stale, **run.counts())
        self._explain_missing(runs)
        store_errors = self._write(runs)
        return CheckOutcome(runs, [result for _, result in pairs], store_errors)


def check(config: Config, write: bool = True) -> CheckOutcome:
    """One cycle, then (with webhooks and a written run) one delivery pass: its events and whatever
    earlier runs left pending. A receiver's failure does not change the verdict (docs/alerts.md)."""
    with CheckSession(config, open_store=write, once=True) as session:
        session.register_webhooks()
        outcome = session.run_cycle()
        outcome.alerts = session.deliver_alerts()
        return outcome
