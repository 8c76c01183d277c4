"""Pointer fields of the built-in types (``*bool``, ``*int32``, ``*int64``): the API server stores an
explicit ``false`` or ``0`` and returns it, so Git's false/0 that live lacks was removed (variant 05);
non-pointer ``omitempty`` fields drop their zero, so there it is no drift (case 12). Rule
``pointer-zero-values``."""

from __future__ import annotations

import copy
import json

import pytest

from tests.unit.drift_helpers import diff, one, summary

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                   "template": {"metadata": {"labels": {"app": "api"}},
                                "spec": {"containers": [{"name": "api", "image": "shop/api:1"}]}}}}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop"},
       "spec": {"template": {"spec": {"restartPolicy": "Never",
                                      "containers": [{"name": "job", "image": "shop/job:1"}]}}}}
CRON = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "job", "image": "shop/job:1"}]}}}}}}


def _with(obj: dict, path: str, value: object) -> dict:
    """``obj`` with ``value`` at the dotted ``path`` (``containers.0`` is the first item)."""
    out = copy.deepcopy(obj)
    cur = out
    parts = path.split(".")
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur.setdefault(p, {})
    cur[parts[-1]] = value
    return out


def _diff(git: dict, live: dict):
    return one(diff(json.dumps(git), json.dumps(live)))


def test_variant_05_false_security_fields_deleted_by_a_person_are_removed_drift():
    git = _with(_with(DEPLOY, "spec.template.spec.automountServiceAccountToken", False),
                "spec.template.spec.containers.0.securityContext", {"allowPrivilegeEscalation": False,
                                                                     "runAsNonRoot": True})
    live = _with(DEPLOY, "spec.template.spec.containers.0.securityContext", {"runAsNonRoot": True})
    assert summary(_diff(git, live)) == [
        ("spec.template.spec.automountServiceAccountToken", "removed", False, None, "unknown"),
        ("spec.template.spec.containers[name=api].securityContext.allowPrivilegeEscalation", "removed", False,
         None, "unknown")]


@pytest.mark.parametrize("obj, path, zero, shown", [
    (DEPLOY, "spec.replicas", 0, "spec.replicas"),
    (DEPLOY, "spec.revisionHistoryLimit", 0, "spec.revisionHistoryLimit"),
    (DEPLOY, "spec.template.spec.securityContext.runAsUser", 0, "spec.template.spec.securityContext.runAsUser"),
    (DEPLOY, "spec.template.spec.securityContext.fsGroup", 0, "spec.template.spec.securityContext.fsGroup"),
    (DEPLOY, "spec.template.spec.containers.0.securityContext.privileged", False,
     "spec.template.spec.containers[name=api].securityContext.privileged"),
    (DEPLOY, "spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem", False,
     "spec.template.spec.containers[name=api].securityContext.readOnlyRootFilesystem"),
    (DEPLOY, "spec.template.spec.enableServiceLinks", False, "spec.template.spec.enableServiceLinks"),
    (DEPLOY, "spec.template.spec.shareProcessNamespace", False, "spec.template.spec.shareProcessNamespace"),
    (DEPLOY, "spec.template.spec.terminationGracePeriodSeconds", 0,
     "spec.template.spec.terminationGracePeriodSeconds"),
    (JOB, "spec.backoffLimit", 0, "spec.backoffLimit"),
    (JOB, "spec.ttlSecondsAfterFinished", 0, "spec.ttlSecondsAfterFinished"),
    (JOB, "spec.parallelism", 0, "spec.parallelism"),
    (CRON, "spec.suspend", False, "spec.suspend"),
    (CRON, "spec.successfulJobsHistoryLimit", 0, "spec.successfulJobsHistoryLimit"),
    (CRON, "spec.jobTemplate.spec.backoffLimit", 0, "spec.jobTemplate.spec.backoffLimit"),
])
def test_an_explicit_zero_of_a_pointer_field_that_live_lacks_is_removed_drift(obj, path, zero, shown):
    live = copy.deepcopy(obj)
    if path == "spec.replicas":
        live["spec"].pop("replicas")
    if ".securityContext." in path:   # the (pointer) securityContext itself stays, as {}
        live = _with(obj, path.rsplit(".", 1)[0], {})
    assert [(d.path_text, d.change.value, d.desired) for d in _diff(_with(obj, path, zero), live).drifts] == [
        (shown, "removed", zero)]


def test_an_optional_false_and_a_mode_zero_are_stored_values():
    git = _with(DEPLOY, "spec.template.spec.containers.0.env", [
        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url", "optional": False}}}])
    git = _with(git, "spec.template.spec.volumes", [
        {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 0, "optional": False,
                                      "items": [{"key": "a", "path": "a", "mode": 0}]}}])
    live = _with(DEPLOY, "spec.template.spec.containers.0.env", [
        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}])
    live = _with(live, "spec.template.spec.volumes", [
        {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}}])
    assert sorted(d.path_text for d in _diff(git, live).drifts) == [
        "spec.template.spec.containers[name=api].env[name=DB].valueFrom.secretKeyRef.optional",
        "spec.template.spec.volumes[name=cfg].configMap.defaultMode",
        "spec.template.spec.volumes[name=cfg].configMap.items[key=a].mode",
        "spec.template.spec.volumes[name=cfg].configMap.optional"]


def test_a_pointer_field_changed_from_false_is_one_modified_drift():
    git = _with(DEPLOY, "spec.template.spec.containers.0.securityContext", {"allowPrivilegeEscalation": False})
    live = _with(DEPLOY, "spec.template.spec.containers.0.securityContext", {"allowPrivilegeEscalation": True})
    assert [(d.path_text, d.change.value) for d in _diff(git, live).drifts] == [
        ("spec.template.spec.containers[name=api].securityContext.allowPrivilegeEscalation", "modified")]


@pytest.mark.parametrize("path, zero", [
    ("spec.paused", False),                                   # DeploymentSpec.Paused bool,omitempty
    ("spec.minReadySeconds", 0),                              # int32,omitempty
    ("spec.template.spec.hostNetwork", False),                # PodSpec.HostNetwork bool,omitempty
    ("spec.template.spec.containers.0.stdin", False),         # Container.Stdin bool,omitempty
    ("spec.template.spec.containers.0.volumeMounts", [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": False}]),
])
def test_the_zero_of_a_non_pointer_omitempty_field_is_omitted_not_removed(path, zero):
    live_value = [{"name": "cfg", "mountPath": "/etc/cfg"}] if isinstance(zero, list) else None
    live = _with(DEPLOY, path, live_value) if live_value else DEPLOY
    assert _diff(_with(DEPLOY, path, zero), live).drifts == []
