"""The Git edge: every git call of driftd lives here (docs/git.md).

A source is either a URL (``http(s)://``, ``ssh://``, ``git://``, ``file://``, ``git@host:path``),
kept as a bare repository under ``<state_dir>/repos/`` and fetched once per ``sync()``, or a local
path to a repository on disk, whose branch ref is read directly (its working tree and index are
never read or written).

Manifests are read from Git objects at a commit, never from a checkout. Each YAML blob is parsed
once per (blob, path, default namespace) and kept in a bounded LRU cache; callers get fresh copies of
the objects, so they may mutate what they receive.

A ``GitSource`` serialises its own calls with a lock; GitPython objects are not thread-safe.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError
from git.objects import Blob, Commit, Tree

from .config import SourceConfig
from .yamlload import LoadResult, Problem, load_manifests

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_TIMEOUT = 120.0
DEFAULT_CACHE_SIZE = 4096
_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
_SYMLINK_MODE = 0o120000
_SUBMODULE_MODE = 0o160000
_MAX_SYMLINK_HOPS = 8


class GitError(Exception):
    """Git cannot give what was asked. The message names the source's repository (URL without any
    password or token) and the cause."""


@dataclass
class GitSnapshot:
    commit: str                        # full sha of the branch tip used
    committed_at: str                  # committer date, ISO 8601 UTC "2026-12-03T19:29:34Z"
    author: str                        # author name
    subject: str                       # first line of the commit message
    stale: bool = False                # the remote could not be fetched: the last fetched commit is used
    fetch_error: str | None = None     # why, when stale
    history_rewritten: bool = False    # previous_commit is not an ancestor of commit (force push)
    previous_commit: str | None = None # as given to sync()


# ----------------------------------------------------------------------------- URLs and secrets


def is_url(repo: str) -> bool:
    return "://" in repo or bool(re.match(r"^[\w.-]+@[\w.-]+:", repo))


def redact_url(url: str) -> str:
    """The URL without a password; for http(s) a user name alone may be a token and is hidden too.
    ``git@host:path`` and ssh user names are kept (they are not secrets)."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    if has_password:
        userinfo = f"{user}:***"
    elif parts.scheme in ("http", "https"):
        userinfo = "***"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def _secrets_of(url: str) -> list[str]:
    if "://" not in url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rsplit("@", 1)[0]
    user, has_password, password = userinfo.partition(":")
    found = [password] if has_password else ([user] if parts.scheme in ("http", "https") else [])
    out = []
    for s in found:
        if len(s) >= 3:
            out += [s, unquote(s), quote(unquote(s), safe="")]
    return sorted(set(out), key=len, reverse=True)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "source"


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _norm_path(p: str) -> str:
    """A configured path as a path in the repository: "" is the root."""
    p = posixpath.normpath(p.replace("\\", "/").strip()).lstrip("/")
    return "" if p in (".", "") else p


def _copy(value):
    """Deep copy of plain YAML data (dict/list/scalars); faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _fresh(result: LoadResult) -> LoadResult:
    """A LoadResult the caller owns: new lists and a new obj per manifest (keys/problems are frozen)."""
    return LoadResult([replace(m, obj=_copy(m.obj)) for m in result.manifests], list(result.problems),
                      list(result.notices))


# ----------------------------------------------------------------------------- the source


@dataclass(frozen=True)
class CommitChanges:
    """One commit of the first-parent history and the YAML files it changed (``GitSource.changes``)."""
    sha: str
    parent: str | None
    author: str
    email: str
    date: str                                  # committer date, ISO UTC
    subject: str
    files: list[tuple[str, str | None]]        # (path, new blob sha or None when deleted)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill git and its helpers (git-remote-https holds the pipes too), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


class GitSource:
    """One configured source: ``sync()`` the branch, then ``manifests(commit)`` at the commit it gave."""

    def __init__(self, config: SourceConfig, state_dir: Path | str, *, timeout: float = DEFAULT_TIMEOUT,
                 cache_size: int = DEFAULT_CACHE_SIZE):
        self.config = config
        self.state_dir = Path(state_dir)
        self.timeout = float(timeout)
        self.cache_size = cache_size
        self.parse_count = 0          # blobs actually parsed (cache misses), for tests and metrics
        self.remote = is_url(config.repo)
        self.display = redact_url(config.repo)
        self._secrets = _secrets_of(config.repo)
        self._cache: OrderedDict[tuple[str, str, str | None], LoadResult] = OrderedDict()
        self._repo: git.Repo | None = None
        self._lock = threading.RLock()
        self.stop: Callable[[], bool] = lambda: False   # set by the cycle: the daemon is stopping

    # -- places

    @property
    def repo_dir(self) -> Path:
        """Where the repository is read from: the bare clone of a URL, or the configured local path."""
        if not self.remote:
            return Path(self.config.repo)
        digest = hashlib.sha256(self.display.encode()).hexdigest()[:10]
        return self.state_dir / "repos" / f"{_safe_name(self.config.name)}-{digest}"

    @property
    def branch(self) -> str:
        b = self.config.branch
        return b[len("refs/heads/"):] if b.startswith("refs/heads/") else b

    @property
    def tracking_ref(self) -> str:
        """The ref holding the branch tip that sync() reads."""
        b = self.branch
        return f"refs/remotes/origin/{b}" if self.remote else f"refs/heads/{b}"

    @property
    def repo(self) -> git.Repo:
        """The GitPython repository (opened on first use), for driftd's own Git readers (history)."""
        with self._lock:
            if self._repo is None:
                self._repo = self._open()
            return self._repo

    def close(self) -> None:
        """Stop the git cat-file processes GitPython keeps per repository."""
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    def __enter__(self) -> GitSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- errors

    def _scrub(self, text: str) -> str:
        if self.config.repo:
            text = text.replace(self.config.repo, self.display)
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    def _error(self, cause: str) -> GitError:
        return GitError(f"git source {self.config.name!r} ({self.display}): {self._scrub(cause)}")

    # -- opening

    def _open(self) -> git.Repo:
        if not self.remote:
            try:
                return git.Repo(self.config.repo)
            except NoSuchPathError:
                raise self._error("no such directory") from None
            except InvalidGitRepositoryError:
                raise self._error("not a Git repository") from None
        path = self.repo_dir
        if path.exists():
            try:
                repo = git.Repo(path)
                if repo.bare:
                    self._set_remote_url(repo)
                    return repo
                repo.close()
            except (InvalidGitRepositoryError, NoSuchPathError):
                pass
            shutil.rmtree(path)  # our own folder, but unusable: start again
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            repo = git.Repo.init(path, bare=True)
        except (GitCommandError, OSError) as exc:
            raise self._error(f"cannot create the local clone in {path}: {exc}") from None
        self._set_remote_url(repo)
        return repo

    def _set_remote_url(self, repo: git.Repo) -> None:
        # Written to the config file by GitPython (no git command line shows the URL).
        with repo.config_writer() as cw:
            section = 'remote "origin"'
            if not cw.has_section(section):
                cw.add_section(section)
            if not cw.has_option(section, "url") or cw.get_value(section, "url") != self.config.repo:
                cw.set_value(section, "url", self.config.repo)

    # -- running network commands

    def _network(self, *args: str) -> tuple[int, str, str]:
        """A git command that talks to the remote: no prompts, aborted when stalled, killed at the
        timeout, and killed at once when ``self.stop()`` says the daemon is stopping (a hung remote
        must not hold up SIGTERM until systemd kills the process and the run is lost)."""
        low_speed_time = max(1, min(60, int(self.timeout / 2)))
        cmd = [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git",
               "-c", "http.lowSpeedLimit=1", "-c", f"http.lowSpeedTime={low_speed_time}",
               *args]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
        proc = subprocess.Popen(cmd, cwd=self.repo.git_dir, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)   # a terminal's Ctrl-C reaches driftd, which ends git
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                out, err = proc.communicate(timeout=0.2)
                return proc.returncode, out.rstrip("\n"), err
            except subprocess.TimeoutExpired:
                stopping = self.stop()
                if stopping or time.monotonic() > deadline:
                    _kill_group(proc)
                    why = "driftd is stopping" if stopping else f"no answer within {self.timeout:g} s"
                    return -9, "", f"{why} (git {args[0]} stopped)"
            except BaseException:
                _kill_group(proc)   # KeyboardInterrupt: never leave git behind
                raise

    @staticmethod
    def _cause(stderr: str, status: int) -> str:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        main = [ln for ln in lines if ln.lower().startswith(("fatal:", "error:"))] or lines[-2:]
        main = [re.sub(r"^(fatal|error):\s*", "", ln, flags=re.I) for ln in main]
        return "; ".join(dict.fromkeys(main)) or f"git exited with status {status}"

    def _remote_branches(self) -> list[str] | None:
        status, out, _ = self._network("ls-remote", "--heads", "origin")
        if status != 0:
            return None
        return sorted(line.split("refs/heads/", 1)[1] for line in out.splitlines() if "refs/heads/" in line)

    def _missing_branch(self, branches: list[str] | None) -> GitError:
        listed = ", ".join(branches) if branches else "none"
        known = f"existing branches: {listed}" if branches is not None else "the branches could not be listed"
        return self._error(f"branch {self.branch!r} does not exist ({known})")

    # -- sync

    def sync(self, previous_commit: str | None = None) -> GitSnapshot:
        """The branch tip now: fetched for a URL (stale when the fetch fails and a clone exists), read
        from the ref for a local path. Raises GitError when no commit can be given."""
        with self._lock:
            stale, fetch_error = False, None
            repo = self.repo
            if self.remote:
                status, _, err = self._network("fetch", "--no-tags", "origin",
                                               f"+refs/heads/{self.branch}:{self.tracking_ref}")
                if status != 0:
                    if "couldn't find remote ref" in err:
                        raise self._missing_branch(self._remote_branches())
                    fetch_error = self._error(f"fetch failed: {self._cause(err, status)}")
                    if self._tip(repo) is None:
                        raise self._error(f"cannot clone: {self._cause(err, status)}")
                    stale = True
            tip = self._tip(repo)
            if tip is None:
                raise self._missing_branch(sorted(h.name for h in repo.heads))
            return GitSnapshot(
                commit=tip.hexsha, committed_at=_iso(tip.committed_date), author=tip.author.name or "",
                subject=tip.summary if isinstance(tip.summary, str) else tip.summary.decode("utf-8", "replace"),
                stale=stale, fetch_error=str(fetch_error) if fetch_error else None,
                history_rewritten=self._rewritten(repo, previous_commit, tip.hexsha),
                previous_commit=previous_commit)

    def _tip(self, repo: git.Repo) -> Commit | None:
        try:
            return repo.commit(self.tracking_ref)
        except (BadName, ValueError, GitCommandError):
            return None

    def _has_commit(self, repo: git.Repo, sha: str) -> bool:
        if not _SHA.match(sha):
            return False
        try:
            repo.git.cat_file("-e", f"{sha}^{{commit}}")
            return True
        except GitCommandError:
            return False

    def _rewritten(self, repo: git.Repo, previous: str | None, tip: str) -> bool:
        if not previous or previous == tip:
            return False
        if not self._has_commit(repo, previous):
            return True
        try:
            return not repo.is_ancestor(previous, tip)
        except GitCommandError:
            return True

    # -- reading commits

    def _commit(self, sha: str) -> Commit:
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise self._error(f"{sha!r} is not a commit sha")
        try:
            full = self.repo.git.rev_parse("--verify", "--quiet", f"{sha}^{{commit}}")
        except GitCommandError:
            raise self._error(f"commit {sha} is not in the repository") from None
        return self.repo.commit(full)

    def commit_info(self, sha: str) -> dict:
        """sha, author, email, date (committer date, ISO UTC) and subject of a commit, for evidence."""
        with self._lock:
            c = self._commit(sha)
            return {"sha": c.hexsha, "author": c.author.name or "", "email": c.author.email or "",
                    "date": _iso(c.committed_date), "subject": c.summary if isinstance(c.summary, str)
                    else c.summary.decode("utf-8", "replace")}

    def yaml_blobs(self, commit: str) -> tuple[list[tuple[str, Blob]], list[Problem], list[str]]:
        """The (path in repo, blob) of every YAML file under the configured paths at a commit, sorted
        by path and each once; a problem for each configured path that does not exist there."""
        with self._lock:
            c = self._commit(commit)
            root = c.tree
            files: dict[str, Blob] = {}
            problems: list[Problem] = []
            notices: list[str] = []
            for configured in self.config.paths:
                p = _norm_path(configured)
                try:
                    item = root / p if p else root
                except KeyError:
                    problems.append(Problem(configured, (), f"path {configured!r} does not exist at commit {c.hexsha[:12]}"))
                    continue
                if isinstance(item, Tree):
                    for obj in item.traverse():
                        if isinstance(obj, Blob) and obj.path.endswith(YAML_SUFFIXES):
                            self._add_blob(root, obj, files, notices)
                elif isinstance(item, Blob):  # a file named in paths is read whatever its suffix
                    self._add_blob(root, item, files, notices)
                else:
                    notices.append(f"{p}: skipped: a submodule, not a folder of the repository")
            return sorted(files.items()), problems, notices

    def _add_blob(self, root: Tree, blob: Blob, files: dict[str, Blob], notices: list[str]) -> None:
        if blob.mode == _SUBMODULE_MODE or blob.path in files:
            return
        if blob.mode != _SYMLINK_MODE:
            files[blob.path] = blob
            return
        target = self._follow(root, blob)
        if target is None:
            notices.append(f"{blob.path}: skipped: a symbolic link that does not lead to a file in the repository")
        else:
            files[blob.path] = target

    @staticmethod
    def _follow(root: Tree, link: Blob) -> Blob | None:
        path, obj = link.path, link
        for _ in range(_MAX_SYMLINK_HOPS):
            target = obj.data_stream.read().decode("utf-8", "replace")
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            if posixpath.isabs(target) or path.startswith(".."):
                return None
            try:
                obj = root / path
            except KeyError:
                return None
            if not isinstance(obj, Blob):
                return None
            if obj.mode != _SYMLINK_MODE:
                return obj
        return None

    def load_blob(self, path: str, blob: Blob, default_namespace: str | None) -> LoadResult:
        """The manifests of one blob, read as file ``path``; parsed once per (blob, path, namespace)."""
        with self._lock:
            return _fresh(self._parsed(path, blob, default_namespace))

    def _parsed(self, path: str, blob: Blob, default_namespace: str | None) -> LoadResult:
        key = (blob.hexsha, path, default_namespace)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        result = load_manifests(blob.data_stream.read(), path, default_namespace)
        self.parse_count += 1
        self._cache[key] = result
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def parsed_blob(self, path: str, blob_sha: str, default_namespace: str | None) -> LoadResult:
        """Like ``load_blob``, by blob id and without copying: the caller must not change the result
        (the history index reads many old blobs and keeps none of their objects)."""
        with self._lock:
            try:
                blob = Blob(self.repo, bytes.fromhex(blob_sha), mode=0o100644, path=path)
                return self._parsed(path, blob, default_namespace)
            except (ValueError, GitCommandError, OSError) as exc:
                raise self._error(f"cannot read blob {blob_sha} ({path}): {exc}") from exc

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when ``older`` is ``newer`` or one of its ancestors; False when ``older`` is not in
        the repository at all (a force push, then a fresh clone)."""
        if older == newer:
            return True
        with self._lock:
            try:
                return self._has_commit(self.repo, older) and self.repo.is_ancestor(older, newer)
            except GitCommandError as exc:
                raise self._error(f"cannot compare commits {older[:12]} and {newer[:12]}: {exc}") from exc

    def in_paths(self, path: str) -> bool:
        """Whether a file of the repository is under one of the configured paths."""
        for configured in self.config.paths:
            p = _norm_path(configured)
            if not p or path == p or path.startswith(p + "/"):
                return True
        return False

    def changes(self, tip: str, since: str | None = None) -> Iterator[CommitChanges]:
        """The first-parent history from ``since`` (exclusive; None: the root) to ``tip``, oldest
        first: every commit, each with the *.yaml/*.yml files anywhere in the repository that it
        added, changed or deleted relative to its first parent (a merge: what it brought in). The
        whole repository, not only the configured paths: folders get reorganised (the seed's
        repository moved its specs from ``tkgs/`` to ``prod/``) and an object's history goes with
        it. One ``git log`` process; symbolic links and submodules count as no file."""
        spec = f"{since}..{tip}" if since else tip
        # The user's git config must not change what is parsed (signatures, colour, relative paths).
        args = ["-c", "log.showSignature=false", "log", "--no-color", "--no-relative", "--first-parent",
                "--diff-merges=first-parent", "--reverse", "--raw", "--no-renames", "--no-abbrev", "-z",
                "--format=%x01%H%x02%P%x02%an%x02%ae%x02%ct%x02%s", spec, "--"]
        with self._lock:
            cwd = self.repo.git_dir
            try:
                proc = subprocess.run([git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", *args], cwd=cwd,
                                      capture_output=True, timeout=self.timeout)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise self._error(f"git log {spec}: {exc}") from exc
        if proc.returncode != 0:
            raise self._error(f"git log {spec}: {self._cause(proc.stderr.decode('utf-8', 'replace'), proc.returncode)}")
        for record in proc.stdout.decode("utf-8", "replace").split("\x01")[1:]:
            header, _, raw = record.partition("\x00")
            sha, parents, author, email, ts, subject = header.split("\x02", 5)
            files: list[tuple[str, str | None]] = []
            raw = raw.strip("\x00\n")
            fields = raw.split("\x00") if raw else []
            # --raw -z: ":<old mode> <new mode> <old blob> <new blob> <status>" NUL <path> NUL
            for meta, path in zip(fields[0::2], fields[1::2]):
                parts = meta.lstrip(":").split()
                if len(parts) < 5 or not path.endswith(YAML_SUFFIXES):
                    continue
                regular = parts[1] in ("100644", "100755")
                deleted = parts[4].startswith("D") or set(parts[3]) == {"0"}
                files.append((path, parts[3] if regular and not deleted else None))
            yield CommitChanges(sha, parents.split()[0] if parents else None, author, email, _iso(int(ts)),
                                subject, files)

    def manifests(self, commit: str, default_namespace: str | None = None) -> LoadResult:
        """Every manifest in the *.yaml/*.yml files under the configured paths at ``commit``. ``file``
        is the path in the repository. The result belongs to the caller (fresh copies)."""
        with self._lock:
            try:
                files, problems, notices = self.yaml_blobs(commit)
                total = LoadResult(problems=problems, notices=notices)
                for path, blob in files:
                    part = self._parsed(path, blob, default_namespace)
                    total.manifests += [replace(m, obj=_copy(m.obj)) for m in part.manifests]
                    total.problems += part.problems
                    total.notices += part.notices
            except (ValueError, GitCommandError, OSError) as exc:  # a damaged object database
                raise self._error(f"cannot read commit {commit}: {exc}") from exc
            return total


__all__ = ["CommitChanges", "GitError", "GitSnapshot", "GitSource", "is_url", "redact_url"]
