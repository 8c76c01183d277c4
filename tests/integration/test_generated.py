"""Objects that controllers generate from a Git-declared root (MachineSets and Machines of a
MachineDeployment) are snapshotted and `generated`, not `unmanaged`; a live object with no such
owner is `unmanaged`; neither is ever compared field by field with Git."""

from __future__ import annotations

import json

from driftd.yamlload import load_yaml
from tests.integration.test_check import admin, driftd, git, make_repo, rows, write_config

CAPI = "cluster.x-k8s.io"
MD_YAML = """\
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata:
  name: wl-1-md-0
spec:
  clusterName: wl-1
  replicas: 2
  selector:
    matchLabels: {cluster.x-k8s.io/cluster-name: wl-1}
  template:
    metadata:
      labels: {cluster.x-k8s.io/cluster-name: wl-1}
    spec:
      clusterName: wl-1
      version: v1.29.4
      bootstrap:
        configRef: {apiVersion: bootstrap.cluster.x-k8s.io/v1beta1, kind: KubeadmConfigTemplate, name: wl-1-md-0}
      infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: VSphereMachineTemplate, name: wl-1-worker}
"""


def _owned(kind: str, name: str, namespace: str, owner: dict | None, spec: dict) -> dict:
    meta: dict = {"name": name, "namespace": namespace}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True}]
    return {"apiVersion": f"{CAPI}/v1beta1", "kind": kind, "metadata": meta, "spec": spec}


MS_SPEC = {"clusterName": "wl-1", "replicas": 2, "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "wl-1"}},
           "template": {"spec": {"clusterName": "wl-1", "version": "v1.29.4",
                                 "bootstrap": {"dataSecretName": "boot"},
                                 "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                                       "kind": "VSphereMachineTemplate", "name": "wl-1-worker"}}}}
MACHINE_SPEC = {"clusterName": "wl-1", "version": "v1.29.4", "bootstrap": {"dataSecretName": "boot"},
                "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                      "kind": "VSphereMachine", "name": "m"}}


def test_machinesets_and_machines_of_a_git_machinedeployment_are_generated_not_unmanaged(
        control_plane, namespace, tmp_path):
    repo = make_repo(tmp_path / "repo", {"prod/md.yaml": MD_YAML})
    kube = admin(control_plane)
    md_info = kube.kind_info(CAPI, "MachineDeployment", "v1beta1")
    ms_info = kube.kind_info(CAPI, "MachineSet", "v1beta1")
    m_info = kube.kind_info(CAPI, "Machine", "v1beta1")
    md = kube.apply(md_info, {**load_yaml(MD_YAML), "metadata": {"name": "wl-1-md-0", "namespace": namespace}},
                    field_manager="argocd-controller", force=True)
    # What the MachineDeployment controller would create: a MachineSet owned by the MD, a Machine owned
    # by that MachineSet (two hops from the Git object), and one MachineSet nobody owns.
    ms = kube.apply(ms_info, _owned("MachineSet", "wl-1-md-0-7d9f", namespace, md, MS_SPEC),
                    field_manager="capi-machinedeployment", force=True)
    kube.apply(m_info, _owned("Machine", "wl-1-md-0-7d9f-x1", namespace, ms, MACHINE_SPEC),
               field_manager="capi-machineset", force=True)
    stray = _owned("MachineSet", "hand-made", namespace, None, MS_SPEC)
    kube.apply(ms_info, stray, field_manager="kubectl-create", force=True)

    watch = "watch:\n" + "".join(f"  - {{group: {CAPI}, kind: {k}}}\n" for k in ("MachineDeployment", "MachineSet", "Machine"))
    cfg = write_config(tmp_path, repo, control_plane.kubeconfig, namespace)
    cfg.write_text(cfg.read_text().split("watch:\n")[0] + watch)
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    statuses = {(o["kind"], o["name"]): o["status"] for o in report["objects"]}
    assert statuses == {("MachineDeployment", "wl-1-md-0"): "in-sync",
                        ("MachineSet", "wl-1-md-0-7d9f"): "generated",
                        ("Machine", "wl-1-md-0-7d9f-x1"): "generated",
                        ("MachineSet", "hand-made"): "unmanaged"}
    owners = {o["name"]: o.get("owner") for o in report["objects"] if o["status"] == "generated"}
    assert owners == {n: {"group": CAPI, "kind": "MachineDeployment", "namespace": namespace, "name": "wl-1-md-0"}
                      for n in ("wl-1-md-0-7d9f", "wl-1-md-0-7d9f-x1")}
    assert all(o["drifts"] == [] for o in report["objects"])

    db = tmp_path / "driftd.db"
    assert sorted(r[0] for r in rows(db, "select name from snapshots")) == [
        "hand-made", "wl-1-md-0", "wl-1-md-0-7d9f", "wl-1-md-0-7d9f-x1"]
    assert rows(db, "select kind, name, status from drift_events") == [("MachineSet", "hand-made", "unmanaged")]

    # Declaring the hand-made MachineSet in Git resolves its episode as a Git change.
    (repo / "prod" / "stray.yaml").write_text(json.dumps({**stray, "metadata": {"name": "hand-made"}}))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "adopt the hand-made MachineSet")
    proc = driftd("check", "--config", str(cfg), "--output", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows(db, "select state, resolution from drift_events") == [("resolved", "git-changed")]
    kube.close()
