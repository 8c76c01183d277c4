"""The one way tests read the handed cases in ../shared/cases (absent in a user's clone: then skip)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import os


def _find_cases() -> Path:
    """``$DRIFTD_SHARED_DIR/cases``, else the nearest ``shared/cases`` beside the checkout or one of its
    parents (/work/main -> /work/shared; a worktree /work/wt/NAME -> /work/shared too)."""
    if os.environ.get("DRIFTD_SHARED_DIR"):
        return Path(os.environ["DRIFTD_SHARED_DIR"]) / "cases"
    checkout = Path(__file__).resolve().parents[1]
    for parent in checkout.parents:
        if (parent / "shared" / "cases").is_dir():
            return parent / "shared" / "cases"
    return checkout.parent / "shared" / "cases"


CASES_DIR = _find_cases()


def case_dirs() -> list[Path]:
    if not CASES_DIR.is_dir():
        return []
    return sorted(p for p in CASES_DIR.iterdir() if (p / "expected.json").is_file())


def case_params():
    dirs = case_dirs()
    if not dirs:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"no shared cases at {CASES_DIR} (only the project's own checkout layout has them)"))]
    return [pytest.param(d, id=d.name) for d in dirs]


def expected(case: Path) -> dict:
    return json.loads((case / "expected.json").read_text())


def case_dir(name: str) -> Path:
    """The folder of one handed case; skips (with the reason) when ../shared is absent."""
    path = CASES_DIR / name
    if not (path / "expected.json").is_file():
        pytest.skip(f"no shared case {name} at {CASES_DIR} (only the project's own checkout layout has them)")
    return path


def check_case():
    """``check(expected, reported) -> failures`` of ../shared/tools/check_case.py: the cases' own
    matching rules, used as they are; skips when ../shared is absent."""
    import importlib.util

    path = CASES_DIR.parent / "tools" / "check_case.py"
    if not path.is_file():
        pytest.skip(f"no case checker at {path} (only the project's own checkout layout has it)")
    spec = importlib.util.spec_from_file_location("shared_check_case", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check
