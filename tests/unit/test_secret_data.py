"""Secrets as the API server stores them: Git's write-only ``stringData`` is compared as ``data``
(base64 of UTF-8; variant 01), and the token controller's keys of a service-account-token Secret
are the system's (rule ``service-account-token-data``, variant 02)."""

from __future__ import annotations

import base64
import copy
import json

from driftd.normalize import fold_string_data
from tests.unit.drift_helpers import diff, one, summary


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def secret(data: dict | None = None, string_data: dict | None = None, type_: str | None = None,
           managed: list | None = None) -> dict:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds", "namespace": "shop"}}
    if type_:
        obj["type"] = type_
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    if managed:
        obj["metadata"]["managedFields"] = managed
    return obj


def _diff(git: dict, live: dict):
    return one(diff(json.dumps(git), json.dumps(live)))


def test_variant_01_string_data_equal_to_live_data_is_in_sync():
    git = secret(string_data={"username": "app", "password": "s3cret"})
    live = secret({"username": "YXBw", "password": "czNjcmV0"}, managed=[
        {"manager": "driftd", "operation": "Apply", "time": "2026-11-02T10:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:username": {}, "f:password": {}}}}])
    assert _diff(git, live).drifts == []


def test_string_data_changed_live_is_one_modified_data_key():
    git = secret(string_data={"password": "s3cret"})
    live = secret({"password": b64("hunter2")})
    assert summary(_diff(git, live)) == [("data.password", "modified", b64("s3cret"), b64("hunter2"), "unknown")]


def test_string_data_key_deleted_live_is_removed_and_a_key_added_beside_it_is_added():
    git = secret(data={"a": b64("1")}, string_data={"b": "2"})
    assert [(d.path_text, d.change.value) for d in _diff(git, secret({"a": b64("1")})).drifts] == [
        ("data.b", "removed")]
    live = secret({"a": b64("1"), "b": b64("2"), "c": b64("3")})
    assert [(d.path_text, d.change.value) for d in _diff(git, live).drifts] == [("data.c", "added")]


def test_a_key_in_both_data_and_string_data_is_string_datas():
    git = secret(data={"password": b64("old")}, string_data={"password": "new"})
    assert _diff(git, secret({"password": b64("new")})).drifts == []
    assert [d.path_text for d in _diff(git, secret({"password": b64("old")})).drifts] == ["data.password"]


def test_string_data_is_encoded_as_utf8():
    assert _diff(secret(string_data={"greeting": "grüß dich ✓"}), secret({"greeting": b64("grüß dich ✓")})).drifts == []


def test_fold_is_pure_and_only_for_core_secrets():
    git = secret(data={"a": b64("1")}, string_data={"b": "2", "n": 5})
    before = copy.deepcopy(git)
    folded = fold_string_data(git)
    assert git == before
    assert folded["data"] == {"a": b64("1"), "b": b64("2")} and folded["stringData"] == {"n": 5}
    other = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"b": "2"}}
    assert fold_string_data(other) is other
