"""Git history of every object, followed by identity: which commit set a value, changed it, removed it.

``ObjectHistory`` keeps, per object identity (group, kind, namespace, name), the versions Git held
along the branch's first-parent history (docs/history.md). A version is recorded only where the
object's content changed, where it was deleted, or where it entered or left the configured paths:
moving a file, or moving an object between multi-document files, is no new version (the seed's
repository moved its specs from ``tkgs/`` to ``prod/``). Deleting and restoring an object are
versions. Every YAML file of the repository is followed, not only the configured paths, so an
object's history survives a reorganisation of folders.

Cost: each blob is parsed once (``GitSource.parsed_blob`` caches by blob id); the index is saved
in the state folder; an update walks only the commits after the indexed tip. A tip that does not
descend from the indexed one (a force push) makes the update rebuild from the new history and say
so (``rewritten``).

``HistoryEvidence`` answers the questions ``classify`` asks (the ``driftd.classify.HistoryEvidence``
protocol): which commit set the value Git declares now (blame), at which earlier commit Git declared
the live value and which commit changed it since, which commit removed a field or the object. Its
answers never raise: a blob that cannot be read is remembered in ``failures`` and the question gets
no answer, so classification falls back to live-only evidence.

This module owns no Git call of its own (those are in ``driftd.gitsource``) and judges no drift.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .gitsource import CommitChanges, GitError, GitSource
from .model import ObjectKey
from .paths import Path as FieldPath
from .paths import get, has

Same = Callable[[FieldPath, object, object], bool]
INDEX_FORMAT = 2
INVALID = "invalid"          # digest of a document that names the object but cannot be used
_ABSENT = object()


@dataclass(frozen=True)
class Version:
    """One state of an object in Git, from commit ``seq`` (an index into ``ObjectHistory.commits``)
    until the next version."""
    seq: int
    blob: str | None          # the blob that declares it (None: not declared from this commit on)
    path: str | None          # the file of that blob
    digest: str | None        # hash of the object's content (None: deleted; INVALID: unusable document)

    @property
    def deleted(self) -> bool:
        return self.blob is None


@dataclass
class _TipState:
    """Which files declare each identity at the indexed tip, with the digest of each copy, and the
    reverse (file -> identities), so that a changed file needs no parse of its old blob."""
    holders: dict[ObjectKey, dict[str, str]] = field(default_factory=dict)
    by_file: dict[str, set[ObjectKey]] = field(default_factory=dict)

    def add(self, key: ObjectKey, path: str, digest: str) -> None:
        self.holders.setdefault(key, {})[path] = digest
        self.by_file.setdefault(path, set()).add(key)

    def drop_file(self, path: str) -> set[ObjectKey]:
        keys = self.by_file.pop(path, set())
        for key in keys:
            where = self.holders.get(key, {})
            where.pop(path, None)
            if not where:
                self.holders.pop(key, None)
        return keys


@dataclass
class ObjectHistory:
    """The per-identity version index of one source (its repository, branch and configured paths)."""
    source: str
    default_namespace: str | None
    paths: tuple[str, ...] = (".",)
    tip: str | None = None
    commits: list[dict] = field(default_factory=list)             # {sha, author, email, date, subject}
    files: dict[str, str] = field(default_factory=dict)           # every YAML file at tip -> its blob
    versions: dict[ObjectKey, list[Version]] = field(default_factory=dict)
    # What the last ``update`` did (not saved):
    walked: int = 0           # commits walked
    parsed: int = 0           # blobs parsed (blob cache misses)
    rebuilt: bool = False     # the index was built from the root commit
    rewritten: bool = False   # ... because the indexed tip is not an ancestor of the new tip
    _tip_state: _TipState | None = field(default=None, repr=False)

    # -- building -----------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.tip, self.commits, self.files, self.versions, self._tip_state = None, [], {}, {}, None

    def _parse(self, git: GitSource, path: str, blob: str) -> tuple[dict[ObjectKey, str], bool]:
        """The identities a blob declares, each with the digest of its content, and whether part
        of the file could not be read at all (a document whose identity is unknown)."""
        result = git.parsed_blob(path, blob, self.default_namespace)
        out: dict[ObjectKey, str] = {}
        for m in result.manifests:
            out.setdefault(m.key, _digest(m.obj))
        for p in result.problems:
            if p.key is not None:
                out.setdefault(p.key, INVALID)
        return out, any(p.key is None for p in result.problems)

    def _state_at_tip(self, git: GitSource) -> _TipState:
        """Who declares what at the indexed tip (kept in memory; after a restart rebuilt from one
        parse per file at the tip, not from a walk of the history)."""
        if self._tip_state is None:
            state = _TipState()
            for path, blob in self.files.items():
                for key, digest in self._parse(git, path, blob)[0].items():
                    state.add(key, path, digest)
            self._tip_state = state
        return self._tip_state

    def _in_scope(self, git: GitSource, path: str | None) -> bool:
        return path is not None and git.in_paths(path)

    def _apply(self, git: GitSource, commit: CommitChanges, state: _TipState) -> None:
        seq = len(self.commits)
        self.commits.append({"sha": commit.sha, "author": commit.author, "email": commit.email,
                             "date": commit.date, "subject": commit.subject})
        touched: set[ObjectKey] = set()
        for path, new_blob in commit.files:
            self.files.pop(path, None)
            before = state.drop_file(path)       # what the file declared: no parse of the old blob
            touched |= before
            if new_blob is None:
                continue
            self.files[path] = new_blob
            declared, broken = self._parse(git, path, new_blob)
            if broken:
                # A document that does not parse at all may still hold the objects the file had:
                # they are unusable in this commit, not deleted (no removed-in-git for a typo).
                for key in before - declared.keys():
                    declared[key] = INVALID
            for key, digest in declared.items():
                state.add(key, path, digest)
                touched.add(key)
        for key in sorted(touched):
            where = state.holders.get(key)
            if where:
                # Declared twice at once (mid-move between files): the configured paths win, then
                # the first file by name, as the cycle's reading order would meet them.
                path = min(where, key=lambda p: (not self._in_scope(git, p), p))
                version = Version(seq, self.files[path], path, where[path])
            else:
                version = Version(seq, None, None, None)
            history = self.versions.setdefault(key, [])
            last = history[-1] if history else None
            if last is None:
                if not version.deleted:
                    history.append(version)
                else:
                    del self.versions[key]
            elif (last.digest != version.digest
                  or self._in_scope(git, last.path) != self._in_scope(git, version.path)):
                history.append(version)

    def update(self, git: GitSource, tip: str) -> None:
        """Index the first-parent history up to ``tip``: only the new commits when ``tip`` descends
        from the indexed tip along the first-parent chain, else from the root. Raises GitError; on
        any failure the index is emptied (the next update starts from the root)."""
        self.walked = self.parsed = 0
        self.rebuilt = self.rewritten = False
        if self.tip == tip:
            return
        before = git.parse_count
        try:
            new: list[CommitChanges] | None = None
            if self.tip is not None:
                if git.is_ancestor(self.tip, tip):
                    new = list(git.changes(tip, self.tip))
                    if new and new[0].parent != self.tip:
                        # The indexed tip was merged in as a second parent: the first-parent diffs
                        # do not start from the indexed state.
                        new = None
                else:
                    self.rewritten = True
            if new is None:
                self._reset()
                self.rebuilt = True
                new = list(git.changes(tip))
            state = self._state_at_tip(git)
            for commit in new:
                if commit.files:
                    self._apply(git, commit, state)
                self.walked += 1
            self.tip = tip
        except BaseException:
            self._reset()
            raise
        finally:
            self.parsed = git.parse_count - before

    # -- persistence --------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index atomically (a crash leaves the old file or the new one). Raises OSError."""
        data = {"format": INDEX_FORMAT, "source": self.source, "default_namespace": self.default_namespace,
                "paths": list(self.paths), "tip": self.tip, "commits": self.commits, "files": self.files,
                "versions": [[[k.group, k.kind, k.namespace, k.name], [[v.seq, v.blob, v.path, v.digest] for v in vs]]
                             for k, vs in self.versions.items()]}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, source: str, default_namespace: str | None,
             paths: tuple[str, ...] = (".",)) -> "ObjectHistory":
        """The saved index, or an empty one when there is none, it is unreadable, or it was built
        for another default namespace or other paths (identities and scope depend on them)."""
        fresh = cls(source, default_namespace, tuple(paths))
        try:
            data = json.loads(path.read_text())
            if (data.get("format") != INDEX_FORMAT or data.get("default_namespace") != default_namespace
                    or tuple(data.get("paths") or ()) != tuple(paths)):
                return fresh
            loaded = cls(source, default_namespace, tuple(paths), data["tip"], list(data["commits"]),
                         dict(data["files"]),
                         {ObjectKey(*k): [Version(*v) for v in vs] for k, vs in data["versions"]})
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return fresh
        return loaded

    # -- reading ------------------------------------------------------------------------------------

    def commit(self, seq: int) -> dict:
        return dict(self.commits[seq])

    def versions_of(self, key: ObjectKey) -> list[Version]:
        found = self.versions.get(key)
        if found is None and key.namespace is None:
            # A cluster-scoped live object: Git's copy may carry the source's default namespace.
            same = [vs for k, vs in self.versions.items() if (k.group, k.kind, k.name) == (key.group, key.kind, key.name)]
            found = same[0] if len(same) == 1 else None
        return found or []

    def content(self, git: GitSource, key: ObjectKey, version: Version) -> dict | None:
        """The object as ``version`` declares it (shared with the blob cache: do not change it)."""
        if version.blob is None or version.path is None:
            return None
        for m in git.parsed_blob(version.path, version.blob, self.default_namespace).manifests:
            if m.key == key or (key.namespace is None and (m.key.group, m.key.kind, m.key.name)
                                == (key.group, key.kind, key.name)):
                return m.obj
        return None

    def values(self, git: GitSource, key: ObjectKey, path: FieldPath) -> Iterator[tuple[Version, object]]:
        """(version, the value it declares at ``path`` or _ABSENT), newest first. Versions whose
        document could not be used say nothing about values and are left out."""
        for version in reversed(self.versions_of(key)):
            if version.digest == INVALID:
                continue
            obj = self.content(git, key, version)
            yield version, (get(obj, path) if obj is not None and has(obj, path) else _ABSENT)


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


class HistoryEvidence:
    """``classify``'s view of one source's history (the ``driftd.classify.HistoryEvidence`` protocol).
    Commits are dicts: sha, author, email, date (committer date, ISO UTC), subject."""

    def __init__(self, history: ObjectHistory, git: GitSource):
        self.history, self.git = history, git
        self.failures: list[str] = []       # blobs that could not be read while answering

    @staticmethod
    def _equal(same: Same, path: FieldPath, a: object, b: object) -> bool:
        if a is _ABSENT or b is _ABSENT:
            return a is b
        return same(path, a, b)

    def _runs(self, key: ObjectKey, path: FieldPath, same: Same) -> Iterator[tuple[object, Version, Version]]:
        """The object's values at ``path``, newest first, as runs of equal values: (value, the newest
        version of the run, the version that set it = the oldest of the run). Lazy: a question that
        is answered near the tip reads only the newest blobs. Raises GitError."""
        run: list | None = None
        for version, value in self.history.values(self.git, key, path):
            if run is not None and self._equal(same, path, run[0], value):
                run[2] = version
                continue
            if run is not None:
                yield run[0], run[1], run[2]
            run = [value, version, version]
        if run is not None:
            yield run[0], run[1], run[2]

    def _answer(self, question: Callable[[], object]):
        try:
            return question()
        except GitError as exc:
            self.failures.append(str(exc))
            return None

    def _commit(self, version: Version) -> dict:
        return self.history.commit(version.seq)

    def blame(self, key: ObjectKey, path: FieldPath, same: Same) -> dict | None:
        """The commit since which Git has declared, without a break, the value it declares now."""
        def ask() -> dict | None:
            first = next(self._runs(key, path, same), None)
            return None if first is None or first[0] is _ABSENT else self._commit(first[2])
        return self._answer(ask)

    def earlier_value(self, key: ObjectKey, path: FieldPath, value: object, same: Same) -> tuple[dict, dict] | None:
        """(the commit that set ``value`` at ``path`` the last time Git declared it, the commit after
        which Git no longer declared it), or None when Git never did before its current version (or
        declares it now)."""
        def ask() -> tuple[dict, dict] | None:
            newer = None
            for v, _newest, oldest in self._runs(key, path, same):
                if self._equal(same, path, v, value):
                    return None if newer is None else (self._commit(oldest), self._commit(newer))
                newer = oldest
            return None
        return self._answer(ask)

    def removed_field(self, key: ObjectKey, path: FieldPath, same: Same) -> tuple[dict, dict] | None:
        """(the commit that set the last value Git declared at ``path``, the commit that removed it),
        when Git declares the object now without ``path``."""
        def ask() -> tuple[dict, dict] | None:
            runs = self._runs(key, path, same)
            first, second = next(runs, None), next(runs, None)
            if first is None or first[0] is not _ABSENT or first[1].deleted or second is None:
                return None
            return self._commit(second[2]), self._commit(first[2])
        return self._answer(ask)

    def _declared(self, v: Version) -> bool:
        return not v.deleted and self.history._in_scope(self.git, v.path)

    def removed_object(self, key: ObjectKey) -> tuple[dict, dict, str | None] | None:
        """(the commit of the object's last version under the configured paths, the commit that
        deleted it or moved it out of them, the file it was moved to or None), when Git no longer
        declares it there."""
        versions = self.history.versions_of(key)
        if not versions or self._declared(versions[-1]):
            return None
        moved_to = None if versions[-1].deleted else versions[-1].path
        for i in range(len(versions) - 1, 0, -1):
            if self._declared(versions[i - 1]):
                return self._commit(versions[i - 1]), self._commit(versions[i]), moved_to
        return None

    def added_object(self, key: ObjectKey) -> dict | None:
        """The commit since which Git declares the object without a break (created, restored or moved
        into the configured paths), or None when history does not know it as declared."""
        versions = self.history.versions_of(key)
        if not versions or not self._declared(versions[-1]):
            return None
        first = versions[-1]
        for v in reversed(versions[:-1]):
            if not self._declared(v):
                break
            first = v
        return self._commit(first)


def index_path(state_dir: str | Path, source: str, origin: str = "") -> Path:
    """Where a source's history index lives: ``<state_dir>/history/<source>[-<hash>].json``. ``origin``
    (repository and branch) is part of the name: pointing a source at another repository, or two
    configs sharing a state folder with a source of one name, never reads another branch's index
    (which would look like a force push)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", source)
    if origin:
        name += "-" + hashlib.sha256(origin.encode()).hexdigest()[:12]
    return Path(state_dir) / "history" / (name + ".json")


__all__ = ["HistoryEvidence", "INVALID", "ObjectHistory", "Version", "index_path"]
