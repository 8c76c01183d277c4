"""Normalization profiles: named, per-kind rules that say what is *not* drift, and how to compare.

Each profile is a YAML file beside this module (``core.yaml``, ``tkc.yaml``, ``capi.yaml``); each rule
has a ``name``, the ``kinds`` it applies to (``Kind.group``, ``Kind`` for the core group, ``*.group``, or ``*``),
an ``action``, the ``paths`` (patterns, see ``driftd.paths.Pattern``) and ``why`` it exists.
Actions:

* ``strip``         never compared (server bookkeeping, status)
* ``server-filled`` a live value where Git declares none is not drift; with ``value`` only that value
                    (``$namespace`` stands for the object's namespace); ``when`` names a
                    condition (``service-account-token``)
* ``equivalent``    values compared with ``compare`` (quantity, version, tkr-version, int-or-string,
                    duration);
                    ``resolved_in`` names live fields the server resolves Git's value into: each
                    one that is not empty must match too (a blanked field is skipped)
* ``ignore``        never drift, even where Git declares it; ``when`` names a condition
* ``whole-map``     Git declares the whole map: a key only in live is drift
* ``list-keys``     list items matched by ``keys`` (``defaults`` fill a key the item leaves out)
* ``note``          drift under these paths carries ``note`` (e.g. immutable templates)
* ``ordered``       a list matched by key whose order counts too: items in another order are one
                    drift on the list
* ``free-form``     values under these paths are compared exactly, as the CRD schema's
                    ``x-kubernetes-preserve-unknown-fields`` makes the server store them
* ``version-paths`` the same field has another path in other API versions: ``paths`` (at ``versions``)
                    are ``to_paths`` (at ``to_versions``), the first field below them renamed by
                    ``renames``; used to read managedFields entries written at another version

Rules can be listed and explained (``driftd profiles``) and switched off by name in the config.
Config ``ignore`` entries become rules of their own. This module only loads and selects rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from ..model import ObjectKey
from ..paths import Path, Pattern, parse, render
from ..yamlload import load_yaml

ACTIONS = ("strip", "server-filled", "equivalent", "ignore", "whole-map", "list-keys", "ordered", "note",
           "free-form", "version-paths")
COMPARATORS = ("quantity", "version", "tkr-version", "int-or-string", "duration")
CONDITIONS = ("autoscaler-annotations", "service-account-token")
PROFILE_FILES = ("core.yaml", "tkc.yaml", "capi.yaml")


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    name: str
    profile: str
    action: str
    kinds: tuple[str, ...]
    paths: tuple[Pattern, ...]
    why: str
    value: object = None
    has_value: bool = False
    compare: str | None = None
    when: str | None = None
    keys: tuple[str, ...] = ()
    defaults: tuple[tuple[str, object], ...] = ()
    note: str | None = None
    resolved_in: tuple[Path, ...] = ()  # equivalent: live fields Git's value is resolved into
    namespaces: tuple[str, ...] = ()   # config ignore rules: limit to these namespaces
    names: tuple[str, ...] = ()        # ... and these object names
    managers: tuple[str, ...] = ()     # config ignore rules: live fields owned by these managers
    versions: tuple[str, ...] = ()     # version-paths: the versions ``paths`` are written in
    to_versions: tuple[str, ...] = ()  # ... and the versions ``to_paths`` are written in
    from_paths: tuple[Path, ...] = ()  # version-paths: ``paths`` as concrete paths
    to_paths: tuple[Path, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()

    def at_version(self, path: Path, version: str, other: str) -> Path | None:
        """version-paths: ``path`` (of an object at ``version``) as written at ``other``, or None
        when this rule does not relate the two versions or the path."""
        if version in self.versions and other in self.to_versions:
            pairs, renames = zip(self.from_paths, self.to_paths), dict(self.renames)
        elif version in self.to_versions and other in self.versions:
            pairs, renames = zip(self.to_paths, self.from_paths), {b: a for a, b in self.renames}
        else:
            return None
        for here, there in pairs:
            if path[:len(here)] == here:
                rest = path[len(here):]
                if rest and getattr(rest[0], "name", None) in renames:
                    rest = (type(rest[0])(renames[rest[0].name]),) + rest[1:]
                return there + rest
        return None

    def applies_to(self, key: ObjectKey) -> bool:
        kind_ok = any(k in ("*", key.kind, f"{key.kind}.{key.group}", f"*.{key.group}") for k in self.kinds)
        return (kind_ok and (not self.namespaces or (key.namespace or "") in self.namespaces)
                and (not self.names or key.name in self.names))

    def describe(self) -> dict:
        out = {"name": self.name, "profile": self.profile, "action": self.action, "kinds": list(self.kinds),
               "paths": [p.text for p in self.paths], "why": self.why}
        for name in ("compare", "when", "note"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.has_value:
            out["value"] = self.value
        if self.keys:
            out["keys"] = list(self.keys)
        if self.resolved_in:
            out["resolved_in"] = [render(p) for p in self.resolved_in]
        if self.managers:
            out["managers"] = list(self.managers)
        return out


def rule_from_dict(raw: dict, profile: str, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a rule must be a mapping")
    name = raw.get("name")
    action = raw.get("action")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{where}: rule needs a name")
    if action not in ACTIONS:
        raise ProfileError(f"{where}: rule {name}: action must be one of {', '.join(ACTIONS)}")
    kinds = raw.get("kinds", ["*"])
    paths = raw.get("paths", [])
    if isinstance(kinds, str):
        kinds = [kinds]
    if isinstance(paths, str):
        paths = [paths]
    if action != "ignore" and not paths:
        raise ProfileError(f"{where}: rule {name}: needs paths")
    if action == "version-paths" and (not raw.get("versions") or not raw.get("to_versions")
                                      or len(raw.get("to_paths") or []) != len(paths)):
        raise ProfileError(f"{where}: rule {name}: version-paths needs versions, to_versions and one "
                           f"to_paths entry per path")
    if action == "equivalent" and raw.get("compare") not in COMPARATORS:
        raise ProfileError(f"{where}: rule {name}: compare must be one of {', '.join(COMPARATORS)}")
    if raw.get("when") is not None and raw["when"] not in CONDITIONS:
        raise ProfileError(f"{where}: rule {name}: when must be one of {', '.join(CONDITIONS)}")
    resolved_in = raw.get("resolved_in", [])
    if isinstance(resolved_in, str):
        resolved_in = [resolved_in]
    try:
        patterns = tuple(Pattern.compile(str(p)) for p in paths)
        resolved = tuple(parse(str(p)) for p in resolved_in)
        from_paths = tuple(parse(str(p)) for p in paths) if action == "version-paths" else ()
        to_paths = tuple(parse(str(p)) for p in raw.get("to_paths") or ())
    except ValueError as exc:
        raise ProfileError(f"{where}: rule {name}: {exc}") from exc
    return Rule(
        name=name, profile=profile, action=action, kinds=tuple(str(k) for k in kinds), paths=patterns,
        why=str(raw.get("why", "")), value=raw.get("value"), has_value="value" in raw,
        compare=raw.get("compare"), when=raw.get("when"), keys=tuple(raw.get("keys", ())),
        defaults=tuple((raw.get("defaults") or {}).items()), note=raw.get("note"), resolved_in=resolved,
        namespaces=tuple(raw.get("namespaces", ())), names=tuple(raw.get("names", ())),
        managers=tuple(raw.get("managers", ())), versions=tuple(str(v) for v in raw.get("versions", ())),
        to_versions=tuple(str(v) for v in raw.get("to_versions", ())), from_paths=from_paths, to_paths=to_paths,
        renames=tuple((str(a), str(b)) for a, b in (raw.get("renames") or {}).items()))


def builtin_rules() -> list[Rule]:
    rules: list[Rule] = []
    for filename in PROFILE_FILES:
        text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
        data = load_yaml(text)
        profile = data["profile"]
        for i, raw in enumerate(data["rules"]):
            rules.append(rule_from_dict(raw, profile, f"{filename} rule {i + 1}"))
    names = [r.name for r in rules]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ProfileError(f"duplicate rule names: {sorted(dupes)}")
    return rules


@dataclass
class RuleSet:
    """All rules that apply to one object, grouped by action."""
    by_action: dict[str, list[Rule]] = field(default_factory=dict)

    @classmethod
    def for_object(cls, rules: list[Rule], key: ObjectKey) -> "RuleSet":
        out: dict[str, list[Rule]] = {a: [] for a in ACTIONS}
        for rule in rules:
            if rule.applies_to(key):
                out[rule.action].append(rule)
        return cls(out)

    def get(self, action: str) -> list[Rule]:
        return self.by_action.get(action, [])
