"""docs/normalization.md lists every built-in rule exactly as the code has it: the tables between the
``rules:begin`` and ``rules:end`` markers are rendered from ``driftd.profiles.builtin_rules()`` (the
same rules `driftd profiles` prints), so a rule added, removed, renamed or changed in
driftd/profiles/*.yaml fails this test until the document is regenerated:

    .venv/bin/python -m tests.unit.test_normalization_doc --write
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from driftd.cli import main
from driftd.profiles import ACTIONS, COMPARATORS, CONDITIONS, PROFILE_FILES, Rule, builtin_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "normalization.md"
BEGIN = ("<!-- rules:begin: generated from driftd/profiles/*.yaml by "
         "`.venv/bin/python -m tests.unit.test_normalization_doc --write`; do not edit by hand -->")
END = "<!-- rules:end -->"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _action(rule: Rule) -> str:
    out = [f"**{rule.action}**"]
    if rule.compare:
        out.append(f"compare {_code(rule.compare)}")
    if rule.resolved_in:
        d = rule.describe()
        out.append("also against " + ", ".join(_code(p) for p in d["resolved_in"]))
    if rule.has_value:
        out.append(f"only the value {_code(rule.value)}")
    if rule.keys:
        out.append("keys " + ", ".join(_code(k) for k in rule.keys))
    if rule.defaults:
        out.append("default " + ", ".join(_code(f"{k}: {v}") for k, v in rule.defaults))
    if rule.when:
        out.append(f"when {_code(rule.when)}")
    if rule.note:
        out.append(f"note: “{_cell(rule.note)}”")
    return "<br>".join(out)


def _profile_title(filename: str) -> str:
    """The first comment line of a profile file says what it covers."""
    text = resources.files("driftd.profiles").joinpath(filename).read_text(encoding="utf-8")
    first = text.splitlines()[0]
    return first.lstrip("# ").strip() if first.startswith("#") else ""


def render_tables() -> str:
    rules = builtin_rules()
    parts = [BEGIN]
    for filename in PROFILE_FILES:
        profile = filename.removesuffix(".yaml")
        mine = [r for r in rules if r.profile == profile]
        parts.append("")
        parts.append(f"### Profile `{profile}` ({len(mine)} rules, driftd/profiles/{filename})")
        parts.append("")
        parts.append(_profile_title(filename))
        parts.append("")
        parts.append("| rule | kinds | paths | action | why |")
        parts.append("| --- | --- | --- | --- | --- |")
        for r in mine:
            kinds = ", ".join(_code(k) for k in r.kinds)
            paths = "<br>".join(_code(p.text) for p in r.paths)
            parts.append(f"| `{r.name}` | {kinds} | {paths} | {_action(r)} | {_cell(r.why)} |")
    parts.append("")
    parts.append(END)
    return "\n".join(parts)


def _block(text: str) -> str | None:
    m = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    return m.group(0) if m else None


def write() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = _block(text)
    if block is None:
        raise SystemExit(f"{DOC}: no {BEGIN!r} ... {END!r} block")
    DOC.write_text(text.replace(block, render_tables()), encoding="utf-8")


# ----------------------------------------------------------------------------- tests


def test_rule_tables_in_the_document_are_rendered_from_the_built_in_rules():
    block = _block(DOC.read_text(encoding="utf-8"))
    assert block is not None, "docs/normalization.md has lost its generated rule tables"
    assert block == render_tables(), (
        "docs/normalization.md is stale: run .venv/bin/python -m tests.unit.test_normalization_doc --write")


def test_every_rule_driftd_profiles_lists_has_a_row_and_every_row_is_a_rule():
    listed = CliRunner().invoke(main, ["profiles"]).output.splitlines()[1:]   # after the header
    names = {line.split()[1] for line in listed if line.strip()}
    rows = set(re.findall(r"^\| `([a-z0-9-]+)` \|", _block(DOC.read_text(encoding="utf-8")) or "", re.M))
    assert names and rows == names


def test_rule_names_the_prose_mentions_exist():
    """Outside the tables too: a rule named in backquotes must be one `driftd profiles` knows."""
    text = DOC.read_text(encoding="utf-8")
    prose = text.replace(_block(text) or "", "")
    known = {r.name for r in builtin_rules()}
    shaped = {w for w in re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", prose)
              if any(w.startswith(p) for p in ("capi-", "tkc-", "vsphere-", "core-")) or w in known
              or w.endswith(("-defaults", "-key", "-metadata", "-quantities", "-filled", "-allocated"))}
    assert shaped - known - set(ACTIONS) - set(COMPARATORS) - set(CONDITIONS) == set()


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(render_tables())
