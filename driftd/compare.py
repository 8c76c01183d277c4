"""Compare what Git declares with what the API server returns, field by field.

The question is "does the cluster match Git?", not "what would an apply change?" (kubectl diff,
Argo CD's default diff). So, walking desired (Git) and live together after stripping
(``Normalizer.strip``):

* a field Git declares and live lacks is ``removed`` drift, unless Git's value is empty, null or
  zero, which Kubernetes omits (``omitempty``; case 12);
* a field both sides have is ``modified`` drift when the values differ, compared with JSON types
  (``3`` != ``"3"``; case 08) unless a profile rule compares it otherwise (quantities, versions);
* a field only live has (``added``) is drift only with evidence that it is not the system's: Git
  declares its map whole (ConfigMap data, case 09), an out-of-band manager (``kubectl-edit``,
  ``kubectl-patch`` ...) last wrote it, or it was applied from Git once and Git has dropped it
  since (it is in kubectl's last-applied record, or a GitOps manager server-side *applied* it:
  an Apply owns exactly the fields it sent — an empty map it sent is not
  ownership of the defaults the server fills into it — an Update also owns what the server defaulted).
  Values the server, a webhook or a controller fills where Git is silent are not drift (cases 01,
  03, 04, 07, 11), and neither are empty maps/lists a re-encoding adds; a list item created out
  of band is one drift on the item;
* lists are matched item by item by their key (``[name=np-1]``, ``[port=80,protocol=TCP]``), so
  reordering is not drift and a change is reported on the one item; a key that repeats on either
  side falls back to position for that list (case 14); lists of scalars compare as a whole.

Pure: plain data in, ``FieldDrift`` values out (class left ``unknown`` for ``classify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import json

from .managedfields import ANCESTOR, INSIDE, WHOLE, held_leaf, last_writer
from .model import Change, Evidence, FieldDrift, Ownership
from .normalize import Normalizer
from .paths import Index, Key, Path, Select, get, has, render, select_value

DEFAULT_OUT_OF_BAND_MANAGERS = ("kubectl-edit", "kubectl-patch", "kubectl-scale", "kubectl-label",
                                "kubectl-annotate", "kubectl-set", "kubectl-replace", "kubectl-rollout")
DEFAULT_GITOPS_MANAGERS = ("argocd-controller", "argocd-application-controller", "kustomize-controller",
                           "helm-controller", "driftd")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_MISSING = object()


@dataclass(frozen=True)
class CompareOptions:
    out_of_band_managers: tuple[str, ...] = DEFAULT_OUT_OF_BAND_MANAGERS
    gitops_managers: tuple[str, ...] = DEFAULT_GITOPS_MANAGERS

    def is_out_of_band(self, manager: str) -> bool:
        return any(fnmatchcase(manager, pattern) for pattern in self.out_of_band_managers)

    def is_gitops(self, manager: str | None) -> bool:
        return manager is not None and any(fnmatchcase(manager, p) for p in self.gitops_managers)


def last_applied(live_obj: dict) -> dict | None:
    """kubectl's last-applied-configuration of a live object, or None."""
    raw = ((live_obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Comparison:
    drifts: list[FieldDrift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_empty(value: object) -> bool:
    """Values Kubernetes drops or never stores: null, {}, [] and ""."""
    return value is None or value == {} or value == [] or value == ""


def is_zero(value: object) -> bool:
    return is_empty(value) or value is False or (not isinstance(value, bool) and value == 0)


def same_json(a: object, b: object) -> bool:
    """Equality with JSON types: 3 == 3.0, but 3 != "3" and 1 != true."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


class _Walker:
    def __init__(self, norm: Normalizer, live_obj: dict, options: CompareOptions):
        self.norm, self.live_obj, self.options = norm, live_obj, options
        self.applied = last_applied(live_obj)
        self.live_root: dict = {}  # the stripped live object, for rules that read another field
        self.desired_root: dict = {}  # the stripped Git object, for what Git declares above a live-only field
        # Live fields already compared with the Git field they were resolved from (resolved_in).
        # Desired keys are walked before live-only ones at every level, so a resolved sibling is
        # known here before the walk reaches it.
        self.resolved: set[Path] = set()
        self.out = Comparison()

    # -- helpers -------------------------------------------------------------------------------------

    def _owner(self, path: Path) -> Ownership | None:
        return last_writer(self.live_obj, path, at_version=self.norm.at_version)

    def _add(self, path: Path, change: Change, desired: object, live: object,
             owner: Ownership | None = None, note: str | None = None) -> None:
        if owner is None and live is not _MISSING:
            owner = self._owner(path)
        if owner and self.norm.ignored_writer(path, owner.manager):
            return
        evidence = Evidence()
        if owner:
            evidence = Evidence(manager=owner.manager, operation=owner.operation, time=owner.time,
                                subresource=owner.subresource)
        self.out.drifts.append(FieldDrift(
            path=path, change=change,
            desired=None if desired is _MISSING else self._shown(path, desired),
            live=None if live is _MISSING else live,
            evidence=evidence, note="; ".join(n for n in (self.norm.note(path), note) if n) or None))

    def _shown(self, path: Path, value: object) -> object:
        """Git's value as the cluster would store it: without the empty parts Kubernetes drops, except
        inside free-form values, which are stored as sent."""
        if path and self.norm.free_form(path):
            return value
        if isinstance(value, dict):
            out = {k: self._shown(path + (Key(k),), v) for k, v in value.items()}
            return {k: v for k, v in out.items() if not is_empty(v) or self.norm.free_form(path + (Key(k),))}
        if isinstance(value, list):
            return [self._shown(path + (Index(i),), v) for i, v in enumerate(value)]
        return value

    # -- the walk ------------------------------------------------------------------------------------

    def walk(self, path: Path, desired: object, live: object, in_whole_map: bool = False) -> None:
        if desired is None:
            desired = _MISSING  # Git's null declares nothing (case 12: annotations: null)
        if live is None:
            live = _MISSING
        if desired is _MISSING and live is _MISSING:
            return
        if path and self.norm.ignored(path):
            if desired is not _MISSING and "autoscaler-annotations" in self.norm.conditions:
                self.out.notes.append(
                    f"{render(path)} is declared in Git but the cluster autoscaler owns it (min/max-size "
                    f"annotations): a configuration conflict, not compared and never reverted")
            return
        if desired is _MISSING:
            self._live_only(path, live, in_whole_map)
            return
        free = bool(path) and self.norm.free_form(path)
        if live is _MISSING:
            if free:   # stored exactly as sent: Git's false, 0 or {} is a value the cluster lacks
                self._add(path, Change.REMOVED, desired, _MISSING)
            elif not is_zero(desired) and self._shown(path, desired) not in ({}, []):
                self._removed_or_resolved(path, desired)
            return
        if free:
            if not same_json(desired, live):
                self._walk_free(path, desired, live)
            return
        if path:
            self.resolved.update(self.norm.resolved_in(path))
            differs = self.norm.mismatch(path, desired, live, self.live_root)
            if differs is None:
                return
            where, value = differs
            if where != path:  # Git's value resolved into another live field, to another value
                self._add(path, Change.MODIFIED, desired, value, self._owner(where),
                          note=f"live resolved it as {render(where)}")
                return
        whole = in_whole_map or (bool(path) and self.norm.whole_map(path))
        if isinstance(desired, dict) and isinstance(live, dict):
            for name in list(desired) + [k for k in live if k not in desired]:
                self.walk(path + (Key(name),), desired.get(name), live.get(name), whole)
            return
        if isinstance(desired, list) and isinstance(live, list):
            self._walk_list(path, desired, live)
            return
        if not same_json(desired, live):
            self._add(path, Change.MODIFIED, desired, live)

    def _walk_free(self, path: Path, desired: object, live: object) -> None:
        """A free-form value that differs: maps key by key, lists of objects item by item by position
        (their order is stored as sent), anything else (scalars, lists of scalars) as one modified
        value with JSON types."""
        if isinstance(desired, dict) and isinstance(live, dict):
            for name in list(desired) + [k for k in live if k not in desired]:
                self.walk(path + (Key(name),), desired.get(name), live.get(name))
        elif (isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live)
              and any(isinstance(x, dict) for x in desired + live)):
            for i, (d, v) in enumerate(zip(desired, live)):
                self.walk(path + (Index(i),), d, v)
        else:
            self._add(path, Change.MODIFIED, desired, live)

    def _removed_or_resolved(self, path: Path, desired: object) -> None:
        """Git's field is absent live: removed, unless the server resolved it into another field."""
        self.resolved.update(self.norm.resolved_in(path))
        differs = self.norm.mismatch(path, desired, None, self.live_root)
        if differs is None:
            return
        where, value = differs
        if where == path:
            self._add(path, Change.REMOVED, desired, _MISSING)
        else:
            self._add(path, Change.MODIFIED, desired, value, self._owner(where),
                      note=f"live resolved it as {render(where)}")

    def _live_only(self, path: Path, live: object, in_whole_map: bool, filled: bool = False) -> None:
        """A value Git does not declare. ``filled``: a profile says the system fills this subtree."""
        if path in self.resolved:
            return  # already compared with the Git field it was resolved from
        if is_empty(live) and not (path and self.norm.free_form(path)):
            return  # empty values are not stored, except inside a free-form value ("", {} and [] are values)
        rule = self.norm.server_filled(path, live)
        if rule is not None:
            if rule.has_value:
                return  # the system's default value itself: whoever wrote it, nothing differs
            filled = True
        whole = in_whole_map or (bool(path) and self.norm.whole_map(path[:-1]))
        if whole and not filled:
            self._add(path, Change.ADDED, _MISSING, live)
            return
        if isinstance(live, dict) and live:   # an empty map here is a free-form value: judged as one
            # A list item created out of band (a container, an env entry), or applied from Git
            # once, is one drift on the item, not one per field; an item only modified in place,
            # or injected by a webhook (no owner), is walked field by field.
            if path and isinstance(path[-1], (Select, Index)) and not filled:
                creator = last_writer(self.live_obj, path, (WHOLE, ANCESTOR), self.norm.at_version)
                if self._not_the_systems(path, creator):
                    self._add(path, Change.ADDED, _MISSING, live, creator)
                    return
            for name, value in live.items():
                self._live_only(path + (Key(name),), value, False, filled)
            return
        if isinstance(live, list) and self._set_items(path, live, filled):
            return
        if filled:
            # The system chooses this value (a profile says so): only a person who changed this
            # very field is evidence against it. An Update owns just what it changed, but an
            # out-of-band Update of an atomic list (TKC nodePools after kubectl edit) owns every
            # value in it, the service's too; and Git's own earlier apply of a value the system
            # fills anyway (an exported manifest) changes nothing when Git drops it again.
            owner = last_writer(self.live_obj, path, (WHOLE, INSIDE), self.norm.at_version)
            if owner is not None and self.options.is_out_of_band(owner.manager):
                self._add(path, Change.ADDED, _MISSING, live, owner)
            return
        owner = self._owner(path)
        if self._not_the_systems(path, owner):
            self._add(path, Change.ADDED, _MISSING, live, owner)

    def _set_items(self, path: Path, live: list, filled: bool) -> bool:
        """A list whose items have owners of their own (a set: ``metadata.finalizers``; a map list:
        ``metadata.ownerReferences``), judged item by item: a controller's later write to the list
        must not hide the item a person added. Reports the items not the system's, as one drift on
        the list; False when the list is not held item by item (then it is judged as one value)."""
        if not live or any(isinstance(x, list) for x in live):
            return False
        owned = [(i, x, last_writer(self.live_obj, path + (Index(i),), (WHOLE,), self.norm.at_version))
                 for i, x in enumerate(live)]
        if all(o is None for _, _, o in owned):
            return False
        theirs = [(x, o) for i, x, o in owned
                  if ((o is not None and self.options.is_out_of_band(o.manager)) if filled
                      else self._not_the_systems(path + (Index(i),), o))]
        if theirs:
            owner = max((o for _, o in theirs if o is not None), key=lambda o: o.time or "", default=None)
            others = len(live) - len(theirs)
            self._add(path, Change.ADDED, _MISSING, [x for x, _ in theirs], owner,
                      note=f"{others} other item(s) of this list are the system's" if others else None)
        return True

    def _not_the_systems(self, path: Path, owner: Ownership | None) -> bool:
        """Evidence that a live-only value was not filled by the server, a webhook or a controller."""
        if owner is not None and self.options.is_out_of_band(owner.manager):
            return True   # kubectl edit/patch/label ... wrote it
        if owner is not None and owner.operation == "Apply" and self.options.is_gitops(owner.manager) \
                and not self._applied_empty(path, owner):
            return True   # server-side applied from Git once: an Apply owns only what it sent
        return self.applied is not None and has(self.applied, path)   # kubectl-applied from Git once

    def _applied_empty(self, path: Path, owner: Ownership) -> bool:
        """The applier holds ``path`` only through an ancestor leaf that Git declares as an empty map:
        it sent ``{}`` there and owns that, not what the server defaulted into it since (a CRD schema
        default under ``operator: {}``). An atomic map Git declares with keys stays Git's whole."""
        leaf = held_leaf(self.live_obj, path, owner, self.norm.at_version)
        return leaf is not None and get(self.desired_root, leaf) == {}

    def _walk_list(self, path: Path, desired: list, live: list) -> None:
        if not any(isinstance(x, dict) for x in desired + live):
            if not same_json(desired, live):
                self._add(path, Change.MODIFIED, desired, live)
            return
        keyed = self._keyed(path, desired, live)
        if keyed is None:
            for i in range(max(len(desired), len(live))):
                self.walk(path + (Index(i),),
                          desired[i] if i < len(desired) else _MISSING,
                          live[i] if i < len(live) else _MISSING)
            return
        want, have = keyed
        if self.norm.ordered(path):
            order = [_key_text(sel) for sel in want if sel in have], [_key_text(sel) for sel in have if sel in want]
            if order[0] != order[1]:
                self._add(path, Change.MODIFIED, order[0], order[1], note="the same items in another order")
        for sel, item in want.items():
            self.walk(path + (sel,), item, have.get(sel, _MISSING))
        for sel, item in have.items():
            if sel not in want:
                self.walk(path + (sel,), _MISSING, item)

    def _keyed(self, path: Path, desired: list, live: list):
        """Items of both lists by their key selector, or None when the list must go by position."""
        rule = self.norm.list_keys(path)
        if rule is None:
            if all(isinstance(x, dict) and isinstance(x.get("name"), (str, int)) for x in desired + live):
                rule = (("name",), {})
            else:
                return None
        keys, defaults = rule
        sides = []
        for items in (desired, live):
            by_key: dict[Select, dict] = {}
            for item in items:
                if not isinstance(item, dict):
                    return None
                values = []
                for k in keys:
                    v = get(item, tuple(Key(p) for p in k.split(".")), defaults.get(k))
                    if v is None:
                        return None
                    values.append((k.split(".")[-1], select_value(v)))
                sel = Select(tuple(values))
                if sel in by_key:
                    self.out.notes.append(
                        f"{render(path)} has two items with {render((sel,))}: compared by position")
                    return None
                by_key[sel] = item
            sides.append(by_key)
        return sides[0], sides[1]


def _key_text(sel: Select) -> object:
    """An item's key as a value: ``restore`` for [name=restore], ``80/TCP`` for two key fields."""
    values = [v for _, v in sel.keys]
    return values[0] if len(values) == 1 else "/".join(select_value(v) for v in values)


def compare_object(desired: dict, live: dict, norm: Normalizer,
                   options: CompareOptions = CompareOptions(), owners_from: dict | None = None) -> Comparison:
    """Field drifts between one Git object and its live counterpart (both as plain JSON).
    ``owners_from``: the object whose managedFields and last-applied record say who wrote a live
    field, when ``live`` has lost them (server mode compares copies without bookkeeping)."""
    walker = _Walker(norm, owners_from if owners_from is not None else live, options)
    walker.live_root = norm.strip(live)
    walker.desired_root = norm.strip(desired)
    walker.walk((), walker.desired_root, walker.live_root)
    return walker.out
