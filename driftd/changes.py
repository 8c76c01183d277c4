"""What changed in a live object between two snapshots of the audit trail, field by field, and who
wrote each change — the live side's own history, whatever Git says (``driftd report changes``).

Drift compares Git with live; this compares live with live. It answers "who changed it, and
when?" for every field, also those Git never declares, and it needs no Git at all: the snapshots
and the managedFields they carry are enough.

* Server bookkeeping (resourceVersion, managedFields, generation, ...) and kubectl's
  last-applied record are left out; ``status`` too unless asked for.
* List items with a unique ``name`` are matched by it (``spec.topology.nodePools[name=np-1]``), so
  a reorder is no change and a change names the one item; other lists are compared by position.
* Who: the field manager that owns the changed field in the newer snapshot (managedFields). A
  removed field has no owner any more: when exactly one manager wrote the object between the two
  snapshots, it is named, marked ``inferred``; otherwise who is unknown.

Pure: snapshots in, ``LiveChange`` values out. deepdiff does the tree comparison.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from deepdiff import DeepDiff

from .compare import LAST_APPLIED
from .managedfields import last_writer
from .model import Ownership
from .paths import Index, Key, Path, Select, render

BOOKKEEPING = ("resourceVersion", "managedFields", "generation", "selfLink", "creationTimestamp")

_CHANGE = {"values_changed": "modified", "type_changes": "modified",
           "dictionary_item_added": "added", "iterable_item_added": "added",
           "dictionary_item_removed": "removed", "iterable_item_removed": "removed"}


@dataclass(frozen=True)
class LiveChange:
    path: Path
    change: str                       # modified | added | removed
    before: object                    # None when added
    after: object                     # None when removed
    writer: Ownership | None = None
    inferred: bool = False            # writer guessed from the only manager active in between

    @property
    def path_text(self) -> str:
        return render(self.path)

    def to_json(self) -> dict:
        out = {"path": self.path_text, "change": self.change, "before": self.before, "after": self.after}
        if self.writer:
            out["manager"], out["operation"], out["time"] = self.writer.manager, self.writer.operation, self.writer.time
            if self.inferred:
                out["inferred"] = True
        return out


def view(obj: dict, with_status: bool = False) -> dict:
    """The part of a live object whose changes are worth telling, with named list items keyed."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    for name in BOOKKEEPING:
        meta.pop(name, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            meta.pop("annotations")
    if not with_status:
        out.pop("status", None)
    return _keyed(out)


def _keyed(value: object) -> object:
    if isinstance(value, dict):
        return {k: _keyed(v) for k, v in value.items()}
    if isinstance(value, list):
        names = [item.get("name") if isinstance(item, dict) else None for item in value]
        if value and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return {Select((("name", n),)): _keyed(item) for n, item in zip(names, value)}
        return [_keyed(item) for item in value]
    return value


def _plain(value: object) -> object:
    """A keyed value back in its JSON shape (a keyed list is a list again)."""
    if isinstance(value, dict):
        if value and all(isinstance(k, Select) for k in value):
            return [_plain(v) for v in value.values()]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _path(parts: list) -> Path:
    return tuple(p if isinstance(p, Select) else Index(p) if isinstance(p, int) else Key(str(p)) for p in parts)


def _writers_between(before: dict, after: dict) -> list[Ownership]:
    """managedFields entries of ``after`` written since the newest write ``before`` knew of."""
    def entries(obj: dict) -> list[dict]:
        return [e for e in (obj.get("metadata") or {}).get("managedFields") or [] if isinstance(e, dict)]
    known = max((e.get("time") or "" for e in entries(before)), default="")
    return [Ownership(str(e.get("manager", "")), str(e.get("operation", "")), e.get("time"), e.get("subresource"))
            for e in entries(after) if (e.get("time") or "") > known]


def live_changes(before: dict, after: dict, with_status: bool = False) -> list[LiveChange]:
    """Every field that differs between two snapshots of one object, sorted by path."""
    diff = DeepDiff(view(before, with_status), view(after, with_status), view="tree")
    active = _writers_between(before, after)
    out = []
    for category, levels in diff.items():
        change = _CHANGE.get(category)
        if change is None:
            continue
        for level in levels:
            path = _path(level.path(output_format="list"))
            old = None if change == "added" else _plain(level.t1)
            new = None if change == "removed" else _plain(level.t2)
            writer, inferred = (last_writer(after, path), False) if change != "removed" else (None, False)
            if writer is None and len({(w.manager, w.operation) for w in active}) == 1:
                writer, inferred = active[0], True
            out.append(LiveChange(path, change, old, new, writer, inferred))
    return sorted(out, key=lambda c: c.path_text)
