"""Which side moved: give each field drift a class and the evidence for it.

* ``git-ahead``      Git changed and the cluster has not caught up: the live value is what was last
                     applied (kubectl's last-applied record, a Git commit of the object), or the
                     GitOps applier itself last wrote it.
* ``out-of-band``    the cluster changed after the apply: the last applied value equals Git, or an
                     out-of-band manager (``kubectl-edit`` ...) last wrote the field.
* ``removed-in-git`` the field was applied once (it is in the last-applied record, or the GitOps
                     applier wrote it) and Git no longer declares it.
* ``unknown``        no evidence either way; said so rather than guessed.

Evidence comes from the live object (managedFields, last-applied) and, when given, from Git
history (``HistoryEvidence``, see ``driftd.history``). Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol

from .compare import DEFAULT_GITOPS_MANAGERS, LAST_APPLIED, CompareOptions, last_applied, same_json
from .model import Change, DriftClass, FieldDrift, ObjectKey
from .normalize import Normalizer
from .paths import Path, get, has

__all__ = ["DEFAULT_GITOPS_MANAGERS", "LAST_APPLIED", "ClassifyOptions", "HistoryEvidence", "classify",
           "last_applied"]


@dataclass(frozen=True)
class ClassifyOptions:
    compare: CompareOptions = CompareOptions()
    gitops_managers: tuple[str, ...] = DEFAULT_GITOPS_MANAGERS

    def is_gitops(self, manager: str | None) -> bool:
        return manager is not None and any(fnmatchcase(manager, p) for p in self.gitops_managers)


class HistoryEvidence(Protocol):
    """What Git history knows of one object's field (implemented by ``driftd.history``)."""

    def commit_with_value(self, key: ObjectKey, path: Path, live: object) -> dict | None:
        """The newest earlier commit at which Git declared ``live`` at ``path``, or None."""

    def commit_that_changed(self, key: ObjectKey, path: Path) -> dict | None:
        """The commit that last set (or removed) ``path`` in Git."""


def _same(norm: Normalizer, path: Path, a: object, b: object) -> bool:
    return same_json(a, b) or norm.equal(path, a, b)


def classify(drift: FieldDrift, key: ObjectKey, live_obj: dict, norm: Normalizer,
             options: ClassifyOptions = ClassifyOptions(), history: HistoryEvidence | None = None) -> None:
    """Set ``drift.drift_class`` and complete ``drift.evidence`` in place."""
    ev = drift.evidence
    applied = last_applied(live_obj)
    la_has = applied is not None and has(applied, drift.path)
    la_value = get(applied, drift.path) if la_has else None
    if applied is not None:
        ev.in_last_applied = la_has
        if la_has:
            ev.last_applied = la_value
    manager_oob = ev.manager is not None and options.compare.is_out_of_band(ev.manager)
    manager_gitops = options.is_gitops(ev.manager)
    by = f"{ev.manager} ({ev.operation}{', ' + ev.time if ev.time else ''})" if ev.manager else None

    if history is not None:
        found = _from_history(drift, key, history)
        if found:
            return

    if drift.change is Change.MODIFIED:
        if la_has and _same(norm, drift.path, la_value, drift.live) and not _same(norm, drift.path, la_value, drift.desired):
            _set(drift, DriftClass.GIT_AHEAD, "the live value is the last applied one; Git has changed since: sync")
        elif la_has and _same(norm, drift.path, la_value, drift.desired):
            _set(drift, DriftClass.OUT_OF_BAND, "Git equals the last applied value; the cluster was changed after "
                 "the apply" + (f", last by {by}" if by else ""))
        elif manager_oob:
            _set(drift, DriftClass.OUT_OF_BAND, f"last written by {by}")
        elif manager_gitops:
            _set(drift, DriftClass.GIT_AHEAD, f"last written by the GitOps applier {by}; Git has changed since")
    elif drift.change is Change.ADDED:
        if la_has:
            _set(drift, DriftClass.REMOVED_IN_GIT, "in the last applied configuration, no longer in Git; "
                 "an apply does not remove it")
        elif manager_oob:
            _set(drift, DriftClass.OUT_OF_BAND, f"never applied from Git; written by {by}")
        elif manager_gitops:
            _set(drift, DriftClass.REMOVED_IN_GIT, f"written by the GitOps applier {by}, no longer in Git")
    elif drift.change is Change.REMOVED:
        if la_has and _same(norm, drift.path, la_value, drift.desired):
            _set(drift, DriftClass.OUT_OF_BAND, "applied from Git, since removed from the cluster")
        elif applied is not None and not la_has:
            _set(drift, DriftClass.GIT_AHEAD, "added to Git after the last apply: sync")


def _set(drift: FieldDrift, cls: DriftClass, reason: str) -> None:
    drift.drift_class = cls
    drift.evidence.reason = reason


def _from_history(drift: FieldDrift, key: ObjectKey, history: HistoryEvidence) -> bool:
    changed = history.commit_that_changed(key, drift.path)
    if drift.change is Change.ADDED:
        earlier = history.commit_with_value(key, drift.path, drift.live)
        if earlier is not None:
            drift.evidence.commit, drift.evidence.changed_by = earlier, changed
            _set(drift, DriftClass.REMOVED_IN_GIT, f"declared in Git until commit {(changed or {}).get('sha', '?')[:10]}; "
                 "removed since, still live")
            return True
        return False
    if drift.live is None:
        return False
    earlier = history.commit_with_value(key, drift.path, drift.live)
    if earlier is not None and not (drift.evidence.manager and drift.evidence.time and changed
                                    and drift.evidence.time > changed.get("date", "")):
        drift.evidence.commit, drift.evidence.changed_by = earlier, changed
        _set(drift, DriftClass.GIT_AHEAD, f"the live value is Git's at {earlier.get('sha', '?')[:10]}; "
             f"changed in Git by {(changed or {}).get('sha', '?')[:10]}: sync")
        return True
    return False
