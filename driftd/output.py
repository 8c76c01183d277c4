"""Render results of ``driftd check`` / ``driftd diff``: the versioned JSON contract (docs/output.md)
and a table for people. Pure: data in, text out.
"""

from __future__ import annotations

import json

from .engine import DiffResult
from .model import ObjectResult, Status, Verdict

OUTPUT_VERSION = 1


def report_json(result: DiffResult, verdict: Verdict | None = None, extra: dict | None = None) -> dict:
    verdict = verdict or result.verdict
    out = {
        "version": OUTPUT_VERSION,
        "verdict": verdict.value,
        "summary": result.counts(),
        "objects": [o.to_json() for o in result.objects],
        "problems": [{"file": p.file, "lines": list(p.lines), "message": p.message} for p in result.problems],
        "notices": list(result.notices),
    }
    if extra:
        out.update(extra)
    return out


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _value(v: object) -> str:
    if v is None:
        return "<absent>"
    return json.dumps(v, ensure_ascii=False, default=str)


def commit_text(commit: dict) -> str:
    """A Git commit of the evidence on one line: "1a2b3c4d5e 2026-11-01 Ada Admin: raise workers"."""
    head = " ".join(str(x) for x in (str(commit.get("sha", ""))[:10], str(commit.get("date", ""))[:10],
                                     commit.get("author")) if x)
    return f"{head}: {commit['subject']}" if commit.get("subject") else head


FIELD_LABELS = (("commit", "live value from"), ("changed_by", "changed in Git by"), ("blame", "desired set by"))
OBJECT_LABELS = (("commit", "last in Git at"), ("changed_by", "removed from Git by"), ("blame", "declared in Git by"))


def git_evidence_lines(ev: dict, indent: str, with_commit: bool = True,
                       labels: tuple[tuple[str, str], ...] = FIELD_LABELS) -> list[str]:
    """The Git side of the evidence (docs/history.md), one commit a line. For a field: the commit
    whose value the cluster has, the commit that changed it since, the commit that set the desired
    value (blame); for an object (``OBJECT_LABELS``): its last version and the commit that removed it,
    or the commit since which Git declares a missing one."""
    width = max(len(label) for _, label in labels) + 1
    return [f"{indent}{label + ':':{width}} {commit_text(ev[key])}" for key, label in labels
            if ev.get(key) and (with_commit or key != "commit")]


def _object_line(o: ObjectResult) -> str:
    where = f"  ({o.source['file']}:{o.source['line']})" if o.source else ""
    return f"{o.status.value.upper():10} {o.key}{where}"


def report_table(result: DiffResult, verdict: Verdict | None = None, show_in_sync: bool = False,
                 errors: list[str] | None = None) -> str:
    verdict = verdict or result.verdict
    lines = []
    for o in result.objects:
        if o.status in (Status.IN_SYNC, Status.GENERATED) and not show_in_sync:
            continue
        lines.append(_object_line(o))
        for d in o.drifts:
            ev = d.evidence
            lines.append(f"    {d.path_text}: {d.change.value}  desired {_value(d.desired)}  live {_value(d.live)}")
            who = f"{ev.manager} {ev.operation} {ev.time or ''}".strip() if ev.manager else ""
            lines.append(f"      class {d.drift_class.value}" + (f" · {who}" if who else "")
                         + (f" · {ev.reason}" if ev.reason else ""))
            lines += git_evidence_lines(ev.to_json(), "      ")
            if ev.conflicts:   # compare: server: the dry run's 409
                lines.append("      apply conflicts with: " + ", ".join(
                    f"{c['manager']} ({c.get('operation') or 'Apply'}) at {c['path']}" for c in ev.conflicts))
            if d.note:
                lines.append(f"      note: {d.note}")
        if o.evidence:
            lines.append(f"    class {o.evidence.get('class', 'unknown')}"
                         + (f" · {o.evidence['reason']}" if o.evidence.get("reason") else ""))
            lines += git_evidence_lines(o.evidence, "      ", labels=OBJECT_LABELS)
        if o.invalid_detail:
            lines.append(f"    {o.invalid_detail['message']}")
        for note in o.notes:
            lines.append(f"    note: {note}")
    for p in result.problems:
        lines.append(f"INVALID    {p.describe()}")
    for e in errors or []:
        lines.append(f"ERROR      {e}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items())) or "no objects"
    lines.append(f"verdict: {verdict.value} ({counts})")
    return "\n".join(lines) + "\n"
