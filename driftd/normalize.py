"""Normalization: which parts of an object are compared, and how, for one object.

``Normalizer`` binds the profile rules that apply to one object (``driftd.profiles``) plus the
config's own rules and answers the questions ``compare`` asks while it walks desired and live:
is this path stripped, ignored, server-filled where Git is silent, compared by a special rule
(quantities, versions), keyed by which fields, declared whole by Git? It never sees the network,
the clock or a database.
"""

from __future__ import annotations

import base64
import copy
import re
from fnmatch import fnmatchcase
from dataclasses import dataclass, field

from .model import ObjectKey
from .paths import Key, Path, Pattern, get
from .profiles import Rule, RuleSet
from .duration import same_duration
from .quantity import same_quantity
from .schema import SchemaHints

AUTOSCALER_MIN = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"


def _annotations(obj: dict | None) -> dict:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def _version_core(value: str) -> str:
    return value[1:] if value.startswith("v") else value


def same_version(desired: object, live: object) -> bool:
    """``1.29.3`` and ``v1.29.3`` are the same version."""
    return isinstance(desired, str) and isinstance(live, str) and _version_core(desired) == _version_core(live)


_TKR_PARTS = re.compile(r"[.+\-]")


def same_tkr_version(desired: object, live: object) -> bool:
    """A short TKR version in Git (``1.21``, ``v1.21.6``) names the release a full one resolves to
    (``v1.21.6+vmware.1-tkg.1.b3d708a``)."""
    if not (isinstance(desired, str) and isinstance(live, str)) or not desired:
        return False
    want, have = _version_core(desired), _version_core(live)
    if want == have:
        return True
    return have.startswith(want) and have[len(want)] in ".+-"


def same_int_or_string(desired: object, live: object) -> bool:
    if isinstance(desired, bool) or isinstance(live, bool):
        return False
    return isinstance(desired, (int, str)) and isinstance(live, (int, str)) and str(desired) == str(live)


COMPARE = {"quantity": same_quantity, "version": same_version, "tkr-version": same_tkr_version,
           "int-or-string": same_int_or_string, "duration": same_duration}


def fold_string_data(obj: dict) -> dict:
    """A Git Secret as the API server stores it: ``stringData`` is write-only, merged into ``data``
    as base64 of its UTF-8 text and never returned (variant 01); a key in both is stringData's, as
    the server does. Other objects, and values that are not strings (the server would refuse them,
    so they stay to be reported), are returned as they are. Pure: a new object, ``obj`` untouched."""
    string_data = obj.get("stringData")
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1" or not isinstance(string_data, dict):
        return obj
    out = copy.deepcopy(obj)
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    rest = {}
    for key, value in string_data.items():
        if isinstance(value, str):
            data[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
        else:
            rest[key] = value
    if data:
        out["data"] = data
    if rest:
        out["stringData"] = rest
    else:
        del out["stringData"]
    return out


@dataclass
class Normalizer:
    key: ObjectKey
    rules: RuleSet
    conditions: set[str] = field(default_factory=set)
    disabled: frozenset[str] = frozenset()
    schema: SchemaHints | None = None   # the CRD's structural schema, when driftd could read it
    version: str = ""   # the API version the live object was read at (managedFields may be at others)
    _free_form: dict = field(default_factory=dict, repr=False, compare=False)   # free_form's answers

    @classmethod
    def for_object(cls, rules: list[Rule], key: ObjectKey, desired: dict | None, live: dict | None,
                   disabled: frozenset[str] = frozenset(), schema: SchemaHints | None = None) -> "Normalizer":
        active = [r for r in rules if r.name not in disabled]
        conditions = set()
        for side in (desired, live):
            ann = _annotations(side)
            if AUTOSCALER_MIN in ann and AUTOSCALER_MAX in ann:
                conditions.add("autoscaler-annotations")
            if key.kind == "Secret" and key.group == "" and (side or {}).get("type") == SERVICE_ACCOUNT_TOKEN:
                conditions.add("service-account-token")   # the token controller fills its data
        version = str((live or desired or {}).get("apiVersion") or "").split("/")[-1]
        return cls(key, RuleSet.for_object(active, key), conditions, disabled, schema, version)

    # -- questions compare asks ----------------------------------------------------------------------

    def _active(self, action: str) -> list[Rule]:
        return [r for r in self.rules.get(action) if not r.when or r.when in self.conditions]

    def _first(self, action: str, path: Path) -> Rule | None:
        for rule in self._active(action):
            if any(p.matches(path) for p in rule.paths):
                return rule
        return None

    def ignored(self, path: Path) -> Rule | None:
        """An ignore rule that drops ``path`` whoever wrote it (a rule naming managers does not)."""
        for rule in self._active("ignore"):
            if not rule.managers and any(p.matches(path) for p in rule.paths):
                return rule
        return None

    def ignored_writer(self, path: Path, manager: str) -> Rule | None:
        """An ignore rule that drops ``path`` because ``manager`` last wrote it: the rule's managers
        match and, when it names paths too, so does one of them (both must hold)."""
        for rule in self._active("ignore"):
            if (rule.managers and any(fnmatchcase(manager, m) for m in rule.managers)
                    and (not rule.paths or any(p.matches(path) for p in rule.paths))):
                return rule
        return None

    def server_filled(self, path: Path, live_value: object) -> Rule | None:
        for rule in self._active("server-filled"):
            if any(p.matches(path) for p in rule.paths):
                if not rule.has_value:
                    return rule
                want = self.key.namespace if rule.value == "$namespace" else rule.value
                if live_value == want and type(live_value) is type(want):
                    return rule
        return None

    def equal(self, path: Path, desired: object, live: object, live_root: dict | None = None) -> bool:
        return self.mismatch(path, desired, live, live_root) is None

    def resolved_in(self, path: Path) -> tuple[Path, ...]:
        """Live fields an ``equivalent`` rule compares Git's value at ``path`` with, besides ``path``."""
        rule = self._first("equivalent", path)
        return rule.resolved_in if rule else ()

    def mismatch(self, path: Path, desired: object, live: object,
                 live_root: dict | None = None) -> tuple[Path, object] | None:
        """None when an ``equivalent`` rule makes ``desired`` equal to live; else the live field and
        value it differs from (``path`` itself, or a field Git's value is resolved into)."""
        rule = self._first("equivalent", path)
        if rule is None:
            return path, live
        same = COMPARE[rule.compare]
        # A rule with resolved_in compares Git's value with every place the server resolved it
        # into: a legacy field the server blanked ("") or left out says nothing and is skipped.
        candidates = [(path, live)] + [(p, get(live_root, p)) for p in rule.resolved_in if live_root is not None]
        if rule.resolved_in:
            candidates = [(p, v) for p, v in candidates if v not in (None, "")]
            if not candidates:
                return path, live
        for where, value in candidates:
            if not same(desired, value):
                return where, value
        return None

    def list_keys(self, path: Path) -> tuple[tuple[str, ...], dict] | None:
        """A profile's keys for the list at ``path``, else the CRD schema's list-map-keys."""
        rule = self._first("list-keys", path)
        if rule:
            return rule.keys, dict(rule.defaults)
        keys = self.schema.list_keys(path) if self.schema else None
        return (keys, {}) if keys else None

    def free_form(self, path: Path) -> bool:
        """A value compared exactly: free-form in the CRD schema, or at or under a ``free-form`` rule's
        path. Asked for every field of a walk, so each path is decided once, from its parent's answer."""
        if not path:
            return False
        known = self._free_form.get(path)
        if known is None:
            known = (self.free_form(path[:-1]) or self._first("free-form", path) is not None
                     or (self.schema is not None and self.schema.free_form(path)))
            self._free_form[path] = known
        return known

    def ordered(self, path: Path) -> bool:
        return self._first("ordered", path) is not None

    def whole_map(self, path: Path) -> bool:
        return self._first("whole-map", path) is not None

    def at_version(self, path: Path, other: str) -> Path:
        """``path`` as written at API version ``other`` (a managedFields entry made there): renamed by
        a ``version-paths`` rule, else the same path (most fields keep theirs across versions)."""
        for rule in self.rules.get("version-paths"):
            there = rule.at_version(path, self.version, other)
            if there is not None:
                return there
        return path

    def note(self, path: Path) -> str | None:
        rule = self._first("note", path)
        return rule.note if rule else None

    # -- stripping ---------------------------------------------------------------------------------

    def strip(self, obj: dict) -> dict:
        """A copy of ``obj`` without the paths of ``strip`` rules (server bookkeeping, status)."""
        out = copy.deepcopy(obj)
        patterns = [p for r in self.rules.get("strip") for p in r.paths]
        _strip(out, (), patterns)
        return out


def _strip(node: object, path: Path, patterns: list[Pattern]) -> None:
    if not isinstance(node, dict):
        return  # strip rules name map fields; list items are never stripped wholesale
    for name in list(node):
        child = path + (Key(name),)
        live = [p for p in patterns if p.matches_prefix(child)]
        if not live:
            continue
        if any(p.matches(child) for p in live):
            del node[name]
        else:
            _strip(node[name], child, live)
