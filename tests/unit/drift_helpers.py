"""Run the drift engine on YAML written inline in a test: the same path as `driftd diff`
(kubectl-compatible loading, built-in profiles, the config's rules) without files or a CLI."""

from __future__ import annotations

import textwrap

from driftd.config import engine_options, parse_config
from driftd.engine import DiffResult, diff_sets
from driftd.model import FieldDrift, ObjectResult
from driftd.schema import CrdSchemas
from driftd.yamlload import load_manifests, load_yaml


def diff(desired: str, live: str, config: str | None = None, namespace: str | None = None,
         crds: str | None = None) -> DiffResult:
    """Diff Git text against live text (either may hold several documents or a `kind: List`);
    ``crds``: CustomResourceDefinition documents whose schemas the engine uses."""
    want = load_manifests(textwrap.dedent(desired), "git.yaml", namespace)
    have = load_manifests(textwrap.dedent(live), "live.yaml")
    assert not have.problems, [p.describe() for p in have.problems]
    options = engine_options(parse_config(load_yaml(textwrap.dedent(config))) if config else None)
    schemas = CrdSchemas.from_crds([m.obj for m in load_manifests(textwrap.dedent(crds), "crds.yaml").manifests]) \
        if crds else None
    result = diff_sets(want.manifests, want.problems, [m.obj for m in have.manifests], options, schemas=schemas)
    result.notices = want.notices + have.notices
    return result


def one(result: DiffResult) -> ObjectResult:
    """The only object of a result."""
    assert len(result.objects) == 1, [(str(o.key), o.status.value) for o in result.objects]
    return result.objects[0]


def by_path(obj: ObjectResult) -> dict[str, FieldDrift]:
    return {d.path_text: d for d in obj.drifts}


def summary(obj: ObjectResult) -> list[tuple]:
    """(path, change, desired, live, class) of every drift, sorted: what a test pins exactly."""
    return sorted((d.path_text, d.change.value, d.desired, d.live, d.drift_class.value) for d in obj.drifts)
