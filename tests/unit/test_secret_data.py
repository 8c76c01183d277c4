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


# ----------------------------------------------------------------------------- service-account tokens

SA_TYPE = "kubernetes.io/service-account-token"
TOKEN_DATA = {"token": b64("eyJhbGciOi..."), "ca.crt": b64("-----BEGIN"), "namespace": b64("ci")}
KCM = {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-02T10:00:01Z",
       "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:token": {}, "f:ca.crt": {}, "f:namespace": {}}}}


def sa_secret(data: dict | None = None, managed: list | None = None) -> dict:
    obj = secret(data, type_=SA_TYPE, managed=managed)
    obj["metadata"]["annotations"] = {"kubernetes.io/service-account.name": "ci-deployer"}
    return obj


def test_variant_02_the_token_controllers_data_is_not_drift():
    assert _diff(sa_secret(), sa_secret(TOKEN_DATA, [KCM])).drifts == []


def test_a_person_editing_the_token_is_drift():
    edit = {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-03T10:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:token": {}}}}
    live = sa_secret(dict(TOKEN_DATA, token=b64("forged")), [KCM, edit])
    assert [(d.path_text, d.change.value, d.drift_class.value) for d in _diff(sa_secret(), live).drifts] == [
        ("data.token", "added", "out-of-band")]


def test_another_key_in_a_token_secret_is_still_drift():
    live = sa_secret(dict(TOKEN_DATA, extra=b64("x")), [KCM])
    assert [d.path_text for d in _diff(sa_secret(), live).drifts] == ["data.extra"]


def test_token_keys_in_an_opaque_secret_are_drift():
    git, live = secret({"a": b64("1")}), secret(dict(TOKEN_DATA, a=b64("1")), managed=[KCM])
    assert sorted(d.path_text for d in _diff(git, live).drifts) == sorted(['data["ca.crt"]', "data.namespace", "data.token"])
