"""Git history of every object, followed by identity: which commit set a value, changed it, removed it.

``ObjectHistory`` keeps, per object identity (group, kind, namespace, name), the versions Git held
along the branch's first-parent history: a new version only where the object's content changed, so
moving a file, or an object between files, is no new version (the seed's repository moved its specs
from ``tkgs/`` to ``prod/``). Deleting and restoring an object are versions too.

Cost: each blob is parsed once (``GitSource.parsed_blob`` caches by blob id), the index is saved
in the state folder, and a warm cycle walks only the commits since the last indexed tip. A history
rewrite (force push) rebuilds the index from the new history.

It answers the questions ``classify`` asks (``HistoryEvidence``): at which earlier commit did Git
declare the live value, which commit changed it since, which commit last set (blame) or removed it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .gitsource import CommitChanges, GitError, GitSource
from .model import ObjectKey
from .paths import Path as FieldPath
from .paths import get, has

Same = Callable[..., bool]
INDEX_VERSION = 1
_ABSENT = object()


@dataclass(frozen=True)
class Version:
    seq: int                  # index into ObjectHistory.commits
    blob: str | None          # where the object was declared (None: deleted in this commit)
    path: str | None
    digest: str | None        # content hash (None: deleted; "invalid": the document did not parse)


@dataclass
class ObjectHistory:
    source: str
    default_namespace: str | None
    tip: str | None = None
    commits: list[dict] = field(default_factory=list)             # {sha, author, email, date, subject}
    files: dict[str, str] = field(default_factory=dict)           # path -> blob at tip
    versions: dict[ObjectKey, list[Version]] = field(default_factory=dict)
    rebuilt: bool = False                                         # the last update walked everything
    walked: int = 0                                               # commits walked by the last update

    # -- building -----------------------------------------------------------------------------------

    def _parse(self, git: GitSource, path: str, blob: str) -> dict[ObjectKey, str]:
        result = git.parsed_blob(path, blob, self.default_namespace)
        out: dict[ObjectKey, str] = {}
        for m in result.manifests:
            out.setdefault(m.key, _digest(m.obj))
        for p in result.problems:
            if p.key is not None:
                out.setdefault(p.key, "invalid")
        return out

    def _apply(self, git: GitSource, commit: CommitChanges, holders: dict[ObjectKey, dict[str, str]]) -> None:
        seq = len(self.commits)
        self.commits.append({"sha": commit.sha, "author": commit.author, "email": commit.email,
                             "date": commit.date, "subject": commit.subject})
        touched: set[ObjectKey] = set()
        for path, new_blob in commit.files:
            old_blob = self.files.pop(path, None)
            if old_blob is not None:
                for key in self._parse(git, path, old_blob):
                    holders.get(key, {}).pop(path, None)
                    touched.add(key)
            if new_blob is not None:
                self.files[path] = new_blob
                for key, digest in self._parse(git, path, new_blob).items():
                    holders.setdefault(key, {})[path] = digest
                    touched.add(key)
        for key in touched:
            where = holders.get(key) or {}
            history = self.versions.setdefault(key, [])
            last = history[-1] if history else None
            if where:
                path = min(where)
                version = Version(seq, self.files[path], path, where[path])
            else:
                version = Version(seq, None, None, None)
            if last is None and version.digest is None:
                continue
            if last is None or last.digest != version.digest:
                history.append(version)

    def _holders(self, git: GitSource) -> dict[ObjectKey, dict[str, str]]:
        holders: dict[ObjectKey, dict[str, str]] = {}
        for path, blob in self.files.items():
            for key, digest in self._parse(git, path, blob).items():
                holders.setdefault(key, {})[path] = digest
        return holders

    def update(self, git: GitSource, tip: str) -> None:
        """Index the commits up to ``tip``: only the new ones when ``tip`` descends from the indexed tip."""
        self.rebuilt, self.walked = False, 0
        if self.tip == tip:
            return
        incremental = self.tip is not None and git.is_ancestor(self.tip, tip)
        if not incremental:
            self.commits, self.files, self.versions, self.tip, self.rebuilt = [], {}, {}, None, True
        holders = self._holders(git) if incremental else {}
        for commit in git.changes(tip, self.tip):
            if incremental and self.walked == 0 and not git.is_ancestor(self.tip, commit.parent or ""):
                # The first-parent chain does not pass through the indexed tip (a merge with the old
                # tip as second parent): the diffs do not apply to the indexed state; start over.
                self.tip = None
                self.update(git, tip)
                return
            self._apply(git, commit, holders)
            self.walked += 1
        self.tip = tip

    # -- persistence --------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        data = {"format": INDEX_VERSION, "source": self.source, "default_namespace": self.default_namespace,
                "tip": self.tip, "commits": self.commits, "files": self.files,
                "versions": [[list(_key_tuple(k)), [[v.seq, v.blob, v.path, v.digest] for v in vs]]
                             for k, vs in self.versions.items()]}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, source: str, default_namespace: str | None) -> "ObjectHistory":
        fresh = cls(source, default_namespace)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return fresh
        if data.get("format") != INDEX_VERSION or data.get("default_namespace") != default_namespace:
            return fresh
        fresh.tip, fresh.commits, fresh.files = data["tip"], data["commits"], data["files"]
        fresh.versions = {ObjectKey(*k): [Version(*v) for v in vs] for k, vs in data["versions"]}
        return fresh

    # -- questions ----------------------------------------------------------------------------------

    def commit(self, seq: int) -> dict:
        return dict(self.commits[seq])

    def content(self, git: GitSource, key: ObjectKey, version: Version) -> dict | None:
        if version.blob is None or version.path is None:
            return None
        for m in git.parsed_blob(version.path, version.blob, self.default_namespace).manifests:
            if m.key == key:
                return m.obj
        return None

    def _values(self, git: GitSource, key: ObjectKey, path: FieldPath):
        """(version, value at path or _ABSENT), newest first; deleted versions give _ABSENT."""
        for version in reversed(self.versions.get(key, [])):
            obj = self.content(git, key, version)
            yield version, (get(obj, path) if obj is not None and has(obj, path) else _ABSENT)


def _key_tuple(key: ObjectKey) -> tuple:
    return (key.group, key.kind, key.namespace, key.name)


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


class HistoryEvidence:
    """``classify``'s view of one source's history (the ``driftd.classify.HistoryEvidence`` protocol)."""

    def __init__(self, history: ObjectHistory, git: GitSource):
        self.history, self.git = history, git

    @staticmethod
    def _equal(same: Same, path: FieldPath, a: object, b: object) -> bool:
        if a is _ABSENT or b is _ABSENT:
            return a is b
        return same(path, a, b)

    def blame(self, key: ObjectKey, path: FieldPath, same: Same) -> dict | None:
        """The commit that last set the value Git declares now at ``path``."""
        newest = None
        for version, value in self.history._values(self.git, key, path):
            if newest is not None and not self._equal(same, path, value, newest[1]):
                break
            newest = (version, value)
        return self.history.commit(newest[0].seq) if newest else None

    def earlier_value(self, key: ObjectKey, path: FieldPath, value: object, same: Same) -> tuple[dict, dict] | None:
        """(commit where Git last declared ``value`` at ``path``, commit that changed it since), or None
        when Git never declared that value for this object before its current version."""
        later = None
        for version, v in self.history._values(self.git, key, path):
            if not self._equal(same, path, v, value):
                later = version          # the oldest version so far that no longer has ``value``
            elif later is None:
                return None              # the current version declares it: no drift here
            else:
                return self.history.commit(version.seq), self.history.commit(later.seq)
        return None

    def removed_field(self, key: ObjectKey, path: FieldPath, same: Same) -> tuple[dict, dict] | None:
        """(commit that last declared ``path``, commit that removed it), when Git no longer declares it."""
        removed = None
        for version, v in self.history._values(self.git, key, path):
            if v is _ABSENT:
                removed = version
            elif removed is None:
                return None
            else:
                return self.history.commit(version.seq), self.history.commit(removed.seq)
        return None

    def removed_object(self, key: ObjectKey) -> tuple[dict, dict] | None:
        """(commit that last declared the object, commit that deleted it), when Git no longer does."""
        versions = self.history.versions.get(key) or []
        if len(versions) >= 2 and versions[-1].blob is None:
            return self.history.commit(versions[-2].seq), self.history.commit(versions[-1].seq)
        return None


def index_path(state_dir: str | Path, source: str) -> Path:
    return Path(state_dir) / "history" / (re.sub(r"[^A-Za-z0-9._-]+", "_", source) + ".json")


def load_history(git: GitSource, state_dir: str | Path, source: str, default_namespace: str | None,
                 tip: str) -> ObjectHistory:
    """The history index of a source brought up to ``tip`` (and saved). Raises GitError."""
    path = index_path(state_dir, source)
    history = ObjectHistory.load(path, source, default_namespace)
    history.update(git, tip)
    if history.walked or history.rebuilt:
        try:
            history.save(path)
        except OSError:
            pass  # a cache: the next cycle walks again
    return history


__all__ = ["ObjectHistory", "HistoryEvidence", "Version", "load_history", "index_path", "GitError"]
