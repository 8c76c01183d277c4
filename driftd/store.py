"""The audit trail: one SQLite file (docs/audit.md) holding every run, every content change of a live
object, every drift episode with its field details, the alert outbox and revert attempts.

What this module owns: the schema (created and upgraded only through the ``sqlite_utils``
migrations below), writing one cycle's ``RunRecord`` in one transaction, and read queries for
``driftd report``.

What it must not do: judge drift (the engine does), reach Git or a cluster, deliver alerts (it only
queues them in ``outbox``), or read a failure as an answer. "Failure is never absence": a kind whose
LIST failed is neither marked deleted nor resolved, and a run without a Git commit (or an ``error``
run without objects) touches no drift event at all.

Every sqlite3 error leaves this module as ``StoreError`` naming the database file, with the cause
chained. Times are stored as UTC ISO 8601 text with second precision and a ``Z``
("2026-12-03T19:29:34Z"), so text order is time order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .model import ObjectKey, ObjectResult, RunRecord, Status, Verdict
from .paths import PathSyntaxError, get as path_get, parse as path_parse

DRIFT_STATUSES = frozenset({Status.DRIFTED, Status.MISSING, Status.UNMANAGED})
RESOLUTIONS = ("cluster-changed", "git-changed", "reverted", "object-deleted", "status-changed", "unexplained")
EVENT_TYPES = ("drift_opened", "drift_changed", "drift_resolved", "cycle_failed")


class StoreError(Exception):
    """The audit database cannot be used; the message names the file and says why."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


# ----------------------------------------------------------------------------- time and hashing

def iso_utc(value: str | datetime) -> str:
    """``value`` (ISO 8601 text or datetime; naive means UTC) as "YYYY-MM-DDTHH:MM:SSZ"."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_hash(obj: dict) -> str:
    """sha256 of the object's canonical JSON (sorted keys) without ``metadata.resourceVersion``,
    the one field that changes without any change of content. managedFields are kept: a new
    writer or write time is part of who changed what."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _spec_view(obj: dict | None) -> dict | None:
    """The object without what controllers rewrite all the time (status, managedFields,
    resourceVersion): used to tell whether someone changed the object itself."""
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_or_null(value: object) -> str | None:
    return None if value is None else _dumps(value)


def _loads(text: str | None) -> object:
    return None if text is None else json.loads(text)


# ----------------------------------------------------------------------------- schema

migrations = Migrations("driftd")


@migrations()
def m001_initial(db: Database) -> None:
    """The first schema. Never edit an applied migration: add m002_... instead."""
    for sql in _SCHEMA_001:
        db.execute(sql)


@migrations()
def m002_drift_event_evidence(db: Database) -> None:
    """Object-level evidence of an episode: an object still live that Git deleted names the commit
    that deleted it (docs/history.md). Field-level evidence stays in ``drift_fields.evidence``."""
    db.execute("ALTER TABLE drift_events ADD COLUMN evidence TEXT NOT NULL DEFAULT '{}'")


@migrations()
def m003_alert_deliveries(db: Database) -> None:
    """Per-webhook delivery of the outbox (docs/alerts.md): one receiver down neither blocks nor
    re-sends to another. ``webhooks`` remembers each configured receiver by name and the last outbox
    row it has considered (a new receiver starts with the events queued after it first appeared, not
    the whole history); ``deliveries`` is one row per outbox event and receiver. The outbox's own
    ``delivered_at``/``attempts``/``next_attempt_at``/``last_error`` columns are left as they are."""
    for sql in _SCHEMA_003:
        db.execute(sql)


_SCHEMA_003 = (
    """CREATE TABLE webhooks (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        first_seen_at TEXT NOT NULL,
        outbox_seen INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        outbox_id INTEGER NOT NULL REFERENCES outbox (id),
        webhook TEXT NOT NULL REFERENCES webhooks (name),
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'given-up')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_attempt_at TEXT,
        last_status INTEGER,
        last_error TEXT,
        delivered_at TEXT)""",
    "CREATE UNIQUE INDEX deliveries_outbox_webhook ON deliveries (outbox_id, webhook)",
    "CREATE INDEX deliveries_due ON deliveries (webhook, state, outbox_id)",
)


@migrations()
def m004_run_compare_modes(db: Database) -> None:
    """Which comparison each kind got in a run: ``{"ConfigMap": "server", ...}`` (``compare: server``
    falls back to ``client`` for a kind whose dry runs are refused)."""
    db.execute("ALTER TABLE runs ADD COLUMN compare TEXT NOT NULL DEFAULT '{}'")


_SCHEMA_001 = (
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        cluster TEXT NOT NULL,
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        git_commit TEXT,
        stale INTEGER NOT NULL DEFAULT 0,
        history_rewritten INTEGER NOT NULL DEFAULT 0,
        verdict TEXT NOT NULL,
        counts TEXT NOT NULL DEFAULT '{}',
        errors TEXT NOT NULL DEFAULT '[]',
        problems TEXT NOT NULL DEFAULT '[]',
        notices TEXT NOT NULL DEFAULT '[]')""",
    "CREATE INDEX runs_cluster_started ON runs (cluster, started_at)",
    "CREATE INDEX runs_started ON runs (started_at)",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        cluster TEXT NOT NULL,
        api_group TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT,
        name TEXT NOT NULL,
        api_version TEXT,
        content_hash TEXT,
        content TEXT,
        deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
        run_id INTEGER NOT NULL REFERENCES runs (id),
        seen_at TEXT NOT NULL)""",
    "CREATE INDEX snapshots_object ON snapshots (cluster, api_group, kind, namespace, name, seen_at)",
    "CREATE INDEX snapshots_seen ON snapshots (seen_at)",
    """CREATE TABLE drift_events (
        id INTEGER PRIMARY KEY,
        cluster TEXT NOT NULL,
        source TEXT NOT NULL,
        api_group TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
        opened_at TEXT NOT NULL,
        opened_run INTEGER NOT NULL REFERENCES runs (id),
        last_seen_at TEXT NOT NULL,
        last_seen_run INTEGER NOT NULL REFERENCES runs (id),
        resolved_at TEXT,
        resolved_run INTEGER REFERENCES runs (id),
        resolution TEXT,
        commit_opened TEXT,
        commit_resolved TEXT,
        summary TEXT NOT NULL DEFAULT '')""",
    # At most one open episode per object and source.
    """CREATE UNIQUE INDEX drift_events_one_open ON drift_events
        (cluster, source, api_group, kind, ifnull(namespace, ''), name) WHERE state = 'open'""",
    "CREATE INDEX drift_events_object ON drift_events (cluster, namespace, kind, name)",
    "CREATE INDEX drift_events_state ON drift_events (state, opened_at)",
    "CREATE INDEX drift_events_opened ON drift_events (opened_at)",
    "CREATE INDEX drift_events_resolved ON drift_events (resolved_at)",
    """CREATE TABLE drift_fields (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES drift_events (id),
        path TEXT NOT NULL,
        change TEXT NOT NULL,
        desired TEXT,
        live TEXT,
        class TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}',
        note TEXT,
        first_seen_run INTEGER NOT NULL REFERENCES runs (id),
        last_seen_run INTEGER NOT NULL REFERENCES runs (id),
        resolved_run INTEGER REFERENCES runs (id),
        state TEXT NOT NULL CHECK (state IN ('open', 'resolved')))""",
    "CREATE UNIQUE INDEX drift_fields_event_path ON drift_fields (event_id, path)",
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        event_type TEXT NOT NULL,
        event_id INTEGER REFERENCES drift_events (id),
        run_id INTEGER NOT NULL REFERENCES runs (id),
        payload TEXT NOT NULL,
        delivered_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT)""",
    "CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at)",
    """CREATE TABLE reverts (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs (id),
        cluster TEXT NOT NULL,
        api_group TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT,
        name TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '[]',
        error TEXT)""",
    "CREATE INDEX reverts_object ON reverts (cluster, api_group, kind, namespace, name)",
)


# ----------------------------------------------------------------------------- errors

_REASONS = {
    "SQLITE_BUSY": "locked by another process (waited {timeout:g}s)",
    "SQLITE_LOCKED": "locked by another connection",
    "SQLITE_FULL": "the disk or the database is full",
    "SQLITE_READONLY": "read-only (opened read-only, or the file or its folder is not writable)",
    "SQLITE_CORRUPT": "corrupt",
    "SQLITE_NOTADB": "not a SQLite database (or corrupt)",
    "SQLITE_CANTOPEN": "cannot open the file (missing folder or no permission)",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_PERM": "no permission",
}


def _reason(exc: sqlite3.Error, timeout: float) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, text in _REASONS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return f"{text.format(timeout=timeout)} ({exc})"
    return str(exc)


# ----------------------------------------------------------------------------- the store

@dataclass(frozen=True)
class _Latest:
    content_hash: str | None
    deleted: bool


@dataclass
class _Cycle:
    """One run being written: the record and what the store derived from it."""
    run: RunRecord
    run_id: int
    at: str                               # run.started_at, normalized
    failed: frozenset                     # (group, kind) whose live state is unknown in this run
    watched: frozenset

    def known(self, key: ObjectKey) -> bool:
        return (key.group, key.kind) not in self.failed

    def listed(self, key: ObjectKey) -> bool:
        """The object's kind was listed successfully in its namespace (cluster-scoped: cluster-wide)."""
        if (key.group, key.kind) not in self.watched or not self.known(key):
            return False
        return key.namespace is None or self.run.namespaces is None or key.namespace in self.run.namespaces


_OBJECT_WHERE = "cluster = ? AND api_group = ? AND kind = ? AND namespace IS ? AND name = ?"


def _object_filter(cluster: str | None = None, kind: str | None = None, namespace: str | None = None,
                   name: str | None = None, **columns: str | None) -> tuple[list[str], list]:
    """WHERE terms and arguments of the report filters: exact columns, ``kind`` in any case."""
    where, args = [], []
    for column, value in (("cluster", cluster), ("namespace", namespace), ("name", name), *columns.items()):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if kind is not None:
        where.append("kind = ? COLLATE NOCASE")
        args.append(kind)
    return where, args


class AuditStore:
    """The audit trail in one SQLite file. ``open`` (read-write, creates and upgrades) or
    ``open_readonly`` (for reports: never creates, never writes)."""

    def __init__(self, db: Database, path: str, busy_timeout: float, readonly: bool):
        self.db = db
        self.path = path
        self.busy_timeout = busy_timeout
        self.readonly = readonly

    # -------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str, busy_timeout: float = 10.0) -> "AuditStore":
        """Open (creating the folder and the file, mode 0600) and bring the schema up to date."""
        path = os.path.abspath(path)
        folder = os.path.dirname(path)
        try:
            if not os.path.isdir(folder):
                os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"audit database {path}: cannot create the folder {folder}: {exc.strerror or exc}",
                             path) from exc
        try:
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            for name in (path, path + "-wal", path + "-shm"):   # tighten an existing file too
                if os.path.exists(name) and os.stat(name).st_mode & 0o777 != 0o600:
                    os.chmod(name, 0o600)
        except OSError as exc:
            raise StoreError(f"audit database {path}: cannot create the file or set its mode to 0600: "
                             f"{exc.strerror or exc}", path) from exc
        store = cls._connect(path, path, busy_timeout, readonly=False)
        try:
            with store._guard("set up the database"):
                mode = store.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"audit database {path}: cannot switch to WAL journal mode (got {mode})", path)
                store.db.execute("PRAGMA foreign_keys=ON")
            with store._guard("read the schema"):
                pending = bool(migrations.pending(store.db))
            if pending:
                # Inside one BEGIN IMMEDIATE: two processes opening a new file at once apply the
                # migrations one after the other instead of racing (each migration runs in a
                # savepoint; a future non-transactional migration, e.g. VACUUM, would have to move
                # out of it). Only when something is pending: opening an up-to-date database must
                # not wait for, or fail on, another process's write lock.
                with store._transaction("create or upgrade the schema"):
                    migrations.apply(store.db)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: str, busy_timeout: float = 10.0) -> "AuditStore":
        """Open an existing database read-only (SQLite ``mode=ro``); never creates anything."""
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            raise StoreError(f"no audit database at {path}", path)
        uri = f"file:{urllib.parse.quote(path)}"
        wal = path + "-wal"
        if not os.access(os.path.dirname(path), os.W_OK) and not (os.path.exists(wal) and os.path.getsize(wal)):
            # A read-only folder (a copy of the audit trail, an immutable backup): SQLite cannot make the
            # WAL index beside it, and no writer can be at work there, so read the file as it is.
            uri += "?immutable=1"
        else:
            uri += "?mode=ro"
        store = cls._connect(path, uri, busy_timeout, readonly=True)
        with store._guard("read the schema"):
            tables = set(store.db.table_names())
            pending = [m.name for m in migrations.pending(store.db)]
        if pending:
            store.close()
            if tables and not tables & {"_sqlite_migrations", "runs"}:
                raise StoreError(f"audit database {path}: not a driftd audit database (it holds the tables "
                                 f"{', '.join(sorted(tables)[:5])})", path)
            raise StoreError(f"audit database {path}: its schema is older than this driftd (pending: "
                             f"{', '.join(pending)}); the driftd service upgrades it when it starts", path)
        return store

    @classmethod
    def _connect(cls, path: str, target: str, busy_timeout: float, readonly: bool) -> "AuditStore":
        try:
            conn = sqlite3.connect(target, uri=readonly, timeout=busy_timeout, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"audit database {path}: cannot open: {_reason(exc, busy_timeout)}", path) from exc
        store = cls(None, path, busy_timeout, readonly)  # type: ignore[arg-type]
        try:
            with store._guard("open"):
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                store.db = Database(conn)
        except StoreError:
            conn.close()
            raise
        return store

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    def __enter__(self) -> "AuditStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"audit database {self.path}: cannot {doing}: {_reason(exc, self.busy_timeout)}",
                             self.path) from exc

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[None]:
        """One write transaction: all of it or, on any exception (a failed COMMIT included),
        nothing. BEGIN IMMEDIATE takes the write lock up front, so a concurrent writer waits
        (busy_timeout) instead of failing halfway through."""
        with self._guard(doing):
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    # -------------------------------------------------------------- writing a run

    def record_run(self, run: RunRecord) -> int:
        """Write everything one cycle learned, in one transaction. Returns the run id."""
        at = iso_utc(run.started_at)
        with self._transaction(f"record the run of {run.source} on {run.cluster}"):
            run_id = self._insert("runs", {
                "cluster": run.cluster, "source": run.source, "started_at": at,
                "finished_at": iso_utc(run.finished_at or run.started_at), "git_commit": run.commit,
                "stale": int(run.stale), "history_rewritten": int(run.history_rewritten),
                "verdict": Verdict(run.verdict).value, "counts": _dumps(run.counts()),
                "errors": _dumps([e.to_json() for e in run.errors]), "problems": _dumps(run.problems),
                "notices": _dumps(run.notices), "compare": _dumps(run.compare)})
            cyc = _Cycle(run, run_id, at, frozenset(tuple(e.kind) for e in run.errors if e.kind),
                         frozenset(tuple(k) for k in run.watched))
            self._record_snapshots(cyc)
            git_failed = run.commit is None or (Verdict(run.verdict) is Verdict.ERROR and not run.objects)
            if not git_failed:
                self._record_events(cyc)
            if git_failed or run.errors or Verdict(run.verdict) is Verdict.ERROR:
                self._queue("cycle_failed", cyc, None, {
                    "verdict": Verdict(run.verdict).value, "errors": [e.to_json() for e in run.errors],
                    "events_touched": not git_failed})
        return run_id

    def _insert(self, table: str, row: dict) -> int:
        return self.db[table].insert(row).last_pk  # type: ignore[union-attr]

    def _update(self, table: str, row_id: int, values: dict) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), row_id])

    # snapshots ------------------------------------------------------------------

    def _latest_snapshots(self, cluster: str) -> dict[ObjectKey, _Latest]:
        rows = self.db.query(
            """SELECT api_group, kind, namespace, name, content_hash, deleted FROM (
                 SELECT *, row_number() OVER (PARTITION BY api_group, kind, namespace, name
                                              ORDER BY seen_at DESC, id DESC) AS rn
                 FROM snapshots WHERE cluster = ?) WHERE rn = 1""", [cluster])
        return {ObjectKey(r["api_group"], r["kind"], r["namespace"], r["name"]): _Latest(r["content_hash"], bool(r["deleted"]))
                for r in rows}

    def _record_snapshots(self, cyc: _Cycle) -> None:
        run = cyc.run
        latest = self._latest_snapshots(run.cluster)
        for key in sorted(run.live):
            obj = run.live[key]
            digest = content_hash(obj)
            prev = latest.get(key)
            if prev is not None and not prev.deleted and prev.content_hash == digest:
                continue                     # unchanged: no new row
            self._insert("snapshots", {**self._key_columns(run.cluster, key), "api_version": obj.get("apiVersion"),
                                       "content_hash": digest, "content": _dumps(obj), "deleted": 0,
                                       "run_id": cyc.run_id, "seen_at": cyc.at})
        for key, prev in sorted(latest.items()):
            if prev.deleted or key in run.live or not cyc.listed(key):
                continue
            self._insert("snapshots", {**self._key_columns(run.cluster, key), "api_version": None,
                                       "content_hash": None, "content": None, "deleted": 1,
                                       "run_id": cyc.run_id, "seen_at": cyc.at})

    @staticmethod
    def _key_columns(cluster: str, key: ObjectKey) -> dict:
        return {"cluster": cluster, "api_group": key.group, "kind": key.kind,
                "namespace": key.namespace, "name": key.name}

    # drift events ----------------------------------------------------------------

    def _record_events(self, cyc: _Cycle) -> None:
        run = cyc.run
        open_events = {self._event_key(r): r for r in self.db.query(
            "SELECT * FROM drift_events WHERE cluster = ? AND source = ? AND state = 'open'",
            [run.cluster, run.source])}
        judged: set[ObjectKey] = set()
        # A Git document (or path) whose object cannot even be told: any live object may be the one
        # it declares, so "unmanaged" is not known this run either.
        git_unreadable = any("object" not in p for p in run.problems)
        for o in run.objects:
            if not cyc.known(o.key):
                continue                     # its LIST failed: whatever the engine says is not known
            judged.add(o.key)
            if o.status is Status.INVALID or (o.status is Status.UNMANAGED and git_unreadable):
                # Its Git document is unusable, so nothing is known of its drift: an open episode
                # stays open and none is opened; the run keeps the problem.
                continue
            event = open_events.get(o.key)
            if o.status in DRIFT_STATUSES:
                if event is not None and event["status"] == o.status.value:
                    if self._same_story(event, o):
                        self._continue_event(event, o, cyc)
                        continue
                    # Every drift of the episode ended and others began in the same run (a sync
                    # fixed a hand edit while a new commit drifted; a field went from git-ahead to
                    # out-of-band): the old episode ends as it did, a new one opens.
                    self._resolve_event(event, self._how_resolved(event, o.key, cyc), cyc)
                elif event is not None:
                    self._resolve_event(event, "status-changed", cyc)
                open_events[o.key] = self._open_event(o, cyc)
            elif event is not None:
                self._resolve_event(event, self._how_resolved(event, o.key, cyc), cyc)
                del open_events[o.key]
        if run.problems:
            return                           # an unreadable Git document may hold the objects not judged
        for key, event in list(open_events.items()):
            # Nobody judged it: gone from Git and from a successful LIST means deleted. Still live
            # (or not listed) means nothing is known, and the episode stays open.
            if key not in judged and key not in run.live and cyc.listed(key):
                self._resolve_event(event, "object-deleted", cyc)

    @staticmethod
    def _event_key(row: dict) -> ObjectKey:
        return ObjectKey(row["api_group"], row["kind"], row["namespace"], row["name"])

    def _open_event(self, o: ObjectResult, cyc: _Cycle) -> dict:
        run = cyc.run
        event_id = self._insert("drift_events", {
            "cluster": run.cluster, "source": run.source, "api_group": o.key.group, "kind": o.key.kind,
            "namespace": o.key.namespace, "name": o.key.name, "status": o.status.value, "state": "open",
            "opened_at": cyc.at, "opened_run": cyc.run_id, "last_seen_at": cyc.at, "last_seen_run": cyc.run_id,
            "commit_opened": run.commit, "summary": summarize(o), "evidence": _dumps(o.evidence or {})})
        for d in _drifts_by_path(o).values():
            self._insert("drift_fields", {"event_id": event_id, **_field_values(d), "first_seen_run": cyc.run_id,
                                          "last_seen_run": cyc.run_id, "state": "open"})
        self._queue("drift_opened", cyc, event_id)
        return self._event_row(event_id)

    def _same_story(self, event: dict, o: ObjectResult) -> bool:
        """Whether ``o`` continues the episode: some drifted field of it is still drifted the same
        way (same path, same class). An episode without fields (missing, unmanaged) continues."""
        before = {(r["path"], r["class"]) for r in self.db.query(
            "SELECT path, class FROM drift_fields WHERE event_id = ? AND state = 'open'", [event["id"]])}
        now = {(d.path_text, d.drift_class.value) for d in o.drifts}
        return not before or not now or bool(before & now)

    def _continue_event(self, event: dict, o: ObjectResult, cyc: _Cycle) -> None:
        self._update("drift_events", event["id"], {"last_seen_at": cyc.at, "last_seen_run": cyc.run_id,
                                                   "summary": summarize(o), "evidence": _dumps(o.evidence or {})})
        stored = {r["path"]: r for r in self.db.query("SELECT * FROM drift_fields WHERE event_id = ?", [event["id"]])}
        now = _drifts_by_path(o)
        changed = False
        for path, d in now.items():
            values = _field_values(d)
            row = stored.get(path)
            if row is None:
                self._insert("drift_fields", {"event_id": event["id"], **values, "first_seen_run": cyc.run_id,
                                              "last_seen_run": cyc.run_id, "state": "open"})
                changed = True
                continue
            material = ("change", "desired", "live", "class")
            changed |= row["state"] != "open" or any(row[k] != values[k] for k in material)
            self._update("drift_fields", row["id"], {**values, "last_seen_run": cyc.run_id, "state": "open",
                                                     "resolved_run": None})
        for path, row in stored.items():
            if path not in now and row["state"] == "open":
                self._update("drift_fields", row["id"], {"state": "resolved", "resolved_run": cyc.run_id})
                changed = True
        if changed:
            self._queue("drift_changed", cyc, event["id"])

    def _resolve_event(self, event: dict, resolution: str, cyc: _Cycle) -> None:
        self._update("drift_events", event["id"], {
            "state": "resolved", "resolved_at": cyc.at, "resolved_run": cyc.run_id, "resolution": resolution,
            "commit_resolved": cyc.run.commit})
        self.db.execute("UPDATE drift_fields SET state = 'resolved', resolved_run = ? WHERE event_id = ? AND state = 'open'",
                        [cyc.run_id, event["id"]])
        self._queue("drift_resolved", cyc, event["id"])

    def _how_resolved(self, event: dict, key: ObjectKey, cyc: _Cycle) -> str:
        """Why an open episode ended with the object back in sync: driftd reverted it, the live
        object moved (back to Git), or Git moved (to the live value)."""
        run = cyc.run
        if key in run.reverted:
            return "reverted"
        before = self._content_as_of(run.cluster, key, event["last_seen_run"])
        paths = [r["path"] for r in self.db.query(
            "SELECT path FROM drift_fields WHERE event_id = ? AND state = 'open'", [event["id"]])]
        if _live_moved(before, run.live.get(key), paths):
            return "cluster-changed"
        last_commit = self.db.execute("SELECT git_commit FROM runs WHERE id = ?", [event["last_seen_run"]]).fetchone()
        if last_commit is None or last_commit[0] != run.commit:
            return "git-changed"
        return "unexplained"                 # neither side moved: driftd's own rules or config changed

    def _content_at(self, cluster: str, key: ObjectKey, at: str) -> dict | None:
        row = self.db.execute(
            f"SELECT content, deleted FROM snapshots WHERE {_OBJECT_WHERE} AND seen_at <= ? "
            "ORDER BY seen_at DESC, id DESC LIMIT 1",
            [cluster, key.group, key.kind, key.namespace, key.name, at]).fetchone()
        return None if row is None or row[1] else json.loads(row[0])

    def _content_as_of(self, cluster: str, key: ObjectKey, run_id: int) -> dict | None:
        """The object as run ``run_id`` saw it. By run, not by time: two cycles in one second (times
        have second precision) must not see each other's snapshot."""
        row = self.db.execute(
            f"SELECT content, deleted FROM snapshots WHERE {_OBJECT_WHERE} AND run_id <= ? "
            "ORDER BY run_id DESC, id DESC LIMIT 1",
            [cluster, key.group, key.kind, key.namespace, key.name, run_id]).fetchone()
        return None if row is None or row[1] else json.loads(row[0])

    # outbox ------------------------------------------------------------------

    def _queue(self, event_type: str, cyc: _Cycle, event_id: int | None, extra: dict | None = None) -> None:
        run = cyc.run
        payload: dict = {"type": event_type,
                         "run": {"id": cyc.run_id, "cluster": run.cluster, "source": run.source,
                                 "commit": run.commit, "started_at": cyc.at}}
        if event_id is not None:
            event = self._event_row(event_id)
            payload["event"] = {k: v for k, v in event.items() if k != "fields"}
            payload["fields"] = event["fields"]
        payload.update(extra or {})
        created = iso_utc(run.finished_at or run.started_at)
        self._insert("outbox", {"created_at": created, "event_type": event_type, "event_id": event_id,
                                "run_id": cyc.run_id, "payload": _dumps(payload)})

    # per-webhook deliveries (m003) ---------------------------------------------

    def fan_out(self, webhooks: list[tuple[str, str, tuple[str, ...]]], now: str) -> int:
        """Give every configured webhook ``(name, url, events)`` a pending delivery of each outbox
        event queued since it last looked, if its ``events`` filter takes that type. A webhook seen
        for the first time starts after the newest outbox row: it gets what is queued from now on,
        not the history. Returns the number of deliveries added."""
        now = iso_utc(now)
        added = 0
        with self._transaction("queue alert deliveries"):
            newest = self.db.execute("SELECT ifnull(max(id), 0) FROM outbox").fetchone()[0]
            for name, url, events in webhooks:
                row = self.db.execute("SELECT outbox_seen FROM webhooks WHERE name = ?", [name]).fetchone()
                if row is None:
                    self.db.execute("INSERT INTO webhooks (name, url, first_seen_at, outbox_seen) VALUES (?, ?, ?, ?)",
                                    [name, url, now, newest])
                    continue
                marks = ",".join("?" * len(events)) or "NULL"
                cursor = self.db.execute(
                    f"""INSERT OR IGNORE INTO deliveries (outbox_id, webhook, state, attempts, next_attempt_at)
                        SELECT id, ?, 'pending', 0, created_at FROM outbox
                        WHERE id > ? AND id <= ? AND event_type IN ({marks}) ORDER BY id""",
                    [name, row[0], newest, *events])
                added += max(cursor.rowcount, 0)
                self.db.execute("UPDATE webhooks SET outbox_seen = ?, url = ? WHERE name = ?", [newest, url, name])
        return added

    def pending_deliveries(self, webhook: str, limit: int = 100) -> list[dict]:
        """The webhook's undelivered events in queue order (due or not), with the outbox row's
        ``event_type``, ``created_at``, ``run_id`` and decoded ``payload``."""
        with self._guard("read alert deliveries"):
            rows = list(self.db.query(
                """SELECT d.*, o.event_type, o.created_at, o.run_id, o.event_id, o.payload FROM deliveries d
                   JOIN outbox o ON o.id = d.outbox_id
                   WHERE d.webhook = ? AND d.state = 'pending' ORDER BY d.outbox_id LIMIT ?""", [webhook, limit]))
        for r in rows:
            r["payload"] = json.loads(r["payload"])
        return rows

    def claim_delivery(self, delivery_id: int, now: str, until: str) -> bool:
        """Take a due delivery for one attempt, counted now, moving its ``next_attempt_at`` to ``until``
        (a lease: a process that dies mid-request leaves it due again then, and the attempt it made
        counted). False when another process took it first or it is not due."""
        with self._transaction("claim an alert delivery"):
            cursor = self.db.execute(
                "UPDATE deliveries SET next_attempt_at = ?, attempts = attempts + 1, last_attempt_at = ? "
                "WHERE id = ? AND state = 'pending' AND next_attempt_at <= ?",
                [iso_utc(until), iso_utc(now), delivery_id, iso_utc(now)])
            return cursor.rowcount == 1

    def delivery_succeeded(self, delivery_id: int, at: str, status: int) -> None:
        with self._transaction("record an alert delivery"):
            self.db.execute(
                "UPDATE deliveries SET state = 'delivered', delivered_at = ?, "
                "last_attempt_at = ?, last_status = ?, last_error = NULL, next_attempt_at = NULL WHERE id = ?",
                [iso_utc(at), iso_utc(at), status, delivery_id])

    def delivery_failed(self, delivery_id: int, at: str, error: str, status: int | None,
                        next_attempt_at: str | None) -> None:
        """Count a failed attempt; ``next_attempt_at`` None means given up (kept, never pending again)."""
        with self._transaction("record a failed alert delivery"):
            self.db.execute(
                "UPDATE deliveries SET state = ?, last_attempt_at = ?, last_status = ?, "
                "last_error = ?, next_attempt_at = ? WHERE id = ?",
                ["pending" if next_attempt_at else "given-up", iso_utc(at), status, error,
                 iso_utc(next_attempt_at) if next_attempt_at else None, delivery_id])

    def deliveries(self, state: str | None = None, webhook: str | None = None, limit: int | None = None) -> list[dict]:
        """Alert deliveries, newest event first, with the outbox row's type, time and payload."""
        where, args = [], []
        for column, value in (("d.state", state), ("d.webhook", webhook)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = ("SELECT d.*, o.event_type, o.created_at, o.run_id, o.event_id, o.payload FROM deliveries d "
               "JOIN outbox o ON o.id = d.outbox_id" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY d.outbox_id DESC, d.webhook" + (" LIMIT ?" if limit else ""))
        with self._guard("read alert deliveries"):
            rows = list(self.db.query(sql, args + ([limit] if limit else [])))
        for r in rows:
            r["payload"] = json.loads(r["payload"])
        return rows



    # reverts -----------------------------------------------------------------

    def record_revert(self, *, cluster: str, key: ObjectKey, started_at: str, outcome: str,
                      run_id: int | None = None, finished_at: str | None = None,
                      fields: list | None = None, error: str | None = None) -> int:
        with self._transaction(f"record a revert of {key}"):
            return self._insert("reverts", {
                "run_id": run_id, **self._key_columns(cluster, key), "started_at": iso_utc(started_at),
                "finished_at": iso_utc(finished_at) if finished_at else None, "outcome": outcome,
                "fields": _dumps(fields or []), "error": error})

    # -------------------------------------------------------------- queries

    def _event_row(self, event_id: int) -> dict:
        row = next(self.db.query("SELECT * FROM drift_events WHERE id = ?", [event_id]))
        row["evidence"] = _loads(row["evidence"])
        row["fields"] = self._fields_of([event_id]).get(event_id, [])
        return row

    def _fields_of(self, event_ids: list[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for i in range(0, len(event_ids), 500):
            chunk = event_ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.query(f"SELECT * FROM drift_fields WHERE event_id IN ({marks}) ORDER BY id", chunk):
                r["desired"], r["live"], r["evidence"] = _loads(r["desired"]), _loads(r["live"]), _loads(r["evidence"])
                out.setdefault(r["event_id"], []).append(r)
        return out

    def events(self, cluster: str | None = None, namespace: str | None = None, kind: str | None = None,
               name: str | None = None, state: str | None = None, since: str | None = None,
               limit: int | None = None, source: str | None = None) -> list[dict]:
        """Drift episodes, newest first, each with ``fields``. ``kind`` matches case-insensitively.
        ``since``: episodes active at or after that time (still open, or resolved at/after it)."""
        where, args = _object_filter(cluster, kind, namespace, name, state=state, source=source)
        if since is not None:
            where.append("(state = 'open' OR resolved_at >= ?)")
            args.append(iso_utc(since))
        sql = "SELECT * FROM drift_events" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY opened_at DESC, id DESC" + (" LIMIT ?" if limit else "")
        with self._guard("read drift events"):
            rows = list(self.db.query(sql, args + ([limit] if limit else [])))
            fields = self._fields_of([r["id"] for r in rows])
        for r in rows:
            r["evidence"] = _loads(r["evidence"])
            r["fields"] = fields.get(r["id"], [])
        return rows

    def runs(self, limit: int | None = 20, cluster: str | None = None) -> list[dict]:
        """Runs, newest first, JSON columns decoded."""
        sql = "SELECT * FROM runs" + (" WHERE cluster = ?" if cluster else "") + " ORDER BY started_at DESC, id DESC"
        args: list = [cluster] if cluster else []
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._guard("read runs"):
            rows = list(self.db.query(sql, args))
        for r in rows:
            for column in ("counts", "errors", "problems", "notices", "compare"):
                r[column] = json.loads(r[column])
            r["stale"], r["history_rewritten"] = bool(r["stale"]), bool(r["history_rewritten"])
        return rows

    def snapshot_at(self, cluster: str, group: str, kind: str, namespace: str | None, name: str,
                    at: str) -> dict | None:
        """The object as driftd last saw it at or before ``at``; None if it did not exist then (or
        driftd had not seen it yet)."""
        with self._guard("read a snapshot"):
            return self._content_at(cluster, ObjectKey(group, kind, namespace, name), iso_utc(at))

    def snapshots_at(self, at: str, cluster: str | None = None, kind: str | None = None,
                     namespace: str | None = None, name: str | None = None, deleted: bool = False) -> list[dict]:
        """Every object that existed at ``at``, as it was then: snapshot rows with ``content`` decoded.
        ``deleted``: instead, the objects seen before ``at`` that were gone by then (``content`` None)."""
        where, args = _object_filter(cluster, kind, namespace, name)
        where, args = ["seen_at <= ?", *where], [iso_utc(at), *args]
        sql = f"""SELECT * FROM (
                    SELECT *, row_number() OVER (PARTITION BY cluster, api_group, kind, namespace, name
                                                 ORDER BY seen_at DESC, id DESC) AS rn
                    FROM snapshots WHERE {' AND '.join(where)})
                  WHERE rn = 1 AND deleted = ? ORDER BY cluster, api_group, kind, namespace, name"""
        args.append(1 if deleted else 0)
        with self._guard("read snapshots"):
            rows = list(self.db.query(sql, args))
        for r in rows:
            del r["rn"]
            r["content"] = _loads(r["content"])
        return rows

    def snapshot_series(self, cluster: str | None = None, kind: str | None = None, namespace: str | None = None,
                        name: str | None = None) -> list[dict]:
        """Every snapshot row of the matching objects, by object and then oldest first (``content``
        decoded; deleted rows have None)."""
        where, args = _object_filter(cluster, kind, namespace, name)
        with self._guard("read snapshots"):
            rows = list(self.db.query(
                f"SELECT * FROM snapshots WHERE {' AND '.join(where) or '1 = 1'} "
                "ORDER BY cluster, api_group, kind, namespace, name, seen_at, id", args))
        for r in rows:
            r["content"] = _loads(r["content"])
            r["deleted"] = bool(r["deleted"])
        return rows

    def first_run_at(self, cluster: str, source: str) -> str | None:
        """When driftd first checked this source against this cluster."""
        with self._guard("read runs"):
            row = self.db.execute("SELECT min(started_at) FROM runs WHERE cluster = ? AND source = ?",
                                  [cluster, source]).fetchone()
        return row[0] if row else None

    def object_history(self, cluster: str, group: str, kind: str, namespace: str | None, name: str) -> list[dict]:
        """Every snapshot row of one object, oldest first (deleted rows have ``content`` None)."""
        with self._guard("read an object's history"):
            rows = list(self.db.query(f"SELECT * FROM snapshots WHERE {_OBJECT_WHERE} ORDER BY seen_at, id",
                                      [cluster, group, kind, namespace, name]))
        for r in rows:
            r["content"] = _loads(r["content"])
            r["deleted"] = bool(r["deleted"])
        return rows


# ----------------------------------------------------------------------------- helpers

def _drifts_by_path(o: ObjectResult) -> dict:
    return {d.path_text: d for d in o.drifts}


def _field_values(d) -> dict:
    return {"path": d.path_text, "change": d.change.value, "desired": _json_or_null(d.desired),
            "live": _json_or_null(d.live), "class": d.drift_class.value, "evidence": _dumps(d.evidence.to_json()),
            "note": d.note}


_ABSENT = object()


def _live_moved(before: dict | None, now: dict | None, paths: list[str]) -> bool:
    """Whether the live object changed between the last drifted sighting and now: by the drifted
    fields' values where they can be found in the raw object, else by the object minus status."""
    if (before is None) != (now is None):
        return True
    if before is None:
        return False
    found = False
    for text in paths:
        try:
            path = path_parse(text)
        except PathSyntaxError:
            continue
        b, n = path_get(before, path, _ABSENT), path_get(now, path, _ABSENT)
        if b is _ABSENT and n is _ABSENT:
            continue
        found = True
        if b != n:
            return True
    return False if found else _spec_view(before) != _spec_view(now)


def _short(value: object, width: int = 40) -> str:
    text = "<absent>" if value is None else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def summarize(o: ObjectResult) -> str:
    """One line for an episode: "spec.topology.workers.count 1 -> 3 (out-of-band, kubectl-edit)"."""
    if o.status is Status.MISSING:
        return "missing: declared in Git, not live"
    if o.status is Status.UNMANAGED:
        removed = (o.evidence or {}).get("changed_by")
        if removed:
            return f"unmanaged: live, removed from Git by {str(removed.get('sha', ''))[:10]} ({removed.get('subject', '')})"
        return "unmanaged: live, not declared in Git"
    if o.status is Status.INVALID:
        detail = (o.invalid_detail or {}).get("message")
        return f"invalid Git document: {detail}" if detail else "invalid Git document"
    if not o.drifts:
        return o.status.value
    d = o.drifts[0]
    why = ", ".join(x for x in (d.drift_class.value, d.evidence.manager) if x)
    more = f" (+{len(o.drifts) - 1} more)" if len(o.drifts) > 1 else ""
    return f"{d.path_text} {_short(d.desired)} -> {_short(d.live)} ({why}){more}"
