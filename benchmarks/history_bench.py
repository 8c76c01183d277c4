#!/usr/bin/env python3
"""Benchmark of the Git history index (driftd.history) on a large repository: not a test, a report.

Builds a repository of 10,000 commits with ``git fast-import`` (a few seconds): 40 TanzuKubernetesCluster
files, half of them multi-document; each commit changes one cluster's worker count or labels;
every 1,000th commit moves a folder (``tkgs/`` <-> ``prod/``), every 700th deletes a cluster and the
next one restores it. Then it prints:

* cold index: the whole history walked once (commits walked, blobs parsed, seconds);
* warm update with 0 new commits and with 1 new commit, in the same process (as the daemon runs);
* warm update with 1 new commit after a restart (index loaded from disk, empty blob cache);
* the cold/warm ratio, and a spot check that the index still knows an object across the moves.

    .venv/bin/python benchmarks/history_bench.py [--commits 10000] [--files 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd.config import SourceConfig  # noqa: E402
from driftd.gitsource import GitSource  # noqa: E402
from driftd.history import HistoryEvidence, ObjectHistory, index_path  # noqa: E402
from driftd.model import ObjectKey  # noqa: E402
from driftd.paths import parse  # noqa: E402

T0 = 1_780_000_000  # commit times: one minute apart from here


def tkc(name: str, workers: int, label: int) -> str:
    return f"""apiVersion: run.tanzu.vmware.com/v1alpha1
kind: TanzuKubernetesCluster
metadata:
  name: {name}
  namespace: prod
  labels:
    revision: "{label}"
spec:
  topology:
    controlPlane:
      count: 1
      class: best-effort-large
      storageClass: k8s-policy
    workers:
      count: {workers}
      class: best-effort-large
      storageClass: k8s-policy
  distribution:
    version: 1.21.6
"""


class Model:
    """What the repository holds: file -> cluster names, and each cluster's state."""

    def __init__(self, files: int):
        self.folder = "tkgs"
        self.files = {f"c{i:02d}.yaml": [f"prod-{i:02d}a"] + ([f"prod-{i:02d}b"] if i % 2 else [])
                      for i in range(files)}
        self.state = {n: [1, 0] for names in self.files.values() for n in names}
        self.deleted: str | None = None

    def text(self, file: str) -> str:
        return "---\n".join(tkc(n, *self.state[n]) for n in self.files[file] if n != self.deleted)


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def _commit(out: list[bytes], n: int, message: str, ops: list[bytes]) -> None:
    who = b"Ada Admin <ada@example.com> %d +0000" % (T0 + 60 * n)
    out += [b"commit refs/heads/main\n", b"author " + who + b"\n", b"committer " + who + b"\n", _data(message)]
    out += ops
    out.append(b"\n")


def build(path: Path, commits: int, files: int) -> None:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    model = Model(files)
    out: list[bytes] = []
    _commit(out, 0, "initial clusters", [b"M 100644 inline %s/%s\n" % (model.folder.encode(), f.encode())
                                         + _data(model.text(f)) for f in model.files])
    names = sorted(model.state)
    for n in range(1, commits):
        if n % 1000 == 0:
            old, model.folder = model.folder, ("prod" if model.folder == "tkgs" else "tkgs")
            ops = [b"D %s/%s\n" % (old.encode(), f.encode()) for f in model.files]
            ops += [b"M 100644 inline %s/%s\n" % (model.folder.encode(), f.encode()) + _data(model.text(f))
                    for f in model.files]
            _commit(out, n, f"move the clusters to {model.folder}/", ops)
            continue
        name = names[n % len(names)]
        file = next(f for f, ns in model.files.items() if name in ns)
        if n % 700 == 0:
            model.deleted = name
            message = f"delete {name}"
        elif model.deleted and n % 700 == 1:
            name = model.deleted
            file = next(f for f, ns in model.files.items() if name in ns)
            model.deleted = None
            message = f"restore {name}"
        elif n % 3:
            model.state[name][0] = model.state[name][0] % 9 + 1
            message = f"{name}: {model.state[name][0]} workers"
        else:
            model.state[name][1] += 1
            message = f"{name}: revision {model.state[name][1]}"
        _commit(out, n, message, [b"M 100644 inline %s/%s\n" % (model.folder.encode(), file.encode())
                                  + _data(model.text(file))])
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(out), check=True)


def add_commit(path: Path, n: int, workers: int) -> str:
    """One more commit on main, changing prod-00a's workers (in the folder the files are in now)."""
    folder = subprocess.run(["git", "ls-tree", "--name-only", "main"], cwd=path, check=True, capture_output=True,
                            text=True).stdout.split()[0]
    out: list[bytes] = []
    _commit(out, n, f"prod-00a: {workers} workers",
            [b"from refs/heads/main^0\n",
             b"M 100644 inline %s/c00.yaml\n" % folder.encode() + _data(tkc("prod-00a", workers, 0))])
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(out), check=True)
    return subprocess.run(["git", "rev-parse", "main"], cwd=path, check=True, capture_output=True,
                          text=True).stdout.strip()


def timed(history: ObjectHistory, git: GitSource, tip: str) -> tuple[float, int, int]:
    t = time.perf_counter()
    history.update(git, tip)
    return time.perf_counter() - t, history.walked, history.parsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--keep", type=Path, default=None, help="build the repository here and keep it")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        repo, state = root / "repo.git", root / "state"
        t = time.perf_counter()
        build(repo, args.commits, args.files)
        print(f"repository: {args.commits} commits, {args.files} files built in {time.perf_counter() - t:.1f} s "
              f"with git fast-import")

        source = SourceConfig(name="bench", repo=str(repo), cluster="c", branch="main", paths=(".",),
                              namespace="prod")
        git = GitSource(source, state)
        tip = git.sync().commit
        history = ObjectHistory("bench", "prod", (".",))
        cold, walked, parsed = timed(history, git, tip)
        t = time.perf_counter()
        history.save(index_path(state, "bench"))
        saved = time.perf_counter() - t
        size = index_path(state, "bench").stat().st_size
        print(f"cold index:            {cold:8.3f} s  commits walked {walked:6d}  blobs parsed {parsed:6d}  "
              f"(saved in {saved:.3f} s, {size / 1e6:.1f} MB)")

        warm0, walked0, parsed0 = timed(history, git, tip)
        print(f"warm, 0 new commits:   {warm0:8.5f} s  commits walked {walked0:6d}  blobs parsed {parsed0:6d}")

        tip1 = add_commit(repo, args.commits, 7)
        warm1, walked1, parsed1 = timed(history, git, git.sync().commit)
        assert tip1 == history.tip
        print(f"warm, 1 new commit:    {warm1:8.5f} s  commits walked {walked1:6d}  blobs parsed {parsed1:6d}")

        history.save(index_path(state, "bench"))
        tip2 = add_commit(repo, args.commits + 1, 8)
        t = time.perf_counter()
        restarted_git = GitSource(source, state)
        restarted = ObjectHistory.load(index_path(state, "bench"), "bench", "prod", (".",))
        loaded = time.perf_counter() - t
        warm2, walked2, parsed2 = timed(restarted, restarted_git, restarted_git.sync().commit)
        assert tip2 == restarted.tip and not restarted.rebuilt
        print(f"restart, 1 new commit: {loaded + warm2:8.5f} s  commits walked {walked2:6d}  blobs parsed {parsed2:6d}  "
              f"(index loaded in {loaded:.3f} s; one parse per file at the tip, from an empty blob cache)")

        print(f"cold/warm ratio:       {cold / warm0:,.0f}x (0 new commits), {cold / warm1:,.0f}x (1 new commit), "
              f"{cold / (loaded + warm2):,.0f}x (restart, 1 new commit)")

        key = ObjectKey("run.tanzu.vmware.com", "TanzuKubernetesCluster", "prod", "prod-00a")
        versions = restarted.versions[key]
        evidence = HistoryEvidence(restarted, restarted_git)
        count, same = parse("spec.topology.workers.count"), (lambda _p, a, b: a == b)
        before, t = restarted_git.parse_count, time.perf_counter()
        blame = evidence.blame(key, count, same)
        earlier = evidence.earlier_value(key, count, 1, same)
        asked = time.perf_counter() - t
        print(f"evidence of one drift: {asked:8.5f} s  blobs parsed {restarted_git.parse_count - before:6d}  "
              f"(blame + the commit that last had 1 worker, after the restart)")
        print(f"spot check:            {key.name} has {len(versions)} versions over "
              f"{len({v.path for v in versions if v.path})} files; workers.count blamed on {blame['subject']!r}; "
              f"1 worker last set by {earlier[0]['subject']!r}, changed by {earlier[1]['subject']!r}")
        git.close()
        restarted_git.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
