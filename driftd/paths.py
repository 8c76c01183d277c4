"""Field paths: the one notation driftd uses to name a field in reports, rules and the audit trail.

A path is a tuple of segments from the object root:

* ``Key("spec")``              -> ``spec``  (or ``["run.tanzu.vmware.com/tkr"]`` for keys that are not
  plain identifiers: dots, slashes, dashes ...)
* ``Select((("name", "np-1"),))`` -> ``[name=np-1]``: a list item chosen by its key field(s), as
  server-side apply does with ``x-kubernetes-list-map-keys``
* ``Index(0)``                 -> ``[0]``: a list item by position, only for lists without a usable key

``render`` and ``parse`` are inverse. ``Pattern`` matches paths for rules and ignore settings, with
``*`` (any one map key), ``[*]`` (any one list item) and ``**`` (any number of segments).
This module is pure: no I/O.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from dataclasses import dataclass
from typing import Union

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Select:
    keys: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class Index:
    position: int


Segment = Union[Key, Select, Index]
Path = tuple[Segment, ...]


def select_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_segment(seg: Segment) -> str:
    if isinstance(seg, Key):
        return seg.name if _IDENT.match(seg.name) else "[" + json.dumps(seg.name, ensure_ascii=False) + "]"
    if isinstance(seg, Select):
        return "[" + ",".join(f"{k}={select_value(v)}" for k, v in seg.keys) + "]"
    return f"[{seg.position}]"


def render(path: Path) -> str:
    out = []
    for seg in path:
        text = render_segment(seg)
        if out and not text.startswith("["):
            out.append(".")
        out.append(text)
    return "".join(out)


class PathSyntaxError(ValueError):
    pass


def _tokens(text: str):
    """Yield ("key", name) | ("bracket", body, quoted) tokens of a path or pattern."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ".":
            i += 1
            continue
        if ch == "[":
            if text.startswith('["', i):
                try:
                    name, end = json.JSONDecoder().raw_decode(text, i + 1)
                except ValueError as exc:
                    raise PathSyntaxError(f"bad quoted key in {text!r}") from exc
                if text[end:end + 1] != "]":
                    raise PathSyntaxError(f"missing ] after quoted key in {text!r}")
                yield ("key", name)
                i = end + 1
                continue
            end = text.find("]", i)
            if end < 0:
                raise PathSyntaxError(f"missing ] in {text!r}")
            yield ("bracket", text[i + 1:end])
            i = end + 1
            continue
        m = re.compile(r"[^.\[]+").match(text, i)
        yield ("key", m.group(0))
        i = m.end()


def _parse_select(body: str) -> Segment:
    if body.isdigit():
        return Index(int(body))
    keys = []
    for part in body.split(","):
        if "=" not in part:
            raise PathSyntaxError(f"list selector {body!r} needs key=value")
        k, v = part.split("=", 1)
        keys.append((k, v))
    return Select(tuple(keys))


def parse(text: str) -> Path:
    """Parse a rendered path. Selector values come back as strings (compare with ``render``)."""
    segs: list[Segment] = []
    for tok in _tokens(text):
        segs.append(Key(tok[1]) if tok[0] == "key" else _parse_select(tok[1]))
    return tuple(segs)


# ----------------------------------------------------------------------------- patterns

_ANY_KEY = "*"
_ANY_ITEM = "[*]"
_ANY_DEPTH = "**"


@dataclass(frozen=True)
class Pattern:
    """A path pattern: ``spec.template.spec.containers[*].imagePullPolicy``, ``spec.strategy.**``,
    ``metadata.labels["cluster.x-k8s.io/*"]``, ``*Probe`` (a ``*`` inside a key is a wildcard)."""

    text: str
    parts: tuple
    tail: tuple = ()        # the parts after the last ``**`` (all of them when there is none)
    anchored: bool = True   # no ``**``: the pattern matches paths of exactly its length


    @classmethod
    def compile(cls, text: str) -> "Pattern":
        parts = []
        for tok in _tokens(text):
            if tok[0] == "key":
                name = tok[1]
                if name in (_ANY_KEY, _ANY_DEPTH):
                    parts.append(name)
                elif "*" in name:
                    parts.append(("glob", name))
                else:
                    parts.append(Key(name))
            elif tok[1] == "*":
                parts.append(_ANY_ITEM)
            else:
                parts.append(_parse_select(tok[1]))
        depth = max((i for i, p in enumerate(parts) if p == _ANY_DEPTH), default=-1)
        return cls(text, tuple(parts), tuple(parts[depth + 1:]), depth < 0)

    def matches(self, path: Path) -> bool:
        # Rules are asked about every field of every object: check the fixed segments after the last
        # ``**`` against the path's end first (``**.resources.limits.*``), which rejects almost every
        # path at once, before ``**`` tries each depth.
        tail = self.tail
        n = len(tail)
        if len(path) < n or (self.anchored and len(path) != n):
            return False
        for i in range(n):
            if not _seg_matches(tail[i], path[len(path) - n + i]):
                return False
        return self.anchored or _match(self.parts, 0, path, 0)

    def matches_prefix(self, path: Path) -> bool:
        """True when some extension of ``path`` could match (used to prune walks)."""
        return _match_prefix(self.parts, 0, path, 0)


def _seg_matches(part, seg: Segment) -> bool:
    if part == _ANY_KEY:
        return isinstance(seg, Key)
    if part == _ANY_ITEM:
        return isinstance(seg, (Select, Index))
    if isinstance(part, tuple) and part[0] == "glob":
        return isinstance(seg, Key) and fnmatchcase(seg.name, part[1])
    if isinstance(part, Select) and isinstance(seg, Select):
        return {k: str(v) for k, v in part.keys} == {k: select_value(v) for k, v in seg.keys}
    return part == seg


def _match(parts, i, path, j) -> bool:
    if i == len(parts):
        return j == len(path)
    if parts[i] == _ANY_DEPTH:
        return any(_match(parts, i + 1, path, k) for k in range(j, len(path) + 1))
    return j < len(path) and _seg_matches(parts[i], path[j]) and _match(parts, i + 1, path, j + 1)


def _match_prefix(parts, i, path, j) -> bool:
    if j == len(path):
        return True
    if i == len(parts):
        return False
    if parts[i] == _ANY_DEPTH:
        return True
    return _seg_matches(parts[i], path[j]) and _match_prefix(parts, i + 1, path, j + 1)


def is_under(path: Path, ancestor: Path) -> bool:
    return path[:len(ancestor)] == ancestor


def get(obj: object, path: Path, default=None):
    """The value at ``path`` in a plain JSON object (Select picks the first item whose keys match)."""
    cur = obj
    for seg in path:
        if isinstance(seg, Key):
            if not isinstance(cur, dict) or seg.name not in cur:
                return default
            cur = cur[seg.name]
        elif isinstance(seg, Index):
            if not isinstance(cur, list) or seg.position >= len(cur):
                return default
            cur = cur[seg.position]
        else:
            if not isinstance(cur, list):
                return default
            want = {k: select_value(v) for k, v in seg.keys}
            for item in cur:
                if isinstance(item, dict) and all(
                        k in item and select_value(item[k]) == v for k, v in want.items()):
                    cur = item
                    break
            else:
                return default
    return cur


_MISSING = object()


def has(obj: object, path: Path) -> bool:
    return get(obj, path, _MISSING) is not _MISSING
