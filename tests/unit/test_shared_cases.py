"""Every handed case through `driftd diff --output json`: exact statuses, paths, values and classes,
and nothing else reported (the must-not lists are exhaustive)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from driftd.cli import main
from tests.shared_cases import case_params, expected


def _key(o):
    return (o["kind"], o.get("namespace") or None, o["name"])


def _path(p):
    return p.replace(" ", "")


@pytest.mark.parametrize("case", case_params())
def test_case_gives_exactly_the_expected_verdict(case):
    want = expected(case)
    res = CliRunner().invoke(main, ["diff", str(case / "desired.yaml"), str(case / "live.yaml"), "-o", "json"])
    report = json.loads(res.output)
    assert report["verdict"] == want["verdict"]
    assert res.exit_code == {"in-sync": 0, "drift": 1, "invalid": 2}[want["verdict"]]
    got = {_key(o): o for o in report["objects"]}
    assert sorted(got) == sorted(_key(o) for o in want["objects"])
    for exp in want["objects"]:
        obj = got[_key(exp)]
        assert obj["status"] == exp["status"]
        drifts = {_path(d["path"]): d for d in obj["drifts"]}
        assert sorted(drifts) == sorted(_path(d["path"]) for d in exp["drifts"])
        for d in exp["drifts"]:
            rep = drifts[_path(d["path"])]
            eq = d.get("equivalent_values") or {}
            for side in ("desired", "live"):
                assert rep[side] in [d[side]] + eq.get(side, []), (d["path"], side, rep[side])
                assert type(rep[side]) is type(d[side]) or rep[side] in eq.get(side, [])
            if d.get("class_required"):
                assert rep["class"] == d["class"], rep["evidence"]
        if "invalid_detail" in exp:
            det = obj["invalid_detail"]
            assert det["file"].endswith(exp["invalid_detail"]["file"])
            assert sorted(det["lines"]) == sorted(exp["invalid_detail"]["lines"])
            assert det.get("key") == exp["invalid_detail"].get("key")
