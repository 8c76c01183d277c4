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
history (``HistoryEvidence``, see ``driftd.history`` and docs/history.md), which is asked first:

* the live value is one Git declared for this object at an earlier commit: ``git-ahead`` naming
  that commit and the one that changed it since, unless an out-of-band manager wrote it at or after
  that change (``out-of-band``: set back by hand);
* the live value was never in Git for this object and an out-of-band manager wrote it: ``out-of-band``;
* a live-only field Git declared earlier and removed since: ``removed-in-git`` naming the commit
  that removed it (``out-of-band`` if a person added it again after that commit);
* a field Git declares and live lacks: ``git-ahead`` when Git added it after the GitOps applier last
  wrote the object; else ``out-of-band`` when an out-of-band manager wrote the object since, else
  ``unknown`` (the server or a webhook may have dropped it).

Every drift whose desired value Git declares gets ``blame``: the commit that set it. When history
has no answer, the live-only rules decide. Pure functions (history is read through the protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable, Protocol

from .compare import DEFAULT_GITOPS_MANAGERS, LAST_APPLIED, CompareOptions, last_applied, same_json
from .managedfields import owners
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


Same = Callable[[Path, object, object], bool]


class HistoryEvidence(Protocol):
    """What Git history knows of one object's fields (implemented by ``driftd.history``). Commits are
    dicts: sha, author, email, date (ISO UTC), subject."""

    def blame(self, key: ObjectKey, path: Path, same: Same) -> dict | None:
        """The commit since which Git has declared the value it declares now at ``path``."""

    def earlier_value(self, key: ObjectKey, path: Path, value: object, same: Same) -> tuple[dict, dict] | None:
        """(the commit that set ``value`` when Git last declared it, the commit that changed it
        since), or None when Git never declared it before (or declares it now)."""

    def removed_field(self, key: ObjectKey, path: Path, same: Same) -> tuple[dict, dict] | None:
        """(the commit that set the last value of ``path``, the commit that removed it), or None."""

    def removed_object(self, key: ObjectKey) -> tuple[dict, dict, str | None] | None:
        """(the commit of the object's last version, the commit that deleted it or moved it out of
        the configured paths, the file it moved to), or None."""

    def added_object(self, key: ObjectKey) -> dict | None:
        """The commit since which Git declares the object without a break, or None."""


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

    if history is not None and _from_history(drift, key, norm, history, manager_oob, by, options, live_obj):
        return
    _from_live_object(drift, norm, la_has, la_value, applied, manager_oob, manager_gitops, by)
    if drift.drift_class is DriftClass.UNKNOWN and ev.reason is None:
        ev.reason = _unknown_reason(drift, by, applied, la_has, history)


def _unknown_reason(drift: FieldDrift, by: str | None, applied: dict | None, la_has: bool,
                    history: HistoryEvidence | None) -> str:
    """Said, not guessed: what driftd looked at and found nothing in either way."""
    seen = [f"last written by {by}" if by else "no field manager owns it",
            "no last-applied record" if applied is None else
            "not in the last-applied record" if not la_has else "the last-applied record matches neither side"]
    if history is None:
        seen.append("no Git history")
    elif drift.evidence.blame is not None and drift.change is Change.MODIFIED:
        seen.append("the live value was never in Git for this object")
    else:
        seen.append("nothing in Git history")
    return "no evidence of which side moved: " + ", ".join(seen)


def _from_live_object(drift: FieldDrift, norm: Normalizer, la_has: bool, la_value: object, applied: dict | None,
                      manager_oob: bool, manager_gitops: bool, by: str | None) -> None:
    """The rules that read only the live object (managedFields, last-applied)."""
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


def _short(commit: dict) -> str:
    return f"{commit['sha'][:10]} ({commit['subject']})"   # author and date are in the evidence itself


def _last_sync(live_obj: dict, options: ClassifyOptions) -> str | None:
    """When a GitOps applier last wrote the object (managedFields), the best sign of the last sync."""
    times = [str(e["time"]) for e in (live_obj.get("metadata") or {}).get("managedFields") or []
             if isinstance(e, dict) and options.is_gitops(e.get("manager")) and e.get("time")]
    return max(times) if times else None


def _from_history(drift: FieldDrift, key: ObjectKey, norm: Normalizer, history: HistoryEvidence, manager_oob: bool,
                  by: str | None, options: ClassifyOptions, live_obj: dict) -> bool:
    """Classify from Git history (docs/history.md). False when history has nothing to say: the
    caller falls back to the live object's evidence (the blame, when found, is kept).

    Times compared are the committer date of a commit and a managedFields time, both UTC with
    second precision: a hand edit at or after the commit that changed Git counts as after it."""
    ev = drift.evidence

    def same(path: Path, a: object, b: object) -> bool:
        return _same(norm, path, a, b)

    if drift.change is not Change.ADDED:
        ev.blame = history.blame(key, drift.path, same)

    if drift.change is Change.ADDED:
        found = history.removed_field(key, drift.path, same)
        if found is None:
            return False
        ev.commit, ev.changed_by = found
        if manager_oob and ev.time and ev.time >= found[1]["date"]:
            _set(drift, DriftClass.OUT_OF_BAND, f"added by hand by {by} after {_short(found[1])} removed it from Git")
        else:
            others = sorted({o.manager for o in owners(live_obj, drift.path) if not options.is_gitops(o.manager)})
            synced = _last_sync(live_obj, options)
            if others:
                why = f"an apply does not remove a field another field manager also owns: {', '.join(others)}"
            elif synced is None or synced < found[1]["date"]:
                why = f"not synced since{f' (last sync {synced})' if synced else ''}: sync"
            else:
                why = f"the sync at {synced} kept it (applied client-side, or another revision?)"
            _set(drift, DriftClass.REMOVED_IN_GIT, f"declared in Git until {_short(found[1])} removed it; still "
                 f"live, {why}")
        return True

    if drift.change is Change.MODIFIED:
        found = history.earlier_value(key, drift.path, drift.live, same)
        if found is not None:
            earlier, changed = found
            ev.commit, ev.changed_by = earlier, changed
            if manager_oob and ev.time and ev.time >= changed["date"]:
                _set(drift, DriftClass.OUT_OF_BAND, f"set by hand by {by} to Git's old value of {_short(earlier)}, "
                     f"after {_short(changed)} changed it")
            else:
                _set(drift, DriftClass.GIT_AHEAD, f"the cluster still has the value of {_short(earlier)}; "
                     f"{_short(changed)} changed it since: sync")
            return True
        if ev.blame is None:
            return False                        # Git history does not know this object or field
        if manager_oob:
            _set(drift, DriftClass.OUT_OF_BAND, f"the live value was never in Git for this object; written by {by}")
            return True
        if options.is_gitops(ev.manager):
            # The applier wrote a value this branch never had: another branch or revision was synced.
            _set(drift, DriftClass.UNKNOWN, f"written by the GitOps applier {by}, but never in this branch's "
                 "history (was another revision synced?)")
            return True
        return False

    # removed: Git declares the field, live lacks it (no field manager owns an absent field)
    if ev.blame is None:
        return False
    synced = _last_sync(live_obj, options)
    if synced is None:
        return False
    if ev.blame["date"] > synced:
        _set(drift, DriftClass.GIT_AHEAD, f"added to Git by {_short(ev.blame)} after the last sync ({synced}): sync")
        return True
    writer = _last_out_of_band_writer(live_obj, options, ev.blame["date"])
    if writer is not None:
        ev.manager, ev.operation, ev.time = writer.get("manager"), writer.get("operation"), writer.get("time")
        _set(drift, DriftClass.OUT_OF_BAND, f"declared in Git since {_short(ev.blame)} and synced at {synced}; "
             f"the object was written since by {ev.manager} ({ev.operation}, {ev.time})")
    else:
        # Applied after Git declared it, yet absent, and no one else wrote the object: the API server
        # (pruning a field its schema does not know) or a webhook may have dropped it.
        _set(drift, DriftClass.UNKNOWN, f"declared in Git since {_short(ev.blame)} and synced at {synced}, yet "
             "absent; no field manager says who removed it (a write that only deletes fields leaves no "
             "managedFields entry): a person, a controller, a webhook or the server's pruning. `driftd report "
             "changes` shows when it went")
    return True


def _last_out_of_band_writer(live_obj: dict, options: ClassifyOptions, since: str) -> dict | None:
    """The managedFields entry of the latest out-of-band write of the object at or after ``since``."""
    entries = [e for e in (live_obj.get("metadata") or {}).get("managedFields") or []
               if isinstance(e, dict) and e.get("manager") and options.compare.is_out_of_band(str(e["manager"]))
               and str(e.get("time") or "") >= since]
    return max(entries, key=lambda e: str(e.get("time"))) if entries else None


def classify_missing(evidence: dict, snapshots: list[dict], watched_since: str | None) -> dict:
    """A Git object that is not live, judged with the audit trail's memory (no managedFields survive
    a deletion). ``evidence``: what Git history said (``blame``: the commit since which Git declares
    it); ``snapshots``: the object's snapshot rows, oldest first (``seen_at``, ``run_id``,
    ``deleted``); ``watched_since``: the source's first run.

    * driftd saw it live after Git declared it: deleted from the cluster, ``out-of-band``;
    * Git declared it after driftd began watching, and it was never live since: not synced yet,
      ``git-ahead``;
    * otherwise what Git history said stands (``unknown``: never synced, or deleted unseen)."""
    declared_at = (evidence.get("blame") or {}).get("date")
    live = [r for r in snapshots if not r["deleted"] and (declared_at is None or r["seen_at"] >= declared_at)]
    if live:
        last = live[-1]
        gone = next((r for r in snapshots if r["deleted"] and r["seen_at"] > last["seen_at"]), None)
        return {**evidence, "class": "out-of-band", "last_live": last["seen_at"],
                "reason": f"deleted from the cluster: driftd saw it live (content as of {last['seen_at']}, run "
                          f"{last['run_id']})" + (f", gone since {gone['seen_at']} (run {gone['run_id']})" if gone else "")
                          + (f"; Git declares it since {evidence['blame']['sha'][:10]}" if evidence.get("blame") else "")}
    if declared_at is not None and watched_since is not None and declared_at >= watched_since:
        return {**evidence, "class": "git-ahead",
                "reason": f"added to Git by {evidence['blame']['sha'][:10]} ({evidence['blame']['subject']}) after "
                          f"driftd began watching ({watched_since}), never live since: sync"}
    return evidence

