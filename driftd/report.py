"""``driftd report``: read the audit trail (docs/audit.md) and answer what drifted, when, who changed
it and how it ended; list runs; show objects as they were at a past time.

Three layers: library functions returning plain data (``drift_events``, ``recent_runs``,
``objects_at``), renderers (table, JSON with ``"version": 1``, CSV, YAML), and the click command
``report_command``. Reports only read: the database is opened read-only and never created.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from datetime import date, datetime, time, timedelta, timezone, tzinfo

import click
import yaml

from .changes import live_changes
from .model import ObjectKey
from .output import OBJECT_LABELS, git_evidence_lines
from .store import AuditStore, StoreError, iso_utc

REPORT_VERSION = 1
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)(?:\s+ago)?$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ----------------------------------------------------------------------------- times

def parse_time(text: str, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """A point in time as "YYYY-MM-DDTHH:MM:SSZ" (UTC). Accepts:

    * ISO 8601: ``2026-12-01T10:00:00Z``, ``2026-12-01T12:00+02:00``; without an offset the time is
      local; a date alone (``2026-12-01``) is local midnight;
    * relative to now: ``30m``, ``24h``, ``7d``, ``2w`` (``s`` too; ``7d ago`` reads the same);
    * ``now``, ``today`` and ``yesterday`` (local midnight);
    * a weekday (``tuesday``, ``tue``, ``last tuesday``): local midnight of the most recent such
      day *before today*, so on a Tuesday ``tuesday`` means a week ago (``today`` is today).

    ``now`` and ``tz`` (the local zone; None: the system's) are for tests.
    """
    raw = text.strip()
    low = raw.lower()
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    today = (now.astimezone(tz) if tz else now.astimezone()).date()

    def midnight(day: date) -> str:
        if tz is not None:
            return iso_utc(datetime.combine(day, time(), tzinfo=tz))
        return iso_utc(datetime.combine(day, time()).astimezone())   # the system zone's rules for that day

    if low == "now":
        return iso_utc(now)
    if low == "today":
        return midnight(today)
    if low == "yesterday":
        return midnight(today - timedelta(days=1))
    m = _RELATIVE.match(low)
    if m:
        try:
            return iso_utc(now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
        except OverflowError:
            raise ValueError(f"{text!r} is too far back: the earliest time is year 1") from None
    day_name = low.removeprefix("last ").strip()
    for number, name in enumerate(WEEKDAYS):
        if day_name in (name, name[:3]):
            back = (today.weekday() - number) % 7 or 7
            return midnight(today - timedelta(days=back))
    try:
        if _DATE_ONLY.match(raw):
            return midnight(date.fromisoformat(raw))
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z), "
                         f"a relative time (30m, 24h, 7d), yesterday, or a weekday (tuesday)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz) if tz else parsed.astimezone()
    return iso_utc(parsed)


# ----------------------------------------------------------------------------- data

def _event_out(row: dict) -> dict:
    return {
        "id": row["id"], "cluster": row["cluster"], "source": row["source"], "group": row["api_group"],
        "kind": row["kind"], "namespace": row["namespace"], "name": row["name"], "status": row["status"],
        "state": row["state"], "opened_at": row["opened_at"], "opened_run": row["opened_run"],
        "commit_opened": row["commit_opened"], "last_seen_at": row["last_seen_at"],
        "last_seen_run": row["last_seen_run"], "resolved_at": row["resolved_at"],
        "resolved_run": row["resolved_run"], "commit_resolved": row["commit_resolved"],
        "resolution": row["resolution"], "summary": row["summary"], "evidence": row.get("evidence") or {},
        "fields": [{k: f[k] for k in ("path", "change", "desired", "live", "class", "evidence", "note", "state",
                                      "first_seen_run", "last_seen_run", "resolved_run")}
                   for f in row["fields"]],
    }


def split_cluster(cluster: str | None) -> tuple[str | None, str | None]:
    """``--cluster`` as the reports print it: ``supervisor`` or ``supervisor/prod`` (cluster/source)."""
    if cluster is None or "/" not in cluster:
        return cluster, None
    name, source = cluster.split("/", 1)
    return name, source or None


def drift_events(store: AuditStore, cluster: str | None = None, namespace: str | None = None,
                 kind: str | None = None, name: str | None = None, status: str = "all",
                 since: str | None = None, limit: int | None = None) -> list[dict]:
    """Drift episodes, newest first. ``cluster``: a cluster, or ``cluster/source`` as the CLUSTER
    column shows it. ``status``: open | resolved | all. ``since``: any form ``parse_time`` accepts;
    episodes still open or resolved at/after it."""
    if status not in ("open", "resolved", "all"):
        raise ValueError(f"status must be open, resolved or all, not {status!r}")
    cluster, source = split_cluster(cluster)
    rows = store.events(cluster=cluster, source=source, namespace=namespace, kind=kind, name=name,
                        state=None if status == "all" else status,
                        since=parse_time(since) if since else None, limit=limit)
    return [_event_out(r) for r in rows]


def recent_runs(store: AuditStore, cluster: str | None = None, limit: int | None = 20) -> list[dict]:
    """Runs, newest first. ``cluster``: a cluster, or ``cluster/source``."""
    cluster, source = split_cluster(cluster)
    rows = store.runs(limit=None if source else limit, cluster=cluster)
    if source:   # the store filters by cluster only
        rows = [r for r in rows if r["source"] == source][:limit]
    return [{"id": r["id"], "cluster": r["cluster"], "source": r["source"], "started_at": r["started_at"],
             "finished_at": r["finished_at"], "commit": r["git_commit"], "stale": r["stale"],
             "history_rewritten": r["history_rewritten"], "verdict": r["verdict"], "counts": r["counts"],
             "errors": r["errors"], "problems": r["problems"], "notices": r["notices"], "compare": r["compare"]}
            for r in rows]


# How many of the newest runs are searched for each source's latest one. A source whose latest run
# is older than that has not run for hundreds of cycles of the others: it has been removed from the
# config, and its last failure is not news. (An exact "latest run per source" belongs in the store.)
LATEST_RUNS_WINDOW = 500


def failed_latest_runs(store: AuditStore, cluster: str | None = None) -> list[dict]:
    """The latest run of each cluster/source (``cluster``: a cluster or ``cluster/source``) that
    ended in ``error``: the drift events of that source may be out of date, since a failed run
    neither opens nor resolves episodes of what it could not see (docs/audit.md)."""
    cluster, source = split_cluster(cluster)
    seen: set[tuple[str, str]] = set()
    failed = []
    for r in store.runs(limit=LATEST_RUNS_WINDOW, cluster=cluster):
        if (r["cluster"], r["source"]) in seen or (source and r["source"] != source):
            continue
        seen.add((r["cluster"], r["source"]))
        if r["verdict"] != "error":
            continue
        error = r["errors"][0]["message"] if r["errors"] else "no Git commit could be read"
        failed.append({"cluster": r["cluster"], "source": r["source"], "run": r["id"],
                       "started_at": r["started_at"], "error": error,
                       "message": f"the latest run of {r['cluster']}/{r['source']} (run {r['id']}, "
                                  f"{r['started_at']}) ended in error: {error}; events may be out of date"})
    return failed


def objects_at(store: AuditStore, at: str, cluster: str | None = None, kind: str | None = None,
               namespace: str | None = None, name: str | None = None) -> list[dict]:
    """Every object that existed at ``at`` (any ``parse_time`` form), as driftd last saw it by then."""
    return [{"cluster": r["cluster"], "group": r["api_group"], "kind": r["kind"], "namespace": r["namespace"],
             "name": r["name"], "api_version": r["api_version"], "seen_at": r["seen_at"], "run_id": r["run_id"],
             "content": r["content"]}
            for r in store.snapshots_at(parse_time(at), cluster=cluster, kind=kind, namespace=namespace, name=name)]


def object_changes(store: AuditStore, cluster: str | None = None, kind: str | None = None,
                   namespace: str | None = None, name: str | None = None, since: str | None = None,
                   with_status: bool = False, limit: int | None = None) -> list[dict]:
    """Each content change of the matching live objects, newest first, with the fields that changed
    and who wrote them (``driftd.changes``). ``what``: first-seen | changed | recreated | deleted |
    created-again. A change whose fields are all left out (status only, bookkeeping) is not listed."""
    since_at = parse_time(since) if since else None
    out: list[dict] = []
    previous: dict | None = None
    for row in store.snapshot_series(cluster, kind, namespace, name):
        same_object = previous is not None and all(
            previous[c] == row[c] for c in ("cluster", "api_group", "kind", "namespace", "name"))
        before = previous["content"] if same_object else None
        previous = row
        if not same_object:
            what, changes = ("deleted" if row["deleted"] else "first-seen"), []
        elif row["deleted"]:
            what, changes = "deleted", []
        elif before is None:
            what, changes = "created-again", []
        elif (before.get("metadata") or {}).get("uid") != (row["content"].get("metadata") or {}).get("uid"):
            what, changes = "recreated", []
        else:
            what, changes = "changed", live_changes(before, row["content"], with_status)
            if not changes:
                continue
        if since_at and row["seen_at"] < since_at:
            continue
        out.append({"cluster": row["cluster"], "group": row["api_group"], "kind": row["kind"],
                    "namespace": row["namespace"], "name": row["name"], "seen_at": row["seen_at"],
                    "run_id": row["run_id"], "what": what, "changes": [c.to_json() for c in changes]})
    out.sort(key=lambda e: (e["seen_at"], e["run_id"]), reverse=True)
    return out[:limit] if limit else out


def alert_deliveries(store: AuditStore, state: str = "all", webhook: str | None = None,
                     limit: int | None = None) -> list[dict]:
    """Alert deliveries per webhook, newest event first. ``state``: pending | delivered | given-up | all."""
    from .alerts import build_payload

    if state not in ("pending", "delivered", "given-up", "all"):
        raise ValueError(f"state must be pending, delivered, given-up or all, not {state!r}")
    rows = store.deliveries(state=None if state == "all" else state, webhook=webhook, limit=limit)
    return [{"alert": r["outbox_id"], "type": r["event_type"], "created_at": r["created_at"], "run_id": r["run_id"],
             "webhook": r["webhook"], "state": r["state"], "attempts": r["attempts"],
             "next_attempt_at": r["next_attempt_at"], "last_attempt_at": r["last_attempt_at"],
             "last_status": r["last_status"], "last_error": r["last_error"], "delivered_at": r["delivered_at"],
             "summary": build_payload(r)["summary"]} for r in rows]


# ----------------------------------------------------------------------------- renderers

def to_json(report: str, items_key: str, items: list[dict], **extra) -> str:
    """The JSON document: ``{"version": 1, "report": ..., <extra>, <items_key>: [...]}``."""
    doc = {"version": REPORT_VERSION, "report": report, **extra, items_key: items}
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def _value(v: object) -> str:
    return "<absent>" if v is None else json.dumps(v, ensure_ascii=False, default=str)


def _object(e: dict) -> str:
    return str(ObjectKey(e["group"], e["kind"], e["namespace"], e["name"]))


def _who(field: dict) -> str:
    ev = field.get("evidence") or {}
    if ev.get("manager"):
        return " ".join(str(x) for x in (ev["manager"], ev.get("operation"), ev.get("time")) if x)
    if ev.get("commit"):
        c = ev["commit"]
        return f"commit {str(c.get('sha', ''))[:10]} {c.get('subject', '')}".strip()
    return ""


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def events_table(events: list[dict]) -> str:
    """One aligned line per episode, then one indented line per field: path: desired -> live,
    class, who (manager operation time, or the Git commit)."""
    if not events:
        return "no drift events match\n"
    header = ["STATE", "OBJECT", "CLUSTER", "STATUS", "OPENED", "LAST SEEN", "RESOLVED", "RESOLUTION"]
    rows = [[e["state"], _object(e), f"{e['cluster']}/{e['source']}", e["status"], e["opened_at"],
             e["last_seen_at"], e["resolved_at"] or "-", e["resolution"] or "-"] for e in events]
    head, *lines = _columns(header, rows)
    out = [head]
    for e, line in zip(events, lines):
        out.append(line)
        if not e["fields"]:
            out.append(f"    {e['summary']}")
        for f in e["fields"]:
            back = "  (back in sync)" if f["state"] == "resolved" and e["state"] == "open" else ""
            who = _who(f)
            out.append(f"    {f['path']}: {_value(f['desired'])} -> {_value(f['live'])}  {f['class']}"
                       + (f"  {who}" if who else "") + back)
            ev = f.get("evidence") or {}
            # The who column names the commit already when no field manager is known.
            out += git_evidence_lines(ev, "      ", with_commit=bool(ev.get("manager")))
        if not e["fields"] and e.get("evidence"):
            out += git_evidence_lines(e["evidence"], "      ", labels=OBJECT_LABELS)
    n_open = sum(e["state"] == "open" for e in events)
    out.append(f"{len(events)} event(s): {n_open} open, {len(events) - n_open} resolved")
    return "\n".join(out) + "\n"


CSV_EVENT_COLUMNS = ("event_id", "cluster", "source", "group", "kind", "namespace", "name", "status", "state",
                     "opened_at", "last_seen_at", "resolved_at", "resolution", "path", "change", "desired", "live",
                     "class", "manager", "operation", "time", "reason", "field_state", "commit", "changed_by",
                     "blame")


def events_csv(events: list[dict]) -> str:
    """One row per field drift (an episode without fields, e.g. missing, gives one row with empty
    field columns); desired and live as JSON text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_EVENT_COLUMNS)
    for e in events:
        base = [e["id"], e["cluster"], e["source"], e["group"], e["kind"], e["namespace"] or "", e["name"],
                e["status"], e["state"], e["opened_at"], e["last_seen_at"], e["resolved_at"] or "",
                e["resolution"] or ""]
        for f in e["fields"] or [None]:
            if f is None:
                ev = e.get("evidence") or {}
                writer.writerow(base + [""] * 5 + ["", "", "", ev.get("reason", ""), ""] + _shas(ev))
                continue
            ev = f["evidence"] or {}
            writer.writerow(base + [f["path"], f["change"], _value(f["desired"]), _value(f["live"]), f["class"],
                                    ev.get("manager", ""), ev.get("operation", ""), ev.get("time", ""),
                                    ev.get("reason", ""), f["state"]] + _shas(ev))
    return buf.getvalue()


def _shas(ev: dict) -> list[str]:
    return [str((ev.get(k) or {}).get("sha", "")) for k in ("commit", "changed_by", "blame")]


def runs_table(runs: list[dict]) -> str:
    if not runs:
        return "no runs recorded\n"
    header = ["RUN", "STARTED", "CLUSTER", "SOURCE", "COMMIT", "VERDICT", "COUNTS", "NOTES"]
    rows = []
    for r in runs:
        notes = [f"{len(r['errors'])} error(s): {r['errors'][0]['message']}"] if r["errors"] else []
        if r.get("problems"):
            first = r["problems"][0]
            # A problem without lines is about a whole path (e.g. a `paths:` entry missing at the commit).
            where = f"{first['file']}:{first['lines'][0]}" if first.get("lines") else first["file"]
            notes.append(f"{len(r['problems'])} unusable Git document(s): {where} {first['message']}")
        notes += ["stale Git"] * r["stale"] + ["history rewritten"] * r["history_rewritten"]
        rows.append([str(r["id"]), r["started_at"], r["cluster"], r["source"], (r["commit"] or "-")[:12],
                     r["verdict"], ", ".join(f"{n} {s}" for s, n in sorted(r["counts"].items())) or "-",
                     "; ".join(notes)])
    return "\n".join(_columns(header, rows)) + "\n"


CSV_RUN_COLUMNS = ("id", "cluster", "source", "started_at", "finished_at", "commit", "stale", "history_rewritten",
                   "verdict", "counts", "errors", "problems", "notices")


def runs_csv(runs: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_RUN_COLUMNS)
    for r in runs:
        writer.writerow([r["id"], r["cluster"], r["source"], r["started_at"], r["finished_at"], r["commit"] or "",
                         int(r["stale"]), int(r["history_rewritten"]), r["verdict"],
                         json.dumps(r["counts"], sort_keys=True), json.dumps(r["errors"]),
                         json.dumps(r.get("problems") or []), json.dumps(r.get("notices") or [])])
    return buf.getvalue()


def changes_table(entries: list[dict]) -> str:
    if not entries:
        return "no changes recorded\n"
    lines = []
    for e in entries:
        lines.append(f"{e['seen_at']}  run {e['run_id']}  {_object(e)}  {e['what']}")
        for c in e["changes"]:
            who = " ".join(str(c[k]) for k in ("manager", "operation", "time") if c.get(k))
            if who and c.get("inferred"):
                who += " (the only writer since the last snapshot)"
            lines.append(f"    {c['path']}: {_value(c['before'])} -> {_value(c['after'])}"
                         + (f"  {who}" if who else ""))
    return "\n".join(lines) + "\n"


def alerts_table(deliveries: list[dict]) -> str:
    if not deliveries:
        return "no alert deliveries\n"
    lines = []
    for d in deliveries:
        when = {"delivered": f"delivered {d['delivered_at']}", "given-up": f"given up {d['last_attempt_at']}",
                "pending": f"next attempt {d['next_attempt_at']}"}[d["state"]]
        lines.append(f"{d['created_at']}  alert {d['alert']}  {d['type']}  -> {d['webhook']}  {d['state']}  "
                     f"{d['attempts']} attempt(s), {when}")
        lines.append(f"    {d['summary']}")
        if d["last_error"]:
            lines.append(f"    last error: {d['last_error']}")
    return "\n".join(lines) + "\n"


def objects_yaml(objects: list[dict]) -> str:
    """A multi-document YAML stream, each object preceded by a comment saying since when it had that
    content. A snapshot row is written only when the content changes, so ``seen_at`` is the run
    that first saw this content, not the last run that saw the object."""
    docs = []
    for o in objects:
        where = f"{_object(o)} in cluster {o['cluster']}, content as of {o['seen_at']} (run {o['run_id']})"
        docs.append(f"# {where}\n" + yaml.safe_dump(o["content"], sort_keys=False, allow_unicode=True,
                                                      default_flow_style=False))
    return "---\n".join(docs)


# ----------------------------------------------------------------------------- the command

class _EventsByDefault(click.Group):
    """``driftd report [OPTIONS]`` means ``driftd report events [OPTIONS]``, and options may stand
    before the subcommand (``driftd report --database F runs``), as admins type them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and (args[0] in self.commands or args[0] == "--help"):
            return super().parse_args(ctx, args)
        for i, arg in enumerate(args):
            if arg in self.commands and not self._takes_value(args[i - 1] if i else ""):
                return super().parse_args(ctx, [arg, *args[:i], *args[i + 1:]])
        return super().parse_args(ctx, ["events", *args])

    def _takes_value(self, arg: str) -> bool:
        """Whether ``arg`` is an option of some report command that consumes the next word."""
        if not arg.startswith("-") or "=" in arg:
            return False
        return any(arg in p.opts and not getattr(p, "is_flag", False)
                   for cmd in self.commands.values() for p in cmd.params)


def _database_options(f):
    f = click.option("--database", "database", type=click.Path(dir_okay=False), default=None,
                     help="The audit database (default: the config's `database`, else /var/lib/driftd/driftd.db).")(f)
    f = click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                     envvar="DRIFTD_CONFIG", show_envvar=True,
                     help="Take the database path from this config file (only `database` is needed).")(f)
    return f


def _fail(message: str) -> None:
    click.echo(f"driftd: error: {message}", err=True)
    sys.exit(2)


def _open_store(config_path: str | None, database: str | None) -> AuditStore:
    if database is None:
        from .config import Config, ConfigError, database_of
        try:
            database = database_of(config_path) if config_path else Config(path=None).database
        except ConfigError as exc:
            _fail(str(exc))
    if not os.path.exists(database):
        _fail(f"no audit database at {os.path.abspath(database)}: driftd creates it on its first cycle "
              f"(give --database PATH or --config FILE)")
    try:
        return AuditStore.open_readonly(database)
    except StoreError as exc:
        _fail(str(exc))
    raise AssertionError("unreachable")


def _read(config_path: str | None, database: str | None, query):
    """``query(store)`` over the audit database, read-only; any failure exits 2 with its message."""
    with _open_store(config_path, database) as store:
        try:
            return query(store)
        except StoreError as exc:
            _fail(str(exc))


def _time_option(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.group("report", cls=_EventsByDefault)
def report_command() -> None:
    """Read the audit trail: drift events (default), runs, live changes, or objects as they were at a time.

    \b
    Without a subcommand, `driftd report [OPTIONS]` is `driftd report events [OPTIONS]`:
      --status open|resolved|all   --since TIME   --cluster CLUSTER[/SOURCE]
      --namespace/-n N   --kind K   --name X   --limit N   -o table|json|csv
      --config/-c FILE ($DRIFTD_CONFIG)   --database FILE
    `driftd report events --help` explains them; `driftd report COMMAND --help` the others.

    Times: ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z; no offset = local time), relative (30m, 24h,
    7d), yesterday, or a weekday (tuesday = local midnight of the most recent Tuesday before today).
    Exit 0, or 2 when the database cannot be read."""


@report_command.command("events")
@_database_options
@click.option("--cluster", default=None, help="A cluster, or CLUSTER/SOURCE as the tables show it.")
@click.option("--namespace", "-n", default=None)
@click.option("--kind", default=None, help="Kind, any case (TanzuKubernetesCluster).")
@click.option("--name", default=None)
@click.option("--status", type=click.Choice(["open", "resolved", "all"]), default="all", show_default=True)
@click.option("--since", default=None, help="Episodes still open or resolved at/after this time (7d, 24h, ...).")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def events_command(config_path, database, cluster, namespace, kind, name, status, since, limit, output) -> None:
    """Drift episodes, newest first, with their field details."""
    since_at = _time_option(since, "--since")
    events, warnings = _read(config_path, database,
                             lambda store: (drift_events(store, cluster, namespace, kind, name, status, since_at,
                                                         limit),
                                            failed_latest_runs(store, cluster)))
    # A failed latest run is worth a warning, not a failure: the report itself is right about what
    # the audit trail holds (exit 0), it may just not be the cluster's state now.
    for w in warnings:
        click.echo(f"driftd: warning: {w['message']}", err=True)
    if output == "json":
        filters = {"cluster": cluster, "namespace": namespace, "kind": kind, "name": name, "status": status,
                   "since": since_at, "limit": limit}
        click.echo(to_json("events", "events", events, filters=filters, warnings=warnings), nl=False)
    elif output == "csv":
        click.echo(events_csv(events), nl=False)
    else:
        click.echo(events_table(events), nl=False)


@report_command.command("runs")
@_database_options
@click.option("--cluster", default=None, help="A cluster, or CLUSTER/SOURCE as the tables show it.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def runs_command(config_path, database, cluster, limit, output) -> None:
    """The latest runs (cycles of one source), newest first."""
    runs = _read(config_path, database, lambda store: recent_runs(store, cluster, limit))
    if output == "json":
        click.echo(to_json("runs", "runs", runs), nl=False)
    elif output == "csv":
        click.echo(runs_csv(runs), nl=False)
    else:
        click.echo(runs_table(runs), nl=False)


@report_command.command("snapshot")
@_database_options
@click.option("--at", "at", required=True, help="The time to look at (2026-12-01T10:00:00Z, 3d, tuesday, ...).")
@click.option("--cluster", default=None, help="A cluster (snapshots are kept per cluster).")
@click.option("--kind", default=None, help="Kind, any case.")
@click.option("--namespace", "-n", default=None)
@click.option("--name", default=None)
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def snapshot_command(config_path, database, at, cluster, kind, namespace, name, output) -> None:
    """Objects as they were at a time (as driftd last saw them by then)."""
    when = _time_option(at, "--at")
    objects = _read(config_path, database, lambda store: objects_at(store, when, cluster, kind, namespace, name))
    if output == "json":
        click.echo(to_json("snapshot", "objects", objects, at=when), nl=False)
        return
    if not objects:
        gone = _read(config_path, database, lambda store: store.snapshots_at(when, cluster, kind, namespace, name,
                                                                          deleted=True))
        for g in gone:   # known, but deleted by then: say so rather than "unknown"
            where = f"{g['namespace']}/" if g["namespace"] else ""
            click.echo(f"{g['kind']} {where}{g['name']} on {g['cluster']}: deleted by then (gone since "
                       f"{g['seen_at']}, run {g['run_id']})", err=True)
        click.echo(f"no objects {'live ' if gone else 'known '}at {when}", err=True)
        return
    click.echo(objects_yaml(objects), nl=False)


@report_command.command("changes")
@_database_options
@click.option("--cluster", default=None, help="A cluster (snapshots are kept per cluster).")
@click.option("--kind", default=None, help="Kind, any case.")
@click.option("--namespace", "-n", default=None)
@click.option("--name", default=None)
@click.option("--since", default=None, help="Only changes seen at/after this time (7d, tuesday, ...).")
@click.option("--with-status", is_flag=True, help="Also list changes of status.")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def changes_command(config_path, database, cluster, kind, namespace, name, since, with_status, limit, output) -> None:
    """How live objects changed between snapshots, field by field, and who wrote each change."""
    since_at = _time_option(since, "--since")
    entries = _read(config_path, database, lambda store: object_changes(store, cluster, kind, namespace, name,
                                                                        since_at, with_status, limit))
    if output == "json":
        click.echo(to_json("changes", "changes", entries, since=since_at), nl=False)
    else:
        click.echo(changes_table(entries), nl=False)


@report_command.command("alerts")
@_database_options
@click.option("--state", type=click.Choice(["pending", "delivered", "given-up", "all"]), default="all",
              show_default=True)
@click.option("--webhook", default=None, help="Only this webhook (alerts.webhooks[].name).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def alerts_command(config_path, database, state, webhook, limit, output) -> None:
    """Alert deliveries per webhook: pending (with the next attempt and last error), delivered, given up."""
    deliveries = _read(config_path, database, lambda store: alert_deliveries(store, state, webhook, limit))
    if output == "json":
        click.echo(to_json("alerts", "deliveries", deliveries, filters={"state": state, "webhook": webhook,
                                                                         "limit": limit}), nl=False)
    else:
        click.echo(alerts_table(deliveries), nl=False)
