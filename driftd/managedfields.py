"""Who wrote a live field: read ``metadata.managedFields`` (FieldsV1) for a driftd path.

FieldsV1 is a tree keyed ``f:<field>``, ``k:<json of list-map keys>``, ``v:<json of a set value>``
and ``.`` (the field itself). A manager owns a path when its tree reaches the path, or reaches an
ancestor that has no children (an atomic list or map, such as TKC ``nodePools`` after ``kubectl
edit``: the whole list moved to that manager). Ownership is one signal among several: a value a
mutating webhook adds is owned by nobody, while a client that re-sends such a value becomes its
owner (see docs/normalization.md). Pure functions.
"""

from __future__ import annotations

import json
from typing import Callable

from .model import Ownership
from .paths import Index, Key, Path, Select, get


def _child(node: dict, seg, live_item: object) -> dict | None:
    if isinstance(seg, Key):
        return node.get("f:" + seg.name)
    if isinstance(seg, Select):
        want = {k: str(v) for k, v in seg.keys}
        for name, child in node.items():
            if name.startswith("k:"):
                try:
                    keys = json.loads(name[2:])
                except ValueError:
                    continue
                if isinstance(keys, dict) and {k: str(v) for k, v in keys.items()} == want:
                    return child
        return None
    if isinstance(seg, Index) and live_item is not None:
        # An item by position: a set value (``v:``), or a map-list item whose keys (``k:``) it holds.
        for name, child in node.items():
            if name[:2] not in ("v:", "k:"):
                continue
            try:
                value = json.loads(name[2:])
            except ValueError:
                continue
            if name.startswith("v:") and value == live_item:
                return child
            if (name.startswith("k:") and isinstance(value, dict) and isinstance(live_item, dict) and value
                    and all(str(live_item.get(k)) == str(v) for k, v in value.items())):
                return child
    return None


# How a manager holds a path (``owners(..., modes=...)``):
ANCESTOR = "ancestor"  # through an atomic list or map above it, owned as one value (TKC nodePools)
WHOLE = "whole"        # the path itself: a leaf, or a map/list item it created (a ``.`` entry)
INSIDE = "inside"      # only some fields inside the path
ANY = (ANCESTOR, WHOLE, INSIDE)


# ``path`` of the object as an entry written at another API version names it (None: not there).
AtVersion = Callable[[Path, str], "Path | None"]


def _same_path(path: Path, version: str) -> Path:
    return path


def _entry_path(obj: dict, entry: dict, path: Path, at_version: AtVersion) -> Path | None:
    """An entry's FieldsV1 is written in the entry's apiVersion, not the object's: translate."""
    version = str(entry.get("apiVersion") or "")
    if not version or version == obj.get("apiVersion"):
        return path
    return at_version(path, version.split("/")[-1])


def _hold(tree: dict, path: Path, live: object) -> tuple[str | None, int]:
    """(how this FieldsV1 tree holds ``path``, the depth of the leaf for ANCESTOR)."""
    node, cur = tree, live
    for depth, seg in enumerate(path):
        if depth and not any(k != "." for k in node):
            return ANCESTOR, depth  # a leaf above the path: the manager owns the whole subtree (atomic)
        item = cur[seg.position] if isinstance(seg, Index) and isinstance(cur, list) \
            and seg.position < len(cur) else None
        node = _child(node, seg, item)
        if not isinstance(node, dict):
            return None, 0
        cur = get(cur, (seg,))
    return (WHOLE if not node or "." in node else INSIDE), len(path)


def ownership(tree: dict, path: Path, live: object) -> str | None:
    """How this FieldsV1 tree holds ``path`` of ``live``: ANCESTOR, WHOLE, INSIDE or None."""
    return _hold(tree, path, live)[0]


def held_leaf(obj: dict, path: Path, owner: Ownership, at_version: AtVersion = _same_path) -> Path | None:
    """The ancestor of ``path`` that ``owner``'s managedFields entry holds as a leaf (ANCESTOR), or None.

    A leaf is ambiguous in FieldsV1: an atomic map or list owned as one value, or a map the manager
    sent empty (``operator: {}``) that the server filled later (schema defaults): the caller decides."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, dict) or (str(entry.get("manager", "")), str(entry.get("operation", "")),
                                           entry.get("time"), entry.get("subresource")) != \
                (owner.manager, owner.operation, owner.time, owner.subresource):
            continue
        there = _entry_path(obj, entry, path, at_version)
        if there != path:
            continue  # written at another version: the leaf's path there says nothing of Git's here
        mode, depth = _hold(entry.get("fieldsV1") or {}, path, obj)
        if mode == ANCESTOR:
            return path[:depth]
    return None


def owners(obj: dict, path: Path, modes: tuple[str, ...] = ANY, at_version: AtVersion = _same_path) -> list[Ownership]:
    """Managers that own ``path`` of the live object in one of ``modes``, the most recent write first.
    ``at_version`` gives the path as written at another API version (an entry made there)."""
    found = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, dict) or entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        if (entry.get("subresource") == "status") != (path[:1] == (Key("status"),)):
            continue
        there = _entry_path(obj, entry, path, at_version)
        if there is None:
            continue
        if ownership(entry.get("fieldsV1") or {}, there, obj if there == path else None) in modes:
            found.append(Ownership(str(entry.get("manager", "")), str(entry.get("operation", "")),
                                   entry.get("time"), entry.get("subresource")))
    return sorted(found, key=lambda o: o.time or "", reverse=True)


def last_writer(obj: dict, path: Path, modes: tuple[str, ...] = ANY,
                at_version: AtVersion = _same_path) -> Ownership | None:
    found = owners(obj, path, modes, at_version)
    return found[0] if found else None
