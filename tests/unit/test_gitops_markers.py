"""The GitOps appliers' own markers (rule ``gitops-applier-markers``, variant 11): Argo CD's
tracking-id annotation and Flux's kustomize/helm-controller labels are not drift where Git is silent,
whoever of the appliers wrote them; a person's edit of them, and Argo CD annotations people write in
Git (sync-wave ...), stay drift."""

from __future__ import annotations

import json

import pytest

from tests.unit.drift_helpers import diff, one, summary

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def cm(labels: dict | None = None, annotations: dict | None = None, managed: list | None = None) -> dict:
    meta = {"name": "web-config", "namespace": "shop"}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if managed:
        meta["managedFields"] = managed
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}}


def entry(manager: str, operation: str, fields: dict) -> dict:
    return {"manager": manager, "operation": operation, "time": "2026-11-24T08:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": fields}


def _diff(git: dict, live: dict):
    return one(diff(json.dumps(git), json.dumps(live)))


def test_argo_cd_tracking_id_in_the_last_applied_record_is_not_drift():
    tracking = {"argocd.argoproj.io/tracking-id": "shop-apps:/ConfigMap:shop/web-config"}
    applied = dict(cm(annotations=tracking))
    live = cm(annotations={**tracking, LAST_APPLIED: json.dumps(applied)}, managed=[
        entry("argocd-controller", "Update", {"f:metadata": {"f:annotations": {
            "f:argocd.argoproj.io/tracking-id": {}, f"f:{LAST_APPLIED}": {}}}})])
    assert _diff(cm(), live).drifts == []


@pytest.mark.parametrize("manager, labels", [
    ("kustomize-controller", {"kustomize.toolkit.fluxcd.io/name": "apps",
                              "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}),
    ("helm-controller", {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "flux-system"}),
    ("argocd-controller", {"argocd.argoproj.io/instance": "shop-apps"}),
])
def test_flux_and_argo_cd_labels_applied_with_their_objects_are_not_drift(manager, labels):
    live = cm(labels=labels, managed=[entry(manager, "Apply", {"f:metadata": {"f:labels": {
        f"f:{k}": {} for k in labels}}})])
    assert _diff(cm(), live).drifts == []


def test_a_person_changing_the_tracking_id_is_drift():
    live = cm(annotations={"argocd.argoproj.io/tracking-id": "other-app:/ConfigMap:shop/web-config"}, managed=[
        entry("kubectl-annotate", "Update", {"f:metadata": {"f:annotations": {
            "f:argocd.argoproj.io/tracking-id": {}}}})])
    assert [(p, c, cls) for p, c, _, _, cls in summary(_diff(cm(), live))] == [
        ('metadata.annotations["argocd.argoproj.io/tracking-id"]', "added", "out-of-band")]


def test_argo_cd_annotations_people_write_are_still_compared():
    live = cm(annotations={"argocd.argoproj.io/sync-options": "Prune=false"}, managed=[
        entry("kubectl-annotate", "Update", {"f:metadata": {"f:annotations": {
            "f:argocd.argoproj.io/sync-options": {}}}})])
    assert [d.path_text for d in _diff(cm(), live).drifts] == ['metadata.annotations["argocd.argoproj.io/sync-options"]']
