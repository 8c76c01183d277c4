"""Library entry points the CLI calls: ``diff_files`` (offline), the cycle and reports live elsewhere."""

from __future__ import annotations

from pathlib import Path

from .engine import DiffResult, EngineOptions, diff_sets
from .yamlload import LoadResult, load_manifests

YAML_SUFFIXES = (".yaml", ".yml")


class DiffInputError(Exception):
    """An input file of ``driftd diff`` cannot be read at all."""


def load_path(path: str | Path, default_namespace: str | None = None, relative_to: Path | None = None) -> LoadResult:
    """Every manifest in a file, or in the *.yaml/*.yml files under a folder (sorted, recursive)."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()) if root.is_dir() else [root]
    total = LoadResult()
    for f in files:
        name = str(f.relative_to(relative_to)) if relative_to else str(f)
        try:
            data = f.read_bytes()
        except OSError as exc:
            raise DiffInputError(f"{f}: cannot read: {exc.strerror}") from exc
        part = load_manifests(data, name, default_namespace)
        total.manifests += part.manifests
        total.problems += part.problems
        total.notices += part.notices
    return total


def diff_files(desired: str | Path, live: str | Path, namespace: str | None = None,
               config_path: str | Path | None = None) -> DiffResult:
    from .config import engine_options, load_config_file

    options = engine_options(load_config_file(config_path)) if config_path else engine_options(None)
    want = load_path(desired, namespace)
    have = load_path(live)
    if have.problems:
        raise DiffInputError("; ".join(p.describe() for p in have.problems))
    result = diff_sets(want.manifests, want.problems, [m.obj for m in have.manifests], options)
    result.notices = want.notices + have.notices
    return result


__all__ = ["DiffInputError", "diff_files", "load_path", "EngineOptions"]
