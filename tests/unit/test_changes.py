"""Live-to-live changes between snapshots (driftd.changes) and `driftd report changes` over a real
audit database."""

from __future__ import annotations

import copy
import json

from click.testing import CliRunner

from driftd.changes import live_changes
from driftd.model import Status
from driftd.report import report_command
from driftd.store import AuditStore
from tests.unit.test_store import KEY, make_run, replicas_drift, result

COUNT = {"f:spec": {"f:topology": {"f:workers": {"f:count": {}}}}}


def tkc(count: int = 1, pools: list[dict] | None = None, managers: list[tuple] = (), uid: str = "u1",
        phase: str = "running", rv: str = "1") -> dict:
    return {"apiVersion": "run.tanzu.vmware.com/v1alpha1", "kind": "TanzuKubernetesCluster",
            "metadata": {"name": "tkc-1", "namespace": "ns1", "uid": uid, "resourceVersion": rv, "generation": 2,
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": f'{{"rv": "{rv}"}}'},
                         "managedFields": [{"manager": m, "operation": op, "time": t, "fieldsType": "FieldsV1",
                                            "fieldsV1": f} for m, op, t, f in managers]},
            "spec": {"topology": {"workers": {"count": count}}, "nodePools": pools or [{"name": "np-1", "replicas": 1}]},
            "status": {"phase": phase}}


ARGO = ("argocd-controller", "Apply", "2026-12-01T09:00:00Z", COUNT)
EDIT = ("kubectl-edit", "Update", "2026-12-02T10:00:00Z", COUNT)


def test_a_kubectl_edit_is_one_change_naming_its_manager_and_time():
    before = tkc(1, managers=[ARGO])
    after = tkc(3, managers=[(ARGO[0], ARGO[1], ARGO[2], {}), EDIT], rv="2", phase="updating")
    [change] = live_changes(before, after)
    assert change.to_json() == {"path": "spec.topology.workers.count", "change": "modified", "before": 1, "after": 3,
                                "manager": "kubectl-edit", "operation": "Update", "time": "2026-12-02T10:00:00Z"}


def test_bookkeeping_last_applied_and_status_are_not_changes_unless_status_is_asked_for():
    before, after = tkc(managers=[ARGO]), tkc(managers=[ARGO], rv="9", phase="updating")
    assert live_changes(before, after) == []
    [change] = live_changes(before, after, with_status=True)
    assert (change.path_text, change.before, change.after) == ("status.phase", "running", "updating")


def test_named_list_items_are_matched_by_name_so_a_reorder_is_no_change():
    a, b = {"name": "a", "replicas": 1}, {"name": "b", "replicas": 2}
    assert live_changes(tkc(pools=[a, b]), tkc(pools=[b, a])) == []
    changed = live_changes(tkc(pools=[a, b]), tkc(pools=[{**b, "replicas": 5}, a, {"name": "c", "replicas": 1}]))
    assert [(c.path_text, c.change, c.before, c.after) for c in changed] == [
        ("spec.nodePools[name=b].replicas", "modified", 2, 5),
        ("spec.nodePools[name=c]", "added", None, {"name": "c", "replicas": 1})]


def test_a_removed_field_names_the_only_manager_that_wrote_in_between_as_inferred():
    before = tkc(managers=[ARGO])
    after = copy.deepcopy(before)
    del after["spec"]["nodePools"]
    after["metadata"]["managedFields"].append({"manager": "kubectl-patch", "operation": "Update",
                                               "time": "2026-12-02T11:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {}})
    [change] = live_changes(before, after)
    assert change.to_json() == {"path": "spec.nodePools", "change": "removed", "before": [{"name": "np-1", "replicas": 1}],
                                "after": None, "manager": "kubectl-patch", "operation": "Update",
                                "time": "2026-12-02T11:00:00Z", "inferred": True}


def test_who_is_unknown_when_several_managers_wrote_in_between():
    before = tkc(managers=[ARGO])
    after = copy.deepcopy(before)
    del after["spec"]["nodePools"]
    for m in ("kubectl-patch", "capi-controller"):
        after["metadata"]["managedFields"].append({"manager": m, "operation": "Update", "time": "2026-12-02T11:00:00Z",
                                                   "fieldsType": "FieldsV1", "fieldsV1": {}})
    [change] = live_changes(before, after)
    assert change.writer is None and "manager" not in change.to_json()


def test_report_changes_tells_the_story_of_an_object_newest_first(tmp_path):
    path = str(tmp_path / "audit.db")
    with AuditStore.open(path) as s:
        s.record_run(make_run(1, [result(Status.IN_SYNC)], live={KEY: tkc(1, managers=[ARGO])}))
        s.record_run(make_run(2, [result(Status.IN_SYNC)], live={KEY: tkc(1, managers=[ARGO], rv="5", phase="x")}))
        s.record_run(make_run(3, [result(Status.DRIFTED, replicas_drift(1, 3))],
                              live={KEY: tkc(3, managers=[(ARGO[0], ARGO[1], ARGO[2], {}), EDIT], rv="7")}))
        s.record_run(make_run(4, [], live={}, watched=[(KEY.group, KEY.kind)], namespaces=["ns1"]))
        s.record_run(make_run(5, [result(Status.IN_SYNC)], live={KEY: tkc(1, managers=[ARGO], uid="u2")}))
        s.record_run(make_run(6, [result(Status.IN_SYNC)], live={KEY: tkc(1, managers=[ARGO], uid="u3")}))
    res = CliRunner().invoke(report_command, ["changes", "--database", path, "--name", "tkc-1", "-o", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [(e["seen_at"][:10], e["what"]) for e in doc["changes"]] == [
        ("2026-12-06", "recreated"), ("2026-12-05", "created-again"), ("2026-12-04", "deleted"),
        ("2026-12-03", "changed"), ("2026-12-01", "first-seen")]   # day 2 changed status only
    assert doc["changes"][3]["changes"] == [{"path": "spec.topology.workers.count", "change": "modified", "before": 1,
                                             "after": 3, "manager": "kubectl-edit", "operation": "Update",
                                             "time": "2026-12-02T10:00:00Z"}]
    table = CliRunner().invoke(report_command, ["changes", "--database", path, "--since", "2026-12-03",
                                                "--kind", "tanzukubernetescluster"]).output
    assert table.splitlines()[-2:] == [
        "2026-12-03T10:00:00Z  run 3  TanzuKubernetesCluster.run.tanzu.vmware.com ns1/tkc-1  changed",
        "    spec.topology.workers.count: 1 -> 3  kubectl-edit Update 2026-12-02T10:00:00Z"]
    assert "first-seen" not in table
