"""Git YAML is read as kubectl reads it (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1), not as PyYAML's
defaults would: the same text must give the same object, or the diff compares the wrong values
(cases 16, 17, 19 are the handed examples; these are other inputs of the same kinds)."""

from __future__ import annotations

import math
import textwrap

import pytest

from driftd.model import Status, Verdict
from driftd.yamlload import DuplicateKeyError, load_manifests, load_yaml
from tests.unit.drift_helpers import diff, one


def scalar(text: str) -> object:
    return load_yaml(f"v: {text}\n")["v"]


# ----------------------------------------------------------------------------- scalars


@pytest.mark.parametrize("text, value", [
    ("y", True), ("Y", True), ("yes", True), ("Yes", True), ("YES", True), ("on", True), ("On", True),
    ("ON", True), ("true", True), ("True", True), ("TRUE", True),
    ("n", False), ("N", False), ("no", False), ("No", False), ("NO", False), ("off", False), ("Off", False),
    ("OFF", False), ("false", False), ("False", False), ("FALSE", False),
])
def test_yaml_11_booleans_include_y_n_on_off(text, value):
    assert scalar(text) is value


@pytest.mark.parametrize("text", ["yEs", "oN", "'y'", '"off"', "yes please", "t", "f"])
def test_words_that_are_not_yaml_11_booleans_stay_strings(text):
    assert isinstance(scalar(text), str)


@pytest.mark.parametrize("text, value", [
    ("0755", 0o755), ("0644", 420), ("0400", 256), ("-0755", -493), ("0o755", 493), ("0o644", 420),
    ("0x1F", 31), ("0b101", 5), ("0", 0), ("00", 0), ("1_000", 1000), ("+42", 42), ("493", 493),
])
def test_integers_read_like_go_yaml_including_leading_zero_octal(text, value):
    got = scalar(text)
    assert got == value and isinstance(got, int) and not isinstance(got, bool)


@pytest.mark.parametrize("text", ["1:30", "190:20:30", "1:30:00", "-1:30"])
def test_no_base_60_colon_numbers_are_strings(text):
    assert scalar(text) == text


@pytest.mark.parametrize("text, value", [("1e3", 1000.0), ("1E3", 1000.0), ("12e03", 12000.0),
                                         ("1.5e-3", 0.0015), (".5", 0.5), ("1.0", 1.0), ("-.inf", -math.inf)])
def test_exponent_and_dot_numbers_are_floats(text, value):
    got = scalar(text)
    assert isinstance(got, float) and got == value


@pytest.mark.parametrize("text", ["2024-01-01", "2024-01-01T10:00:00Z", "=", "1.2.3", "v1.29.3", "0x", "1e", "0o8"])
def test_timestamps_and_other_lookalikes_stay_strings(text):
    assert scalar(text) == text


def test_quoted_scalars_stay_strings():
    doc = load_yaml("a: '0755'\nb: \"1e3\"\nc: 'on'\nd: \"~\"\n")
    assert doc == {"a": "0755", "b": "1e3", "c": "on", "d": "~"}


def test_non_string_keys_are_written_as_json_strings_without_colliding():
    # `on` is true and `1` is 1; Python's True == 1 must not merge them into one key.
    doc = load_yaml("on: a\n1: b\nnull: c\n0755: d\n")
    assert doc == {"true": "a", "1": "b", "null": "c", "493": "d"}


def test_octal_mode_in_git_equals_the_decimal_mode_the_server_returns():
    git = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          containers: [{name: c, image: busybox}]
          volumes:
          - name: cfg
            configMap: {name: cfg, defaultMode: 0440, items: [{key: run.sh, path: run.sh, mode: 0o755}]}
        """
    live = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          containers: [{name: c, image: busybox}]
          volumes:
          - name: cfg
            configMap: {name: cfg, defaultMode: 288, items: [{key: run.sh, path: run.sh, mode: 493}]}
        """
    assert one(diff(git, live)).status is Status.IN_SYNC


def test_octal_mode_that_differs_is_drift_with_decimal_values():
    git = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          containers: [{name: c, image: busybox}]
          volumes: [{name: cfg, configMap: {name: cfg, defaultMode: 0600}}]
        """
    live = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          containers: [{name: c, image: busybox}]
          volumes: [{name: cfg, configMap: {name: cfg, defaultMode: 420}}]
        """
    [drift] = one(diff(git, live)).drifts
    assert (drift.path_text, drift.change.value, drift.desired, drift.live) == \
        ("spec.volumes[name=cfg].configMap.defaultMode", "modified", 384, 420)


def test_on_in_git_is_the_boolean_true_and_differs_from_the_string():
    git = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: flags, namespace: ns}
        data: {FEATURE: on}
        """
    live = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: flags, namespace: ns}
        data: {FEATURE: "on"}
        """
    [drift] = one(diff(git, live)).drifts
    assert (drift.path_text, drift.desired, drift.live) == ("data.FEATURE", True, "on")


def test_base_60_lookalike_env_value_is_the_string_the_server_stores():
    git = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          containers: [{name: c, image: busybox, env: [{name: WINDOW, value: 2:45}]}]
        """
    live = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          containers: [{name: c, image: busybox, env: [{name: WINDOW, value: "2:45"}]}]
        """
    assert one(diff(git, live)).status is Status.IN_SYNC


# ----------------------------------------------------------------------------- duplicate keys

CM_A = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: ns\ndata:\n  k: v\n"


def test_duplicate_top_level_key_makes_the_document_invalid_naming_both_lines():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  namespace: ns\ndata:\n  a: '1'\ndata:\n  b: '2'\n"
    res = load_manifests(text, "apps/dup.yaml")
    assert res.manifests == []
    [problem] = res.problems
    assert (problem.file, problem.lines, problem.dup_key) == ("apps/dup.yaml", (6, 8), "data")
    assert "line 8" in problem.message and "line 6" in problem.message
    assert (problem.key.kind, problem.key.namespace, problem.key.name) == ("ConfigMap", "ns", "dup")


def test_duplicate_nested_key_in_the_second_document_keeps_the_first_document():
    text = CM_A + textwrap.dedent("""\
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: api
          namespace: ns
        spec:
          template:
            spec:
              containers:
              - name: app
                image: app:1
                resources:
                  limits: {cpu: "1"}
                resources:
                  limits: {cpu: "2"}
        """)
    res = load_manifests(text, "f.yaml")
    assert [m.key.name for m in res.manifests] == ["a"]
    [problem] = res.problems
    assert problem.lines == (20, 22) and problem.dup_key == "resources"
    assert (problem.key.kind, problem.key.name) == ("Deployment", "api")


def test_duplicate_key_inside_a_flow_mapping_is_found():
    res = load_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, name: y}\n", "f.yaml")
    [problem] = res.problems
    assert problem.lines == (3, 3) and problem.dup_key == "name"


def test_keys_that_become_the_same_json_string_are_duplicates():
    # go-yaml reads `on` and `true` as the same boolean key.
    with pytest.raises(DuplicateKeyError) as err:
        load_yaml("data:\n  on: a\n  true: b\n")
    assert (err.value.key, err.value.first_line, err.value.line) == ("true", 2, 3)


def test_invalid_document_is_reported_invalid_not_missing_and_other_objects_still_compared():
    git = CM_A + "---\n" + ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: ns\n"
                            "data:\n  x: '1'\n  x: '2'\n")
    live = """
        apiVersion: v1
        kind: List
        items:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: ns}, data: {k: v}}
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: ns}, data: {x: '2'}}
        """
    res = diff(git, live)
    assert res.verdict is Verdict.INVALID
    status = {o.key.name: o for o in res.objects}
    assert status["a"].status is Status.IN_SYNC
    assert status["b"].status is Status.INVALID and status["b"].drifts == []
    assert status["b"].invalid_detail["lines"] == [15, 16] and status["b"].invalid_detail["key"] == "x"


# ----------------------------------------------------------------------------- documents


def test_empty_comment_only_tilde_and_end_marker_documents_are_skipped():
    text = ("# leading comment\n---\n---\n# only a comment\n---\n~\n---\nnull\n---\n" + CM_A + "...\n---\n\n")
    res = load_manifests(text, "f.yaml")
    assert [m.key.name for m in res.manifests] == ["a"]
    assert res.problems == [] and res.notices == []
    assert res.manifests[0].line == 10


def test_bom_and_crlf_line_ends_are_read_like_plain_text():
    raw = ("\ufeff" + CM_A.replace("\n", "\r\n") + "---\r\n" + CM_A.replace("name: a", "name: b").replace("\n", "\r\n"))
    res = load_manifests(raw.encode("utf-8"), "win.yaml")
    assert [(m.key.name, m.obj["data"]) for m in res.manifests] == [("a", {"k": "v"}), ("b", {"k": "v"})]
    assert res.problems == []


def test_crlf_duplicate_key_lines_are_counted_like_lf():
    raw = "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\ndata: {}\r\ndata: {}\r\n"
    [problem] = load_manifests(raw, "f.yaml").problems
    assert problem.lines == (5, 6)


def test_list_documents_are_unpacked_into_their_items():
    text = textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: one, namespace: ns}}
        - {apiVersion: v1, kind: Secret, metadata: {name: two, namespace: ns}}
        ---
        apiVersion: v1
        kind: ConfigMapList
        metadata: {resourceVersion: ""}
        items:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: three, namespace: ns}}
        """)
    res = load_manifests(text, "f.yaml")
    assert [(m.key.kind, m.key.name) for m in res.manifests] == [("ConfigMap", "one"), ("Secret", "two"),
                                                                  ("ConfigMap", "three")]


def test_syntax_error_in_one_document_keeps_the_other_documents():
    text = (CM_A + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  namespace: ns\n"
            "data: {a: [1, 2}\n---\n" + CM_A.replace("name: a", "name: c"))
    res = load_manifests(text, "f.yaml")
    assert [m.key.name for m in res.manifests] == ["a", "c"]
    [problem] = res.problems
    assert problem.key.name == "broken" and problem.lines == (14,)
    assert problem.message.startswith("invalid YAML")


def test_syntax_error_document_is_invalid_in_the_diff_not_missing():
    git = CM_A.replace("k: v", "k: [v") + "---\n" + CM_A.replace("name: a", "name: b")
    live = """
        apiVersion: v1
        kind: List
        items:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: ns}, data: {k: v}}
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: ns}, data: {k: v}}
        """
    res = diff(git, live)
    assert {o.key.name: o.status for o in res.objects} == {"a": Status.INVALID, "b": Status.IN_SYNC}


def test_merge_keys_are_overridden_by_explicit_keys_and_are_not_duplicates():
    doc = load_yaml("base: &b {cpu: '1', memory: 1Gi}\nlimits:\n  <<: *b\n  cpu: '2'\n")
    assert doc["limits"] == {"cpu": "2", "memory": "1Gi"}
