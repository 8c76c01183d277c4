"""`compare: server`, the pure part: reading a dry run's 409 conflicts, and comparing the server's
after-sync object with live (driftd.serverside, through the engine like a cycle does)."""

from __future__ import annotations

import copy
import textwrap

from driftd.config import engine_options
from driftd.engine import diff_sets
from driftd.model import ObjectKey, Status
from driftd.paths import Index, Key, Select, parse, render
from driftd.serverside import Conflict, ServerView, dry_run_body, parse_conflicts, parse_field_path, related
from driftd.yamlload import load_manifests, load_yaml

from .drift_helpers import summary

CM_KEY = ObjectKey("", "ConfigMap", "shop", "app-config")


# -- the 409 ----------------------------------------------------------------------------------------

def status_409(message: str, causes: list[dict] | None = None) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": "Conflict",
           "code": 409}
    if causes is not None:
        out["details"] = {"causes": causes}
    return out


def test_conflicts_are_read_from_the_causes_one_per_field():
    status = status_409(
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using run.tanzu.vmware.com/v1alpha1:\n'
        '- .spec.topology.workers.count\n- .spec.distribution.version',
        [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using run.tanzu.vmware.com/v1alpha1',
          "field": ".spec.topology.workers.count"},
         {"reason": "FieldManagerConflict",
          "message": 'conflict with "kubectl-scale" with subresource "scale" using apps/v1 at 2026-12-03T19:29:34Z',
          "field": ".spec.replicas"},
         {"reason": "FieldManagerConflict", "message": 'conflict with "argocd-controller"', "field": ".data.a"}])
    assert [c.to_json() for c in parse_conflicts(status)] == [
        {"manager": "kubectl-edit", "path": "spec.topology.workers.count", "operation": "Update"},
        {"manager": "kubectl-scale", "path": "spec.replicas", "subresource": "scale", "operation": "Update",
         "time": "2026-12-03T19:29:34Z"},
        {"manager": "argocd-controller", "path": "data.a"}]   # an Apply: no "using"


def test_conflicts_are_read_from_the_message_when_there_are_no_causes():
    one = status_409('Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a')
    assert [(c.manager, render(c.path), c.operation) for c in parse_conflicts(one)] == [("kubectl-edit", "data.a", "Update")]
    several = status_409('Apply failed with 3 conflicts: conflicts with "kubectl-edit" using v1:\n- .data.a\n- .data.b\n'
                         'conflict with "helm" using v1: .metadata.labels.team')
    assert [(c.manager, render(c.path)) for c in parse_conflicts(several)] == [
        ("kubectl-edit", "data.a"), ("kubectl-edit", "data.b"), ("helm", "metadata.labels.team")]
    assert parse_conflicts(status_409("Operation cannot be fulfilled: the object has been modified")) == []


def test_field_paths_of_the_server_become_driftd_paths():
    assert parse_field_path('.spec.template.spec.containers[name="app"].image') == \
        (Key("spec"), Key("template"), Key("spec"), Key("containers"), Select((("name", "app"),)), Key("image"))
    assert render(parse_field_path('.spec.ports[port=80,protocol="TCP"].targetPort')) == \
        "spec.ports[port=80,protocol=TCP].targetPort"
    assert parse_field_path(".spec.args[2]") == (Key("spec"), Key("args"), Index(2))
    # an item of a set: driftd compares such lists whole, so it relates to the list's drift
    assert render(parse_field_path('.metadata.finalizers[="example.com/x"]')) == 'metadata.finalizers[=example.com/x]'
    assert related(parse_field_path('.metadata.finalizers[="example.com/x"]'), parse("metadata.finalizers"))


def test_a_key_holding_dots_is_told_apart_by_the_object():
    live = {"metadata": {"labels": {"run.tanzu.vmware.com/tkr": "v1.21", "app": "x"}}}
    assert render(parse_field_path(".metadata.labels.run.tanzu.vmware.com/tkr", live)) == \
        'metadata.labels["run.tanzu.vmware.com/tkr"]'
    assert render(parse_field_path(".metadata.labels.app", live)) == "metadata.labels.app"
    # without the object, each dot is a level: still a path, just not the right one
    assert len(parse_field_path(".metadata.labels.run.tanzu.vmware.com/tkr")) == 6


def test_a_conflict_relates_to_the_drift_on_its_field_inside_it_or_around_it():
    ports = parse('spec.ports[port=80,protocol=TCP]')
    server_order = parse_field_path('.spec.ports[protocol="TCP",port=80].targetPort')
    assert related(server_order, ports + (Key("targetPort"),))
    assert related(parse("spec.topology.nodePools"), parse("spec.topology.nodePools[name=np-1].replicas"))
    assert not related(parse("spec.replicas"), parse("spec.selector"))


def test_the_dry_run_body_is_git_in_the_live_namespace_without_bookkeeping():
    git = {"apiVersion": "v1", "kind": "ConfigMap", "status": {},
           "metadata": {"name": "a", "resourceVersion": "12", "uid": "u"}, "data": {"k": "v"}}
    assert dry_run_body(git, "shop") == {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "a", "namespace": "shop"}, "data": {"k": "v"}}
    assert "namespace" not in dry_run_body(git, None)["metadata"]


# -- after-sync vs live -------------------------------------------------------------------------------

GIT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: shop
data:
  a: "1"
"""


def live_cm(data: dict, managed: list[dict], **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": "shop", "uid": "u1", "resourceVersion": "7",
                         "creationTimestamp": "2026-12-01T10:00:00Z", "managedFields": managed, **meta},
            "data": data}


def entry(manager: str, operation: str, fields: dict, time: str = "2026-12-01T10:00:00Z") -> dict:
    return {"manager": manager, "operation": operation, "apiVersion": "v1", "time": time, "fieldsType": "FieldsV1",
            "fieldsV1": fields}


ARGO = entry("argocd-controller", "Apply", {"f:data": {"f:a": {}}})


def after_sync_of(live: dict, **changes) -> dict:
    """What the force dry run returns: live with Git's values, bumped bookkeeping, driftd's entry."""
    out = copy.deepcopy(live)
    out["data"].update(changes)
    out["metadata"]["resourceVersion"] = "8"
    out["metadata"]["generation"] = 2
    out["metadata"]["managedFields"] = live["metadata"]["managedFields"] + [
        entry("driftd", "Apply", {"f:data": {"f:a": {}}}, "2026-12-04T00:00:00Z")]
    return out


def server_diff(git: str, live: dict, view: ServerView):
    want = load_manifests(textwrap.dedent(git), "git.yaml")
    return diff_sets(want.manifests, want.problems, [live], engine_options(None), None, view)


def test_a_webhook_value_the_sync_keeps_is_not_drift_and_bookkeeping_never_is():
    live = live_cm({"a": "1", "injected": "yes"}, [ARGO])      # the webhook's key: owned by nobody
    view = ServerView(after_sync={CM_KEY: after_sync_of(live)})
    [obj] = server_diff(GIT, live, view).objects
    assert obj.status is Status.IN_SYNC, summary(obj)


def test_an_out_of_band_edit_is_one_drift_with_the_server_value_and_the_conflict():
    edit = entry("kubectl-edit", "Update", {"f:data": {"f:a": {}}}, "2026-12-03T19:29:34Z")
    live = live_cm({"a": "2", "injected": "yes"}, [entry("argocd-controller", "Apply", {}), edit])
    conflicts = [Conflict("kubectl-edit", parse("data.a"), operation="Update")]
    view = ServerView(after_sync={CM_KEY: after_sync_of(live, a="1")}, conflicts={CM_KEY: conflicts})
    [obj] = server_diff(GIT, live, view).objects
    assert summary(obj) == [("data.a", "modified", "1", "2", "out-of-band")]
    ev = obj.drifts[0].evidence
    assert (ev.manager, ev.conflicts) == ("kubectl-edit", [{"manager": "kubectl-edit", "path": "data.a",
                                                             "operation": "Update"}])


def test_the_desired_value_is_the_one_the_server_would_store():
    # A webhook rewrites Git's "1" to "one" on every write: the sync stores "one", which live has.
    live = live_cm({"a": "one"}, [ARGO])
    [obj] = server_diff(GIT, live, ServerView(after_sync={CM_KEY: after_sync_of(live)})).objects
    assert obj.status is Status.IN_SYNC
    # ... and when live has something else, desired is the server's value, not Git's text
    live2 = live_cm({"a": "two"}, [ARGO])
    [obj] = server_diff(GIT, live2, ServerView(after_sync={CM_KEY: after_sync_of(live2, a="one")})).objects
    assert summary(obj) == [("data.a", "modified", "one", "two", "git-ahead")]   # the applier wrote it last


def test_a_field_git_dropped_that_another_manager_owns_is_still_reported():
    # argocd-controller applied data.b once; Git dropped it; the dry run as driftd keeps it.
    live = live_cm({"a": "1", "b": "old"}, [entry("argocd-controller", "Apply", {"f:data": {"f:a": {}, "f:b": {}}})])
    [obj] = server_diff(GIT, live, ServerView(after_sync={CM_KEY: after_sync_of(live)})).objects
    assert summary(obj) == [("data.b", "added", None, "old", "removed-in-git")]


def test_a_key_added_by_hand_is_reported_as_in_client_mode():
    hand = entry("kubectl-edit", "Update", {"f:data": {"f:extra": {}}})
    live = live_cm({"a": "1", "extra": "x"}, [ARGO, hand])
    [obj] = server_diff(GIT, live, ServerView(after_sync={CM_KEY: after_sync_of(live)})).objects
    assert summary(obj) == [("data.extra", "added", None, "x", "out-of-band")]


def test_an_object_whose_dry_run_failed_gets_no_verdict_and_is_not_unmanaged():
    live = live_cm({"a": "1"}, [ARGO])
    result = server_diff(GIT, live, ServerView(skipped={CM_KEY}))
    assert result.objects == []


def test_an_object_without_an_after_sync_object_is_compared_client_side():
    live = live_cm({"a": "2"}, [entry("kubectl-edit", "Update", {"f:data": {"f:a": {}}})])
    [obj] = server_diff(GIT, live, ServerView()).objects     # e.g. its kind's dry runs were refused
    assert summary(obj) == [("data.a", "modified", "1", "2", "out-of-band")]


def test_churn_of_a_dry_run_alone_is_in_sync_even_with_status():
    live = live_cm({"a": "1"}, [ARGO])
    after = after_sync_of(live)
    after["status"] = {"observedGeneration": 2}
    after["metadata"]["creationTimestamp"] = "2026-12-04T00:00:00Z"
    [obj] = server_diff(GIT, live, ServerView(after_sync={CM_KEY: after})).objects
    assert obj.status is Status.IN_SYNC
    assert load_yaml(GIT)["data"] == {"a": "1"}


def test_the_table_names_the_conflicting_manager():
    from driftd.output import report_table
    edit = entry("kubectl-edit", "Update", {"f:data": {"f:a": {}}}, "2026-12-03T19:29:34Z")
    live = live_cm({"a": "2"}, [edit])
    view = ServerView(after_sync={CM_KEY: after_sync_of(live, a="1")},
                      conflicts={CM_KEY: [Conflict("kubectl-edit", parse("data.a"), operation="Update")]})
    text = report_table(server_diff(GIT, live, view))
    assert "      apply conflicts with: kubectl-edit (Update) at data.a\n" in text
