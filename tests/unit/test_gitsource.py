"""driftd.gitsource against real Git repositories made in tmp_path (no mocks)."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import git
import pytest

from driftd.config import SourceConfig
from driftd.gitsource import GitError, GitSource, redact_url


def cm(name: str, ns: str | None = None, data: str = "1") -> str:
    meta = f"  name: {name}\n" + (f"  namespace: {ns}\n" if ns else "")
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n{meta}data:\n  k: \"{data}\"\n"


def make_repo(path: Path, branch: str = "main") -> git.Repo:
    repo = git.Repo.init(path, initial_branch=branch)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Ada Tester")
        cw.set_value("user", "email", "ada@example.com")
        cw.set_value("commit", "gpgsign", "false")
    return repo


def commit(repo: git.Repo, files: dict[str, str | None], message: str) -> str:
    root = Path(repo.working_tree_dir)
    for name, text in files.items():
        p = root / name
        if text is None:
            repo.index.remove([name], working_tree=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        repo.index.add([name])
    return repo.index.commit(message).hexsha


def source(repo: str | Path, paths=(".",), branch="main", name="apps", namespace=None) -> SourceConfig:
    return SourceConfig(name=name, repo=str(repo), cluster="c1", branch=branch, paths=tuple(paths),
                        namespace=namespace)


def names(result) -> list[tuple[str, str]]:
    return sorted((m.file, m.obj["metadata"]["name"]) for m in result.manifests)


@pytest.fixture
def work(tmp_path):
    repo = make_repo(tmp_path / "work")
    first = commit(repo, {
        "prod/app.yaml": cm("app") + "---\n" + cm("app2", "other"),
        "prod/deep/nested/db.yml": cm("db"),
        "staging/app.yaml": cm("app-staging"),
        "README.md": "# not yaml\napiVersion: v1\n",
        "prod/notes.txt": cm("ignored"),
    }, "first")
    return repo, first


# ----------------------------------------------------------------------------- local path


def test_local_repo_whole_tree(work, tmp_path):
    repo, first = work
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    snap = src.sync()
    assert snap.commit == first and not snap.stale and not snap.history_rewritten
    assert snap.author == "Ada Tester" and snap.subject == "first"
    assert snap.committed_at.endswith("Z") and "T" in snap.committed_at
    result = src.manifests(snap.commit, "default")
    assert names(result) == [("prod/app.yaml", "app"), ("prod/app.yaml", "app2"),
                             ("prod/deep/nested/db.yml", "db"), ("staging/app.yaml", "app-staging")]
    assert not result.problems
    keys = {m.obj["metadata"]["name"]: m.key for m in result.manifests}
    assert keys["app"].namespace == "default" and keys["app2"].namespace == "other"
    second = next(m for m in result.manifests if m.obj["metadata"]["name"] == "app2")
    assert second.line == 8   # line in the file, as load_manifests gives it
    assert not (tmp_path / "state" / "repos").exists()  # a local path is never cloned


def test_paths_restrict(work, tmp_path):
    repo, _ = work
    src = GitSource(source(repo.working_tree_dir, paths=["prod/"]), tmp_path / "state")
    result = src.manifests(src.sync().commit, None)
    assert names(result) == [("prod/app.yaml", "app"), ("prod/app.yaml", "app2"), ("prod/deep/nested/db.yml", "db")]


def test_overlapping_paths_read_each_file_once_and_a_named_file_is_read(work, tmp_path):
    repo, _ = work
    src = GitSource(source(repo.working_tree_dir, paths=["prod", "prod/deep", "./staging/app.yaml"]),
                    tmp_path / "state")
    result = src.manifests(src.sync().commit, None)
    assert names(result) == [("prod/app.yaml", "app"), ("prod/app.yaml", "app2"),
                             ("prod/deep/nested/db.yml", "db"), ("staging/app.yaml", "app-staging")]


def test_missing_configured_path_is_a_problem(work, tmp_path):
    repo, _ = work
    src = GitSource(source(repo.working_tree_dir, paths=["prod", "nope"]), tmp_path / "state")
    result = src.manifests(src.sync().commit, None)
    assert len(result.manifests) == 3
    [problem] = result.problems
    assert problem.file == "nope" and "does not exist" in problem.message and problem.key is None


def test_bad_yaml_names_file_and_line_and_others_still_load(work, tmp_path):
    repo, _ = work
    commit(repo, {"prod/bad.yaml": cm("good-before") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                   "  name: broken\ndata:\n  k: [unclosed\n"}, "bad")
    src = GitSource(source(repo.working_tree_dir, paths=["prod"]), tmp_path / "state")
    result = src.manifests(src.sync().commit, None)
    assert [p.file for p in result.problems] == ["prod/bad.yaml"]
    assert result.problems[0].lines[0] >= 13
    assert ("prod/bad.yaml", "good-before") in names(result)
    assert ("prod/app.yaml", "app") in names(result) and ("prod/deep/nested/db.yml", "db") in names(result)


def test_working_tree_and_index_never_touched(work, tmp_path):
    repo, first = work
    root = Path(repo.working_tree_dir)
    (root / "prod/app.yaml").write_text(cm("dirty"))                 # modified, not committed
    (root / "prod/untracked.yaml").write_text(cm("untracked"))       # never added
    (root / "staging/app.yaml").write_text(cm("staged"))
    repo.index.add(["staging/app.yaml"])                              # staged, not committed
    index_before = (root / ".git/index").read_bytes()
    src = GitSource(source(root), tmp_path / "state")
    result = src.manifests(src.sync().commit, None)
    got = {n for _, n in names(result)}
    assert {"app", "app2", "app-staging"} <= got and not got & {"dirty", "untracked", "staged"}
    assert (root / "prod/app.yaml").read_text() == cm("dirty")
    assert (root / ".git/index").read_bytes() == index_before
    assert repo.head.commit.hexsha == first


def test_branch_other_than_checked_out(work, tmp_path):
    repo, first = work
    repo.git.checkout("-b", "feature")
    commit(repo, {"prod/feature.yaml": cm("feature")}, "on feature")
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    snap = src.sync()
    assert snap.commit == first  # main, not the checked-out feature branch
    assert "feature" not in {n for _, n in names(src.manifests(snap.commit, None))}


def test_missing_branch_lists_existing(work, tmp_path):
    repo, _ = work
    repo.create_head("dev")
    src = GitSource(source(repo.working_tree_dir, branch="prod"), tmp_path / "state")
    with pytest.raises(GitError) as err:
        src.sync()
    msg = str(err.value)
    assert "'prod'" in msg and "dev, main" in msg and str(repo.working_tree_dir) in msg


def test_not_a_repository(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError, match="not a Git repository"):
        GitSource(source(tmp_path / "plain"), tmp_path / "state").sync()
    with pytest.raises(GitError, match="no such directory"):
        GitSource(source(tmp_path / "absent"), tmp_path / "state").sync()


def test_unknown_commit(work, tmp_path):
    repo, _ = work
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    with pytest.raises(GitError, match="not in the repository"):
        src.manifests("0" * 40, None)
    with pytest.raises(GitError, match="not a commit sha"):
        src.manifests("--output=/tmp/x", None)


def test_commit_info(work, tmp_path):
    repo, first = work
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    info = src.commit_info(first[:10])
    assert info["sha"] == first and info["author"] == "Ada Tester" and info["email"] == "ada@example.com"
    assert info["subject"] == "first" and info["date"].endswith("Z")


def test_force_push_on_local_branch(work, tmp_path):
    repo, first = work
    second = commit(repo, {"prod/x.yaml": cm("x")}, "second")
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    assert not src.sync(first).history_rewritten          # fast-forward
    assert not src.sync(second).history_rewritten         # unchanged
    repo.git.reset("--hard", first)
    commit(repo, {"prod/y.yaml": cm("y")}, "rewritten")
    snap = src.sync(second)
    assert snap.history_rewritten and snap.previous_commit == second
    assert src.sync("f" * 40).history_rewritten           # not even in the object database


def test_symlink_to_a_file_is_followed(tmp_path):
    repo = make_repo(tmp_path / "work")
    root = Path(repo.working_tree_dir)
    (root / "base").mkdir()
    (root / "base/cm.yaml").write_text(cm("shared"))
    (root / "prod").mkdir()
    (root / "prod/cm.yaml").symlink_to("../base/cm.yaml")
    (root / "prod/out.yaml").symlink_to("../../outside.yaml")
    repo.index.add(["base/cm.yaml", "prod/cm.yaml", "prod/out.yaml"])
    repo.index.commit("links")
    src = GitSource(source(root, paths=["prod"]), tmp_path / "state")
    result = src.manifests(src.sync().commit, None)
    assert names(result) == [("prod/cm.yaml", "shared")]
    assert any("prod/out.yaml" in n for n in result.notices)


# ----------------------------------------------------------------------------- blob cache


def test_unchanged_blob_parsed_once(work, tmp_path):
    repo, first = work
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    src.manifests(first, None)
    assert src.parse_count == 3                        # three YAML files
    second = commit(repo, {"prod/app.yaml": cm("app", data="2")}, "change one file")
    result = src.manifests(second, None)
    assert src.parse_count == 4                        # only the changed file
    assert len(result.manifests) == 3
    src.manifests(first, None)
    assert src.parse_count == 4
    src.manifests(first, "other-namespace")            # keys depend on the default namespace
    assert src.parse_count == 7


def test_callers_may_mutate_results(work, tmp_path):
    repo, first = work
    src = GitSource(source(repo.working_tree_dir), tmp_path / "state")
    a = src.manifests(first, None)
    a.manifests[0].obj["metadata"]["name"] = "changed"
    a.manifests[0].obj["data"]["k"] = "changed"
    a.manifests.clear()
    b = src.manifests(first, None)
    assert names(b)[0] == ("prod/app.yaml", "app") and b.manifests[0].obj["data"]["k"] == "1"


# ----------------------------------------------------------------------------- remote (file://)


@pytest.fixture
def remote(tmp_path, work):
    repo, first = work
    bare = tmp_path / "remote.git"
    git.Repo.clone_from(repo.working_tree_dir, bare, bare=True)
    repo.create_remote("upstream", str(bare))
    return repo, bare, first


def test_remote_clone_fetch_stale(remote, tmp_path):
    repo, bare, first = remote
    state = tmp_path / "state"
    src = GitSource(source(bare.as_uri(), paths=["prod"], name="my apps/prod"), state, timeout=20)
    snap = src.sync()
    assert snap.commit == first and not snap.stale and snap.fetch_error is None
    assert src.repo_dir.parent == state / "repos" and src.repo_dir.name.startswith("my_apps_prod-")
    assert git.Repo(src.repo_dir).bare
    assert names(src.manifests(snap.commit, None))[0] == ("prod/app.yaml", "app")

    second = commit(repo, {"prod/new.yaml": cm("new")}, "second")
    repo.git.push("upstream", "main")
    snap = src.sync(first)
    assert snap.commit == second and not snap.history_rewritten
    assert ("prod/new.yaml", "new") in names(src.manifests(second, None))

    shutil.move(bare, tmp_path / "moved.git")
    snap = src.sync(second)
    assert snap.stale and snap.commit == second
    assert bare.as_uri() in snap.fetch_error and "fetch failed" in snap.fetch_error
    assert ("prod/new.yaml", "new") in names(src.manifests(snap.commit, None))

    # a new GitSource finds the clone of the earlier one (the daemon restarted)
    again = GitSource(source(bare.as_uri(), paths=["prod"], name="my apps/prod"), state, timeout=20)
    assert again.sync().stale


def test_remote_unreachable_without_clone(tmp_path):
    src = GitSource(source((tmp_path / "nowhere.git").as_uri()), tmp_path / "state", timeout=20)
    with pytest.raises(GitError) as err:
        src.sync()
    assert (tmp_path / "nowhere.git").as_uri() in str(err.value) and "cannot clone" in str(err.value)


def test_remote_force_push(remote, tmp_path):
    repo, bare, first = remote
    second = commit(repo, {"prod/x.yaml": cm("x")}, "second")
    repo.git.push("upstream", "main")
    src = GitSource(source(bare.as_uri()), tmp_path / "state", timeout=20)
    assert src.sync().commit == second
    repo.git.reset("--hard", first)
    other = commit(repo, {"prod/y.yaml": cm("y")}, "instead of second")
    repo.git.push("--force", "upstream", "main")
    snap = src.sync(second)
    assert snap.commit == other and snap.history_rewritten and snap.previous_commit == second
    assert not src.sync(other).history_rewritten


def test_remote_missing_branch(remote, tmp_path):
    repo, bare, _ = remote
    repo.create_head("release")
    repo.git.push("upstream", "release")
    src = GitSource(source(bare.as_uri(), branch="prod"), tmp_path / "state", timeout=20)
    with pytest.raises(GitError) as err:
        src.sync()
    assert "'prod'" in str(err.value) and "main, release" in str(err.value)


# ----------------------------------------------------------------------------- a remote that hangs


@pytest.fixture
def silent_server():
    """A TCP listener that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield server.getsockname()[1]
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    server.close()


@pytest.mark.timeout(60)
def test_hanging_remote_gives_git_error(silent_server, tmp_path):
    url = f"http://127.0.0.1:{silent_server}/repo.git"
    src = GitSource(source(url), tmp_path / "state", timeout=3)
    with pytest.raises(GitError) as err:
        src.sync()
    assert url in str(err.value) and "cannot clone" in str(err.value)


@pytest.mark.timeout(60)
def test_password_never_in_errors(silent_server, tmp_path):
    url = f"https://bob:s3cr3t-pw@127.0.0.1:{silent_server}/repo.git"
    src = GitSource(source(url), tmp_path / "state", timeout=2)
    with pytest.raises(GitError) as err:
        src.sync()
    assert "s3cr3t-pw" not in str(err.value) and "bob:***@127.0.0.1" in str(err.value)
    assert "s3cr3t" not in str(src.repo_dir)


def test_redact_url():
    assert redact_url("https://u:p%40ss@host/r.git") == "https://u:***@host/r.git"
    assert redact_url("https://ghp_token@github.com/o/r") == "https://***@github.com/o/r"
    assert redact_url("ssh://git@host/r.git") == "ssh://git@host/r.git"
    assert redact_url("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert redact_url("file:///srv/r.git") == "file:///srv/r.git"
