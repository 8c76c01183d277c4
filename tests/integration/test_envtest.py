"""The local control plane works for real: version, CRDs with webhook conversion, RBAC, stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client as kclient
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ForbiddenError

from driftd.envtest.controlplane import ControlPlane
from driftd.envtest.webhooks import CONVERSION_ANNOTATION

REPO = Path(__file__).resolve().parents[2]
TKC = "run.tanzu.vmware.com"


@pytest.fixture
def dyn(control_plane):
    api = control_plane.api_client()
    yield DynamicClient(api)
    api.close()


def _tkc(dyn: DynamicClient, version: str):
    return dyn.resources.get(api_version=f"{TKC}/{version}", kind="TanzuKubernetesCluster")


def test_version(control_plane):
    api = control_plane.api_client()
    try:
        info = kclient.VersionApi(api).get_code()
    finally:
        api.close()
    assert info.git_version == "v1.36.3"


def test_tkc_v1alpha1_workers_survive_conversion(control_plane, namespace, dyn):
    body = {
        "apiVersion": f"{TKC}/v1alpha1",
        "kind": "TanzuKubernetesCluster",
        "metadata": {"name": "tkc-a1", "namespace": namespace},
        "spec": {
            "distribution": {"version": "v1.26"},
            "topology": {
                "controlPlane": {"count": 1, "class": "best-effort-small", "storageClass": "vsan-default"},
                "workers": {"count": 1, "class": "best-effort-small", "storageClass": "vsan-default",
                            "volumes": [{"name": "containerd", "mountPath": "/var/lib/containerd",
                                         "capacity": {"storage": "16Gi"}}]},
            },
            "settings": {"network": {"cni": {"name": "antrea"}, "pods": {"cidrBlocks": ["192.168.0.0/16"]}}},
        },
    }
    dyn.server_side_apply(_tkc(dyn, "v1alpha1"), body=body, field_manager="argocd-controller", namespace=namespace)

    a1 = dyn.get(_tkc(dyn, "v1alpha1"), name="tkc-a1", namespace=namespace).to_dict()
    assert a1["apiVersion"] == f"{TKC}/v1alpha1"
    assert a1["spec"]["topology"]["workers"]["count"] == 1
    assert a1["spec"]["topology"]["workers"]["volumes"][0]["capacity"]["storage"] == "16Gi"
    assert a1["spec"]["topology"]["controlPlane"]["class"] == "best-effort-small"

    a3 = dyn.get(_tkc(dyn, "v1alpha3"), name="tkc-a1", namespace=namespace).to_dict()
    assert a3["apiVersion"] == f"{TKC}/v1alpha3"
    pools = a3["spec"]["topology"]["nodePools"]
    assert pools[0]["name"] == "workers" and pools[0]["replicas"] == 1
    assert pools[0]["vmClass"] == "best-effort-small"
    assert a3["spec"]["topology"]["controlPlane"]["replicas"] == 1
    assert a3["spec"]["settings"]["network"]["cni"]["name"] == "antrea"
    assert CONVERSION_ANNOTATION not in (a3["metadata"].get("annotations") or {})
    assert CONVERSION_ANNOTATION not in (a1["metadata"].get("annotations") or {})
    managers = {m["manager"] for m in a3["metadata"]["managedFields"]}
    assert "argocd-controller" in managers
    assert any(path == "/convert/tkc" for path, _ in control_plane.webhooks.requests)


def test_tkc_round_trip_is_lossless(control_plane, namespace, dyn):
    spec = {
        "distribution": {"fullVersion": "v1.26.5+vmware.2-fips.1-tkg.1"},
        "topology": {
            "controlPlane": {"replicas": 3, "vmClass": "guaranteed-medium", "storageClass": "vsan-default",
                             "tkr": {"reference": {"name": "v1.26.5---vmware.2-fips.1-tkg.1"}}},
            "nodePools": [
                {"name": "np-a", "replicas": 2, "vmClass": "guaranteed-large", "storageClass": "vsan-default",
                 "labels": {"pool": "a"}},
                {"name": "np-b", "replicas": 1, "vmClass": "best-effort-small"},
            ],
        },
    }
    body = {"apiVersion": f"{TKC}/v1alpha3", "kind": "TanzuKubernetesCluster",
            "metadata": {"name": "tkc-a3", "namespace": namespace}, "spec": spec}
    dyn.server_side_apply(_tkc(dyn, "v1alpha3"), body=body, field_manager="argocd-controller", namespace=namespace)

    a1 = dyn.get(_tkc(dyn, "v1alpha1"), name="tkc-a3", namespace=namespace).to_dict()
    assert a1["spec"]["topology"]["workers"]["count"] == 2
    assert CONVERSION_ANNOTATION in a1["metadata"]["annotations"]
    a2 = dyn.get(_tkc(dyn, "v1alpha2"), name="tkc-a3", namespace=namespace).to_dict()
    assert a2["spec"] == spec
    # a write through v1alpha1 goes back through the annotation and keeps the second pool and the tkr
    a1["spec"]["topology"]["workers"]["count"] = 4
    dyn.replace(_tkc(dyn, "v1alpha1"), body=a1, namespace=namespace)
    a3 = dyn.get(_tkc(dyn, "v1alpha3"), name="tkc-a3", namespace=namespace).to_dict()
    assert [p["replicas"] for p in a3["spec"]["topology"]["nodePools"]] == [4, 1]
    assert a3["spec"]["topology"]["nodePools"][0]["labels"] == {"pool": "a"}
    assert a3["spec"]["topology"]["controlPlane"]["tkr"]["reference"]["name"].startswith("v1.26.5")
    assert CONVERSION_ANNOTATION not in (a3["metadata"].get("annotations") or {})


def test_rbac_for_added_user(control_plane, dyn):
    kubeconfig = control_plane.add_user("argocd-admin")
    user_api = control_plane.api_client(kubeconfig)
    try:
        user = DynamicClient(user_api)
        res = _tkc(user, "v1alpha3")  # discovery is open to every authenticated user
        with pytest.raises(ForbiddenError) as err:
            user.get(res)
        assert err.value.status == 403

        crb = dyn.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding")
        dyn.create(crb, body={
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "argocd-admin-cluster-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "argocd-admin"}],
        })
        deadline = time.monotonic() + 10
        while True:
            try:
                listed = user.get(res)
                break
            except ForbiddenError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert listed.kind == "TanzuKubernetesClusterList"
    finally:
        user_api.close()


def test_cluster_api_crds_accept_examples(control_plane, namespace, dyn):
    cluster = "wl-1"
    infra_ref = {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate",
                 "name": f"{cluster}-worker"}
    boot_ref = {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate",
                "name": f"{cluster}-md-0"}
    objects = [
        {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
         "metadata": {"name": cluster},
         "spec": {"clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]},
                                     "services": {"cidrBlocks": ["10.96.0.0/12"]}},
                  "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                                      "kind": "KubeadmControlPlane", "name": f"{cluster}-cp"},
                  "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                        "kind": "VSphereCluster", "name": cluster}}},
        {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate",
         "metadata": {"name": f"{cluster}-worker"},
         "spec": {"template": {"spec": {
             "template": "ubuntu-2204-kube-v1.29.4", "cloneMode": "linkedClone", "numCPUs": 4,
             "memoryMiB": 16384, "diskGiB": 40, "datacenter": "dc0", "datastore": "ds0", "folder": "vm/tkg",
             "resourcePool": "rp0", "server": "vcenter.example.com", "storagePolicyName": "vsan-default",
             "network": {"devices": [{"networkName": "VM Network", "dhcp4": True}]}}}}},
        {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
         "metadata": {"name": f"{cluster}-cp"},
         "spec": {"replicas": 3, "version": "v1.29.4",
                  "machineTemplate": {"infrastructureRef": {**infra_ref, "name": f"{cluster}-cp"}},
                  "kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"extraArgs": {"cloud-provider": "external"}}},
                                        "files": [{"path": "/etc/x", "content": "y"}]},
                  "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
         "metadata": {"name": f"{cluster}-md-0"},
         "spec": {"clusterName": cluster, "replicas": 3,
                  "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": cluster}},
                  "template": {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": cluster}},
                               "spec": {"clusterName": cluster, "version": "v1.29.4",
                                        "bootstrap": {"configRef": boot_ref}, "infrastructureRef": infra_ref}}}},
        {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineSet",
         "metadata": {"name": f"{cluster}-md-0-abcde"},
         "spec": {"clusterName": cluster, "replicas": 3,
                  "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": cluster}},
                  "template": {"spec": {"clusterName": cluster, "version": "v1.29.4",
                                        "bootstrap": {"configRef": boot_ref}, "infrastructureRef": infra_ref}}}},
        {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Machine",
         "metadata": {"name": f"{cluster}-md-0-abcde-x1"},
         "spec": {"clusterName": cluster, "version": "v1.29.4", "bootstrap": {"dataSecretName": "boot"},
                  "infrastructureRef": {**infra_ref, "kind": "VSphereMachine"}}},
    ]
    schema_defaults = {  # tests/crds fill what Cluster API's v1beta1 defaulting fills
        "MachineDeployment": {"minReadySeconds": 0, "revisionHistoryLimit": 1, "progressDeadlineSeconds": 600,
                              "strategy": {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
    }
    for obj in objects:
        res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        created = dyn.create(res, body=obj, namespace=namespace).to_dict()
        # nothing pruned; only the schema's defaults added
        assert created["spec"] == {**schema_defaults.get(obj["kind"], {}), **obj["spec"]}, obj["kind"]

    md = dyn.resources.get(api_version="cluster.x-k8s.io/v1beta1", kind="MachineDeployment")
    scale = dyn.get(md.subresources["scale"], name=f"{cluster}-md-0", namespace=namespace)
    assert scale.spec.replicas == 3


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stop_leaves_no_process(control_plane, tmp_path):
    cp = ControlPlane(tmp_path / "cp", control_plane.control_plane.binaries)
    cp.start()
    pids = cp.pids()
    assert set(pids) == {"etcd", "kube-apiserver"}
    assert all(_alive(p) for p in pids.values())
    cp.stop()
    assert not any(_alive(p) for p in pids.values()), pids
    assert cp.running() == {}


def test_cli_start_detaches_and_stop_by_pid_files(control_plane, tmp_path):
    d = tmp_path / "cli"
    cli = [sys.executable, str(REPO / "scripts" / "control-plane")]
    env = {**os.environ, "KUBEBUILDER_ASSETS": str(control_plane.control_plane.binaries)}
    out = subprocess.run([*cli, "start", "--dir", str(d)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"KUBECONFIG={d.resolve() / 'admin.kubeconfig'}" in out.stdout
    pids = ControlPlane(d).pids()
    try:
        assert pids and all(_alive(p) for p in pids.values())  # still running after the CLI exited
        user = subprocess.run([*cli, "add-user", "--dir", str(d), "alice", "--group", "devs"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert user.returncode == 0, user.stderr
        assert Path(user.stdout.strip()).exists()
    finally:
        stop = subprocess.run([*cli, "stop", "--dir", str(d)], capture_output=True, text=True, env=env, timeout=60)
    assert stop.returncode == 0, stop.stderr
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids.values()), pids


def test_mutating_admission_webhook_from_the_test_process(control_plane, namespace, dyn):
    from driftd.envtest.webhooks import admission_response

    path = f"/mutate/{namespace}"

    def add_label(review):
        return admission_response(review, patch=[
            {"op": "add", "path": "/metadata/labels", "value": {"mutated-by": "webhook"}}])

    control_plane.webhooks.add_handler(path, add_label)
    mwc = dyn.resources.get(api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration")
    name = f"test-{namespace}"
    dyn.create(mwc, body={
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "label.driftd.test", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "clientConfig": control_plane.webhooks.client_config(path),
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["configmaps"]}],
        }],
    })
    try:
        cm = dyn.resources.get(api_version="v1", kind="ConfigMap")
        deadline = time.monotonic() + 10
        while True:  # the webhook configuration reaches the admission chain asynchronously
            n = f"cm-{int(time.monotonic() * 1000)}"
            created = dyn.create(cm, body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n},
                                           "data": {"a": "b"}}, namespace=namespace).to_dict()
            if (created["metadata"].get("labels") or {}).get("mutated-by") == "webhook" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert created["metadata"]["labels"] == {"mutated-by": "webhook"}
        assert any(p == path and r["request"]["kind"]["kind"] == "ConfigMap"
                   for p, r in control_plane.webhooks.requests)
    finally:
        dyn.delete(mwc, name=name)
        control_plane.webhooks.remove_handler(path)
