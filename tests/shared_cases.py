"""The one way tests read the handed cases in ../shared/cases (absent in a user's clone: then skip)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CASES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "cases"


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
