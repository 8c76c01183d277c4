"""``compare: server``: what the API server says a sync of Git would change, as field drifts.

The cycle (the edge) server-side applies each Git object as field manager ``driftd`` with
``dryRun=All`` — first without ``force``, whose 409 answer names every field another manager owns
with a different value, then with ``force``, which returns the object as the server would store it
after the sync: defaulted, converted, mutated by every admission webhook. It hands the results here
as plain data (``ServerView``). This module then answers the client mode's question with the
server's values:

* a field drifts where the after-sync object and live differ. The walk, path notation, list-key
  matching, config ignores and profile comparisons are the client comparison's (``compare``), with
  ``desired`` = the value the server would store. Server bookkeeping (resourceVersion, generation,
  managedFields, timestamps, status) is never compared: a dry run changes it by itself;
* the 409 conflicts become evidence (``evidence.conflicts``) on the drift at (or around) their path;
* a dry run by ``driftd`` never removes a field another manager owns, so a field Git dropped but
  still live is not in the after-sync diff (the known gap of this mode). The client comparison's
  live-only drifts cover it: each is kept when a field manager owns the value (an out-of-band edit,
  the GitOps applier's earlier apply) or Git history / last-applied say it came from Git. A
  live-only value nobody owns was put there by the server itself (a webhook, defaulting): the
  after-sync object keeps it too, so it is not drift.

Pure: no network, no clock, no database.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

from .compare import CompareOptions, Comparison, compare_object
from .model import Change, DriftClass, FieldDrift, ObjectKey
from .normalize import Normalizer
from .paths import Index, Key, Path, Select, is_under, render

# What the API server writes by itself on every write, a dry run included.
SERVER_CHURN_METADATA = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid",
                         "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")


@dataclass(frozen=True)
class Conflict:
    """One field another manager owns with a value Git's apply would change (a 409 of a dry run)."""
    manager: str
    path: Path
    subresource: str | None = None
    operation: str | None = None      # "Update" when the server says "using <apiVersion>"; else Apply
    time: str | None = None

    def to_json(self) -> dict:
        out = {"manager": self.manager, "path": render(self.path)}
        for name in ("subresource", "operation", "time"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out


@dataclass
class ServerView:
    """What the dry runs of one cycle returned, by the live object's key.

    ``after_sync``: the object the server would store after applying Git (force dry run).
    ``conflicts``: the 409 of the non-force dry run, parsed. ``skipped``: objects whose dry run failed
    for another reason (already an error of the run): they get no verdict at all."""
    after_sync: dict[ObjectKey, dict] = field(default_factory=dict)
    conflicts: dict[ObjectKey, list[Conflict]] = field(default_factory=dict)
    skipped: set[ObjectKey] = field(default_factory=set)


# -- the 409 answer -----------------------------------------------------------------------------------

# conflict with "kubectl-edit" with subresource "scale" using apps/v1 at 2026-12-03T19:29:34Z
_MANAGER = re.compile(r'conflicts? with "((?:[^"\\]|\\.)*)"(?: with subresource "((?:[^"\\]|\\.)*)")?'
                      r'(?: using (\S+?)(?: at (\S+?))?)?:?\s*$')


def _manager_of(text: str) -> tuple[str, str | None, str | None, str | None] | None:
    m = _MANAGER.search(text.strip())
    if m is None:
        return None
    manager, sub, using, at = m.groups()
    return json.loads(f'"{manager}"'), (json.loads(f'"{sub}"') if sub else None), \
        ("Update" if using else None), at


def parse_conflicts(status: dict, reference: dict | None = None) -> list[Conflict]:
    """The conflicts of a 409 ``Status`` of a server-side apply: from ``details.causes`` (one per
    field: ``{"reason": "FieldManagerConflict", "message": "conflict with \\"kubectl-edit\\" using v1",
    "field": ".data.a"}``), else from the message text. Paths become driftd paths; ``reference`` (the
    live or Git object) tells keys holding dots apart from nested fields."""
    out: list[Conflict] = []
    causes = ((status or {}).get("details") or {}).get("causes") or []
    for cause in causes:
        if not isinstance(cause, dict) or cause.get("reason") not in ("FieldManagerConflict", None):
            continue
        who = _manager_of(str(cause.get("message") or ""))
        if who is None or not cause.get("field"):
            continue
        out.append(Conflict(who[0], parse_field_path(str(cause["field"]), reference), *who[1:]))
    if out:
        return out
    return _conflicts_from_message(str((status or {}).get("message") or ""), reference)


def _conflicts_from_message(message: str, reference: dict | None) -> list[Conflict]:
    """``Apply failed with 1 conflict: conflict with "m" using v1: .data.a`` or, for several,
    ``Apply failed with 2 conflicts: conflicts with "m" using v1:\\n- .data.a\\n- .data.b``."""
    out: list[Conflict] = []
    body = message.split(":", 1)[1] if message.startswith("Apply failed") and ":" in message else message
    who = None
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("- ") and who is not None:
            out.append(Conflict(who[0], parse_field_path(line[2:].strip(), reference), *who[1:]))
            continue
        # "conflict with "m" using v1: .spec.x" (one field, on the same line)
        m = re.match(r'(conflicts? with .*?):\s+(\.\S.*)$', line)
        if m:
            who = _manager_of(m.group(1))
            if who is not None:
                out.append(Conflict(who[0], parse_field_path(m.group(2).strip(), reference), *who[1:]))
            continue
        who = _manager_of(line)
    return out


def parse_field_path(text: str, reference: dict | None = None) -> Path:
    """A structured-merge-diff field path (``.spec.containers[name="app"].image``,
    ``.spec.ports[port=80,protocol="TCP"]``, ``.spec.finalizers[="x"]``, ``.spec.args[0]``) as a
    driftd path. Field names are printed unquoted there, so ``.metadata.labels.app.kubernetes.io/name``
    is ambiguous: the keys of ``reference`` at that level decide (longest key first)."""
    segs: list = []
    cur: object = reference
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ".":
            i += 1
            rest_end = _next_bracket(text, i)
            rest = text[i:rest_end]
            name = None
            if isinstance(cur, dict):
                # the longest key of the reference that the rest starts with, followed by "." or end
                for key in sorted((k for k in cur if isinstance(k, str)), key=len, reverse=True):
                    if rest == key or rest.startswith(key + "."):
                        name = key
                        break
            if name is None:
                name = rest.split(".", 1)[0]
            segs.append(Key(name))
            cur = cur.get(name) if isinstance(cur, dict) else None
            i += len(name)
        elif ch == "[":
            end = _close_bracket(text, i)
            body = text[i + 1:end]
            seg = _bracket_segment(body)
            segs.append(seg)
            cur = _item(cur, seg)
            i = end + 1
        else:  # a path not starting with "." (tolerated)
            text = "." + text[i:]
            i, n = 0, len(text)
    return tuple(segs)


def _next_bracket(text: str, i: int) -> int:
    j = text.find("[", i)
    return len(text) if j < 0 else j


def _close_bracket(text: str, i: int) -> int:
    """The ``]`` closing the bracket at ``i``, skipping JSON strings inside."""
    j, in_str = i + 1, False
    while j < len(text):
        c = text[j]
        if in_str:
            if c == "\\":
                j += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "]":
            return j
        j += 1
    return len(text)


def _json_scalar(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _bracket_segment(body: str):
    if body.isdigit():
        return Index(int(body))
    if body.startswith("="):   # an item of a set (a list of scalars): driftd compares such lists whole
        return Select((("", _str(_json_scalar(body[1:]))),))
    keys = []
    for part in _split_top(body):
        k, _, v = part.partition("=")
        keys.append((k, _str(_json_scalar(v))))
    return Select(tuple(keys))


def _str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _split_top(body: str) -> list[str]:
    """Split ``a=1,b="x,y"`` on the commas outside JSON strings."""
    parts, cur, in_str, esc = [], [], False, False
    for c in body:
        if in_str:
            cur.append(c)
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            cur.append(c)
        elif c == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def _item(cur: object, seg) -> object:
    if not isinstance(cur, list):
        return None
    if isinstance(seg, Index):
        return cur[seg.position] if seg.position < len(cur) else None
    want = dict(seg.keys)
    for item in cur:
        if isinstance(item, dict) and all(_str(item.get(k)) == v for k, v in want.items()):
            return item
    return None


def _same_segment(a, b) -> bool:
    if isinstance(a, Select) and isinstance(b, Select):
        return sorted(a.keys) == sorted(b.keys)    # the server orders list-map keys its own way
    return a == b


def related(conflict: Path, drift: Path) -> bool:
    """The conflict is on the drift's field, inside it, or on a field that holds it (an atomic list)."""
    shorter = min(len(conflict), len(drift))
    return all(_same_segment(a, b) for a, b in zip(conflict[:shorter], drift[:shorter]))


# -- the comparison -----------------------------------------------------------------------------------

def without_server_churn(obj: dict) -> dict:
    """``obj`` without what every write changes by itself (always, whatever the profiles say)."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for name in SERVER_CHURN_METADATA:
            meta.pop(name, None)
    return out


def dry_run_body(git_obj: dict, namespace: str | None) -> dict:
    """The Git object as driftd applies it: in the live object's namespace, without the bookkeeping
    a manifest may carry (an exported object's resourceVersion would turn the apply into a
    compare-and-swap)."""
    body = without_server_churn(git_obj)
    meta = body.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    return body


def compare_after_sync(desired: dict, after_sync: dict, live: dict, norm: Normalizer,
                       options: CompareOptions = CompareOptions(),
                       conflicts: list[Conflict] | tuple = ()) -> tuple[Comparison, list[FieldDrift]]:
    """Field drifts of one object in server mode (see the module docstring): the comparison, and
    which of its drifts are the client comparison's live-only ones (the caller keeps those only
    when ``keep_live_only`` says so, after ``classify``). ``desired`` is the Git object; drifts are
    left ``unknown`` for ``classify``, which reads live's managedFields, last-applied and history."""
    server = compare_object(without_server_churn(after_sync), without_server_churn(live), norm, options,
                            owners_from=live)
    seen = [d.path for d in server.drifts]
    client = compare_object(desired, live, norm, options)
    supplement = [d for d in client.drifts if d.change is Change.ADDED and _not_covered(d.path, seen)]
    server.drifts.extend(supplement)
    for note in client.notes:
        if note not in server.notes:
            server.notes.append(note)
    for drift in server.drifts:
        found = [c.to_json() for c in conflicts if related(c.path, drift.path)]
        if found:
            drift.evidence.conflicts = found
    return server, supplement


def _not_covered(path: Path, seen: list[Path]) -> bool:
    return not any(is_under(path, s) or is_under(s, path) for s in seen)


def keep_live_only(drift: FieldDrift) -> bool:
    """A client live-only drift kept in server mode: someone owns the value, or Git once had it."""
    if drift.change is not Change.ADDED:
        return True
    return drift.evidence.manager is not None or drift.drift_class is not DriftClass.UNKNOWN
