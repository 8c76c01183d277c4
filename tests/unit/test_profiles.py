"""Normalization profiles: every built-in rule is listed and explained by `driftd profiles`, has an
effect that an example pins (with the rule, and switched off with `normalization: {disable: [name]}`),
and the config's own `ignore:` entries (paths, managers) and `managers:` lists change the verdict."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner

from driftd.cli import main
from driftd.config import ConfigError, parse_config
from driftd.profiles import builtin_rules
from tests.unit.drift_helpers import by_path, diff, one, summary

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def merged(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in (maps merged key by key, anything else replaced)."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def exported(git: dict, extra: dict) -> dict:
    """Live ``git`` plus values the system fills (``extra``), applied once from a manifest exported
    from the live object, so kubectl's last-applied record holds them too: evidence that a profile
    must outweigh."""
    live = merged(git, extra)
    return merged(live, {"metadata": {"annotations": {LAST_APPLIED: json.dumps(live)}}})


def text(obj: dict) -> str:
    return json.dumps(obj)


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}, "data": {"a": "1"}}
SA_TOKEN = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "ci-token", "namespace": "shop",
                         "annotations": {"kubernetes.io/service-account.name": "ci"}}}
HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 4,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "memory", "target": {"type": "AverageValue", "averageValue": "0.5Gi"}}}]}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
       "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
          "spec": {"selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "app", "image": "shop/web:1"}]}}}}
STS = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"},
       "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                             "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}}
CRON = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "job", "image": "shop/job:1"}]}}}}}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "shop"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
TKC = {"apiVersion": "run.tanzu.vmware.com/v1alpha3", "kind": "TanzuKubernetesCluster",
       "metadata": {"name": "tkc", "namespace": "team"},
       "spec": {"topology": {"controlPlane": {"replicas": 1, "vmClass": "small", "storageClass": "gold"},
                             "nodePools": [{"name": "np-1", "replicas": 2, "vmClass": "small", "storageClass": "gold",
                                            "volumes": [{"name": "containerd", "mountPath": "/var/lib/containerd",
                                                         "capacity": {"storage": "50Gi"}}]}]}}}
TKC_V1A1 = {"apiVersion": "run.tanzu.vmware.com/v1alpha1", "kind": "TanzuKubernetesCluster",
            "metadata": {"name": "tkc", "namespace": "team"},
            "spec": {"topology": {"controlPlane": {"count": 1}, "workers": {"count": 2}}}}
MD = {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
      "metadata": {"name": "md-0", "namespace": "team"},
      "spec": {"clusterName": "wl", "template": {"spec": {
          "clusterName": "wl", "version": "1.29.3",
          "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                "kind": "VSphereMachineTemplate", "name": "wl-worker-v1"}}}}}
MP = {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachinePool", "metadata": {"name": "mp-0", "namespace": "team"},
      "spec": {"clusterName": "wl", "template": {"spec": {"clusterName": "wl", "version": "v1.29.3", "infrastructureRef": {
          "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "DockerMachinePool", "name": "mp-0"}}}}}
AUTOSCALED = {"metadata": {"annotations": {
    "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size": "2",
    "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size": "6"}}}
KCP = {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
       "metadata": {"name": "cp", "namespace": "team"}, "spec": {"replicas": 3, "version": "v1.29.3"}}
CLUSTER = {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster", "metadata": {"name": "wl", "namespace": "team"},
           "spec": {"clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}}}}
VSMT = {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate",
        "metadata": {"name": "wl-worker-v1", "namespace": "team"},
        "spec": {"template": {"spec": {"numCPUs": 4, "memoryMiB": 16384, "template": "ubuntu-2204"}}}}


def _swap(obj: dict, *path: str) -> dict:
    """``obj`` with the two items of the list at ``path`` in the other order."""
    out = copy.deepcopy(obj)
    cur = out
    for p in path[:-1]:
        cur = cur[p][0] if isinstance(cur[p], list) else cur[p]
    cur[path[-1]] = list(reversed(cur[path[-1]]))
    return out


@dataclass
class Example:
    """What a rule changes: drifts (path, change) with the rule, and with it switched off."""
    git: dict
    live: dict
    on: list[tuple[str, str]]
    off: list[tuple[str, str]]
    note_on: bool = False  # the drift carries the rule's note only while the rule is on
    why_same: str = ""     # why switching the rule off changes nothing visible


_init = merged(POD, {"spec": {"initContainers": [{"name": "restore", "image": "shop/restore:1"},
                                                   {"name": "migrate", "image": "shop/migrate:1"}]}})
_ports = merged(POD, {"spec": {"containers": [{"name": "app", "image": "shop/app:1",
                                               "ports": [{"containerPort": 80}, {"containerPort": 81}]}]}})
_mounts = merged(POD, {"spec": {"containers": [{"name": "app", "image": "shop/app:1", "volumeMounts": [
    {"name": "cfg", "mountPath": "/etc/a", "subPath": "a"}, {"name": "cfg", "mountPath": "/etc/b", "subPath": "b"}]}]}})
_items = merged(POD, {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "cfg", "items": [
    {"key": "a", "path": "a.conf"}, {"key": "b", "path": "b.conf"}]}}]}})
_vct = merged(STS, {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}, {"metadata": {"name": "wal"}}]}})
_aliases = merged(POD, {"spec": {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]},
                                                 {"ip": "10.0.0.2", "hostnames": ["b"]}]}})
_tolerations = merged(POD, {"spec": {"tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                                  {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}})
_one_toleration = merged(POD, {"spec": {"tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]}})
_svc2 = merged(SVC, {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}})
_vars = merged(CLUSTER, {"spec": {"topology": {"class": "tkg", "version": "v1.29.3", "variables": [
    {"name": "vmClass", "value": "small"}, {"name": "storageClass", "value": "gold"}]}}})
_np = ["spec", "topology", "nodePools"]


def _proxy(value: dict) -> dict:
    return merged(CLUSTER, {"spec": {"topology": {"class": "tkg", "version": "v1.29.3", "variables": [
        {"name": "proxy", "value": value}]}}})


def _kcp_join(node_registration: dict) -> dict:
    return merged(KCP, {"spec": {"kubeadmConfigSpec": {"joinConfiguration": {"nodeRegistration": node_registration}}}})


def _applied(live: dict) -> dict:
    """``live`` as a server-side apply by the GitOps applier leaves it: the applier's Apply entry owns
    the whole object (atomic structs and lists too), so a default inside them reads as "sent"."""
    out = copy.deepcopy(live)
    fields: dict = {}
    for k in out:
        if k not in ("apiVersion", "kind", "metadata"):
            fields[f"f:{k}"] = {}
    out.setdefault("metadata", {})["managedFields"] = [{"manager": "argocd-controller", "operation": "Apply",
                                                        "time": "2026-11-30T10:00:00Z", "fieldsType": "FieldsV1",
                                                        "fieldsV1": fields}]
    return out


def _env_from(pod: dict, value_from: dict, applied: bool = False, containers: str = "containers") -> dict:
    obj = merged(pod, {"spec": {containers: [{"name": "app", "image": "shop/app:1",
                                              "env": [{"name": "POD", "valueFrom": value_from}]}]}})
    return _applied(obj) if applied else obj


PDB = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "ledger", "namespace": "shop"},
       "spec": {"selector": {"matchLabels": {"app": "ledger"}}}}
RB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "ann", "namespace": "shop"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
      "subjects": [{"kind": "User", "name": "ann"}]}
NETPOL = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [{"port": 5432}]}]}}


def _netpol_port(port: dict) -> dict:
    return merged(NETPOL, {"spec": {"ingress": [{"ports": [port]}]}})


def _job_policy(condition: dict) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "etl", "namespace": "shop"},
            "spec": {"podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [condition]}]},
                     "template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "etl", "image": "shop/etl:1"}]}}}}


EXAMPLES: dict[str, Example] = {
    "server-metadata": Example(merged(CM, {"metadata": {"uid": "git-uid"}}), merged(CM, {"metadata": {"uid": "live-uid"}}),
                               [], [("metadata.uid", "modified")]),
    "status": Example(merged(POD, {"status": {"phase": "Pending"}}), merged(POD, {"status": {"phase": "Running"}}),
                      [], [("status.phase", "modified")]),
    "controller-metadata": Example(CM, exported(CM, {"metadata": {"finalizers": ["example.com/cleanup"]}}),
                                   [], [("metadata.finalizers", "added")]),
    "gitops-applier-markers": Example(
        CM, exported(CM, {"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/name": "apps"}}}),
        [], [('metadata.labels["kustomize.toolkit.fluxcd.io/name"]', "added")]),
    "conversion-data-annotations": Example(
        CM, exported(CM, {"metadata": {"annotations": {"cluster.x-k8s.io/conversion-data": "{}"}}}),
        [], [('metadata.annotations["cluster.x-k8s.io/conversion-data"]', "added")]),
    "configmap-secret-data": Example(CM, merged(CM, {"data": {"b": "2"}}), [("data.b", "added")], []),
    "service-account-token-data": Example(
        merged(SA_TOKEN, {}), merged(SA_TOKEN, {"data": {"token": "ZXlK", "namespace": "c2hvcA=="}}),
        [], [("data.namespace", "added"), ("data.token", "added")]),
    "label-map-values": Example(merged(CM, {"metadata": {"labels": {"app": "web", "tier": ""}}}),
                                merged(CM, {"metadata": {"labels": {"app": "web"}}}),
                                [("metadata.labels.tier", "removed")], []),
    "core-string-map-values": Example(merged(CM, {"data": {"LEGACY_TAX": ""}}), CM,
                                      [("data.LEGACY_TAX", "removed")], []),
    "resource-quantities": Example(
        merged(POD, {"spec": {"containers": [{"name": "app", "image": "shop/app:1",
                                              "resources": {"requests": {"cpu": 0.5}}}]}}),
        merged(POD, {"spec": {"containers": [{"name": "app", "image": "shop/app:1",
                                              "resources": {"requests": {"cpu": "500m"}}}]}}),
        [], [("spec.containers[name=app].resources.requests.cpu", "modified")]),
    "hpa-metric-quantities": Example(
        HPA, merged(HPA, {"spec": {"metrics": [{"type": "Resource", "resource": {
            "name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}}]}}),
        [], [("spec.metrics[0].resource.target.averageValue", "modified")]),
    "container-ports-key": Example(_ports, _swap(_ports, "spec", "containers", "ports"), [],
                                   [("spec.containers[name=app].ports[0].containerPort", "modified"),
                                    ("spec.containers[name=app].ports[1].containerPort", "modified")]),
    "init-containers-order": Example(_init, _swap(_init, "spec", "initContainers"),
                                     [("spec.initContainers", "modified")], []),
    "service-ports-key": Example(_svc2, _swap(_svc2, "spec", "ports"), [],
                                 [("spec.ports[0].port", "modified"), ("spec.ports[0].targetPort", "modified"),
                                  ("spec.ports[1].port", "modified"), ("spec.ports[1].targetPort", "modified")]),
    "volume-mounts-key": Example(_mounts, _swap(_mounts, "spec", "containers", "volumeMounts"), [],
                                 [("spec.containers[name=app].volumeMounts[0].mountPath", "modified"),
                                  ("spec.containers[name=app].volumeMounts[0].subPath", "modified"),
                                  ("spec.containers[name=app].volumeMounts[1].mountPath", "modified"),
                                  ("spec.containers[name=app].volumeMounts[1].subPath", "modified")]),
    "key-to-path-items-key": Example(
        _items, merged(_items, {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "cfg", "items": [
            {"key": "b", "path": "b.conf"}, {"key": "a", "path": "a.conf"}]}}]}}), [],
        [("spec.volumes[name=cfg].configMap.items[0].key", "modified"),
         ("spec.volumes[name=cfg].configMap.items[0].path", "modified"),
         ("spec.volumes[name=cfg].configMap.items[1].key", "modified"),
         ("spec.volumes[name=cfg].configMap.items[1].path", "modified")]),
    "volume-claim-templates-key": Example(_vct, _swap(_vct, "spec", "volumeClaimTemplates"), [],
                                          [("spec.volumeClaimTemplates[0].metadata.name", "modified"),
                                           ("spec.volumeClaimTemplates[1].metadata.name", "modified")]),
    "host-aliases-key": Example(_aliases, _swap(_aliases, "spec", "hostAliases"), [],
                                [("spec.hostAliases[0].hostnames", "modified"), ("spec.hostAliases[0].ip", "modified"),
                                 ("spec.hostAliases[1].hostnames", "modified"), ("spec.hostAliases[1].ip", "modified")]),
    "tolerations-key": Example(_tolerations, _swap(_tolerations, "spec", "tolerations"), [],
                               [("spec.tolerations[0].key", "modified"), ("spec.tolerations[1].effect", "removed"),
                                ("spec.tolerations[1].key", "modified")]),
    "pod-default-tolerations": Example(
        _one_toleration, merged(_one_toleration, {"spec": {"tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]},
            "metadata": {"managedFields": [{"manager": "argocd-controller", "operation": "Apply", "fieldsType": "FieldsV1",
                                            "time": "2026-11-01T08:00:00Z", "fieldsV1": {"f:spec": {"f:tolerations": {}}}}]}}),
        [], [("spec.tolerations[key=node.kubernetes.io/not-ready,effect=NoExecute]", "added")]),
    "pod-spec-defaults": Example(POD, exported(POD, {"spec": {"dnsPolicy": "ClusterFirst"}}),
                                 [], [("spec.dnsPolicy", "added")]),
    "workload-defaults": Example(DEPLOY, exported(DEPLOY, {"spec": {"revisionHistoryLimit": 10}}),
                                 [], [("spec.revisionHistoryLimit", "added")]),
    "workload-default-replicas": Example(DEPLOY, exported(DEPLOY, {"spec": {"replicas": 1}}),
                                         [], [("spec.replicas", "added")]),
    "job-defaults": Example(CRON, exported(CRON, {"spec": {"concurrencyPolicy": "Allow"}}),
                            [], [("spec.concurrencyPolicy", "added")]),
    "pointer-zero-values": Example(merged(POD, {"spec": {"automountServiceAccountToken": False}}), POD,
                                   [("spec.automountServiceAccountToken", "removed")], []),
    "pointer-zero-values-policy": Example(merged(PDB, {"spec": {"maxUnavailable": 0}}), PDB,
                                          [("spec.maxUnavailable", "removed")], []),
    "fieldref-api-version": Example(  # an init container's env: pod-spec-defaults covers containers' own
        _env_from(POD, {"fieldRef": {"fieldPath": "metadata.name"}}, containers="initContainers"),
        _env_from(POD, {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}, applied=True,
                  containers="initContainers"),
        [], [("spec.initContainers[name=app].env[name=POD].valueFrom.fieldRef.apiVersion", "added")]),
    "resource-field-divisor": Example(
        _env_from(POD, {"resourceFieldRef": {"resource": "limits.memory"}}),
        _env_from(POD, {"resourceFieldRef": {"resource": "limits.memory", "divisor": "0"}}, applied=True),
        [], [("spec.containers[name=app].env[name=POD].valueFrom.resourceFieldRef.divisor", "added")]),
    "rbac-subject-api-group": Example(RB, _applied(merged(RB, {"subjects": [{"kind": "User", "name": "ann",
                                                                           "apiGroup": "rbac.authorization.k8s.io"}]})),
                                      [], [("subjects[name=ann].apiGroup", "added")]),
    "network-policy-port-protocol": Example(NETPOL, _applied(_netpol_port({"port": 5432, "protocol": "TCP"})),
                                            [], [("spec.ingress[0].ports[0].protocol", "added")]),
    "job-pod-failure-condition-status": Example(
        _job_policy({"type": "DisruptionTarget"}), _applied(_job_policy({"type": "DisruptionTarget", "status": "True"})),
        [], [("spec.podFailurePolicy.rules[0].onPodConditions[0].status", "added")]),
    "service-allocated": Example(SVC, exported(SVC, {"spec": {"clusterIP": "10.96.0.42"}}),
                                 [], [("spec.clusterIP", "added")]),
    "int-or-string-ports": Example(merged(SVC, {"spec": {"ports": [{"port": 80, "targetPort": "8080"}]}}), SVC,
                                   [], [("spec.ports[port=80,protocol=TCP].targetPort", "modified")]),
    "namespace-defaults": Example(NS, exported(NS, {"spec": {"finalizers": ["kubernetes"]}}),
                                  [], [("spec.finalizers", "added")]),
    "pvc-binding": Example(PVC, exported(PVC, {"spec": {"volumeName": "pv-0042"}}), [], [("spec.volumeName", "added")]),
    "tkc-distribution-resolved": Example(
        TKC, exported(TKC, {"spec": {"distribution": {"fullVersion": "v1.26.5+vmware.2-tkg.1"}}}),
        [], [("spec.distribution.fullVersion", "added")]),
    "tkc-tkr-version-resolution": Example(
        merged(TKC, {"spec": {"distribution": {"version": "1.21.6"}}}),
        merged(TKC, {"spec": {"distribution": {"version": "v1.21.6+vmware.1-tkg.1.b3d708a"}}}),
        [], [("spec.distribution.version", "modified")]),
    "tkc-network-defaults": Example(TKC, exported(TKC, {"spec": {"settings": {"network": {"cni": {"name": "antrea"}}}}}),
                                    [], [("spec.settings.network.cni.name", "added")]),
    "tkc-tkr-reference-filled": Example(
        TKC, exported(TKC, {"spec": {"topology": {"controlPlane": {"tkr": {"reference": {"name": "v1.26.5"}}}}}}),
        [], [("spec.topology.controlPlane.tkr.reference.name", "added")]),
    "tkc-controller-metadata": Example(TKC, exported(TKC, {"metadata": {"labels": {"run.tanzu.vmware.com/tkr": "v1.26.5"}}}),
                                       [], [('metadata.labels["run.tanzu.vmware.com/tkr"]', "added")]),
    "tkc-durations": Example(
        merged(TKC, {"spec": {"topology": {"nodePools": [dict(TKC["spec"]["topology"]["nodePools"][0],
                                                              nodeDrainTimeout="300s")]}}}),
        merged(TKC, {"spec": {"topology": {"nodePools": [dict(TKC["spec"]["topology"]["nodePools"][0],
                                                              nodeDrainTimeout="5m0s")]}}}),
        [], [("spec.topology.nodePools[name=np-1].nodeDrainTimeout", "modified")]),
    "tkc-v1alpha1-topology-paths": Example(
        TKC_V1A1, merged(TKC_V1A1, {
            "spec": {"topology": {"workers": {"class": "big"}}},
            "metadata": {"managedFields": [{"manager": "kubectl-edit", "operation": "Update",
                                            "apiVersion": "run.tanzu.vmware.com/v1alpha3",
                                            "time": "2026-12-04T07:00:00Z", "fieldsType": "FieldsV1",
                                            "fieldsV1": {"f:spec": {"f:topology": {"f:nodePools": {
                                                'k:{"name":"workers"}': {"f:vmClass": {}}}}}}}]}}),
        [("spec.topology.workers.class", "added")], []),
    "tkc-capacity-quantities": Example(
        TKC, merged(TKC, {"spec": {"topology": {"nodePools": [dict(TKC["spec"]["topology"]["nodePools"][0], volumes=[
            {"name": "containerd", "mountPath": "/var/lib/containerd", "capacity": {"storage": "51200Mi"}}])]}}}),
        [], [("spec.topology.nodePools[name=np-1].volumes[name=containerd].capacity.storage", "modified")]),
    "capi-version-v-prefix": Example(MD, merged(MD, {"spec": {"template": {"spec": {"version": "v1.29.3"}}}}),
                                     [], [("spec.template.spec.version", "modified")]),
    "capi-cluster-topology-version": Example(
        merged(CLUSTER, {"spec": {"topology": {"class": "tkg", "version": "v1.29.3"}}}),
        merged(CLUSTER, {"spec": {"topology": {"class": "tkg", "version": "v1.29.3+vmware.1-tkg.1"}}}),
        [], [("spec.topology.version", "modified")]),
    "capi-durations": Example(merged(MD, {"spec": {"template": {"spec": {"nodeDrainTimeout": "5m"}}}}),
                              merged(MD, {"spec": {"template": {"spec": {"nodeDrainTimeout": "5m0s"}}}}),
                              [], [("spec.template.spec.nodeDrainTimeout", "modified")]),
    "capi-cluster-name-labels": Example(MD, exported(MD, {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "wl"}}}),
                                        [], [('metadata.labels["cluster.x-k8s.io/cluster-name"]', "added")]),
    "capi-machinedeployment-defaults": Example(MD, exported(MD, {"spec": {"progressDeadlineSeconds": 600}}),
                                               [], [("spec.progressDeadlineSeconds", "added")]),
    "capi-machinepool-defaults": Example(MP, exported(MP, {"spec": {"template": {"spec": {"nodeDeletionTimeout": "10s"}}}}),
                                         [], [("spec.template.spec.nodeDeletionTimeout", "added")]),
    "capi-default-replicas": Example(MD, exported(MD, {"spec": {"replicas": 1}}), [], [("spec.replicas", "added")]),
    "capi-autoscaler-replicas": Example(merged(merged(MD, AUTOSCALED), {"spec": {"replicas": 3}}),
                                        merged(merged(MD, AUTOSCALED), {"spec": {"replicas": 5}}),
                                        [], [("spec.replicas", "modified")]),
    "capi-ref-namespaces": Example(
        MD, exported(MD, {"spec": {"template": {"spec": {"infrastructureRef": {"namespace": "team"}}}}}),
        [], [("spec.template.spec.infrastructureRef.namespace", "added")]),
    "capi-node-registration-taints": Example(
        _kcp_join({"criSocket": "/run/containerd/containerd.sock", "taints": []}),
        _kcp_join({"criSocket": "/run/containerd/containerd.sock"}),
        [("spec.kubeadmConfigSpec.joinConfiguration.nodeRegistration.taints", "removed")], []),
    "capi-kcp-defaults": Example(KCP, exported(KCP, {"spec": {"rolloutStrategy": {"type": "RollingUpdate"}}}),
                                 [], [("spec.rolloutStrategy.type", "added")]),
    "capi-cluster-defaults": Example(CLUSTER, exported(CLUSTER, {"spec": {"clusterNetwork": {"serviceDomain": "cluster.local"}}}),
                                     [], [("spec.clusterNetwork.serviceDomain", "added")]),
    "capi-topology-variables-key": Example(
        _vars, _swap(_vars, "spec", "topology", "variables"), [], [],
        why_same="items that all have a name are keyed by it anyway; the rule states it for Cluster topologies"),
    "capi-topology-variable-values": Example(
        _proxy({"enabled": False}), _proxy({}),
        [("spec.topology.variables[name=proxy].value.enabled", "removed")], []),
    "vsphere-machine-template-immutable": Example(
        VSMT, merged(VSMT, {"spec": {"template": {"spec": {"numCPUs": 8}}}}),
        [("spec.template.spec.numCPUs", "modified")], [("spec.template.spec.numCPUs", "modified")], note_on=True),
}


def test_every_built_in_rule_has_an_example_of_its_effect():
    assert sorted(EXAMPLES) == sorted(r.name for r in builtin_rules())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rule_effect_and_switching_it_off_in_the_config(name):
    ex = EXAMPLES[name]
    on = one(diff(text(ex.git), text(ex.live)))
    off = one(diff(text(ex.git), text(ex.live), config=f"normalization: {{disable: [{name}]}}\n"))
    assert sorted((d.path_text, d.change.value) for d in on.drifts) == sorted(ex.on)
    assert sorted((d.path_text, d.change.value) for d in off.drifts) == sorted(ex.off)
    assert ex.on != ex.off or ex.note_on or ex.why_same
    if ex.note_on:
        assert all(d.note for d in on.drifts) and not any(d.note for d in off.drifts)


# ----------------------------------------------------------------------------- driftd profiles


def test_profiles_lists_every_rule_in_table_and_json():
    names = [r.name for r in builtin_rules()]
    res = CliRunner().invoke(main, ["profiles"])
    assert res.exit_code == 0
    header, *lines = res.output.splitlines()
    assert header.split() == ["PROFILE", "RULE", "ACTION", "KINDS"]
    listed = [line.split()[1] for line in lines if line.strip()]
    assert listed == names
    res = CliRunner().invoke(main, ["profiles", "-o", "json"])
    assert [r["name"] for r in json.loads(res.output)["rules"]] == names


def test_profiles_table_never_cuts_a_kind_name():
    rules = json.loads(CliRunner().invoke(main, ["profiles", "-o", "json"]).output)["rules"]
    header, *lines = CliRunner().invoke(main, ["profiles"]).output.splitlines()
    column = header.index("KINDS")
    assert any(len(r["kinds"]) > 6 for r in rules)        # the table has to shorten some
    for rule, line in zip(rules, lines):
        cell = line[column:].split(", ")
        more = int(cell.pop()[1:].split()[0]) if cell[-1].startswith("+") else 0
        assert cell == rule["kinds"][:len(cell)], line       # whole names, in order
        assert len(cell) + more == len(rule["kinds"]), line


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.name)
def test_explain_shows_one_rule_in_full(rule):
    res = CliRunner().invoke(main, ["profiles", "--explain", rule.name])
    assert res.exit_code == 0, res.output
    lines = dict(line.split(": ", 1) for line in res.output.splitlines())
    assert (lines["name"], lines["action"], lines["profile"], lines["why"]) == (rule.name, rule.action,
                                                                                 rule.profile, rule.why)
    assert rule.why.strip(), f"rule {rule.name} must say why it exists"
    res = CliRunner().invoke(main, ["profiles", "--explain", rule.name, "-o", "json"])
    [described] = json.loads(res.output)["rules"]
    assert described == rule.describe()


def test_explain_of_an_unknown_rule_fails_naming_it():
    res = CliRunner().invoke(main, ["profiles", "--explain", "no-such-rule"])
    assert res.exit_code == 2 and "no-such-rule" in res.output


def test_disabling_an_unknown_rule_is_a_config_error():
    with pytest.raises(ConfigError, match="no-such-rule"):
        parse_config({"normalization": {"disable": ["no-such-rule"]}})


# ----------------------------------------------------------------------------- config ignore / managers


def _deploy(replicas: int, image: str, managers: list[tuple[str, dict]], namespace: str = "shop") -> str:
    obj = merged(DEPLOY, {"metadata": {"namespace": namespace}, "spec": {"replicas": replicas}})
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    obj["metadata"]["managedFields"] = [
        {"manager": m, "operation": "Update", "time": f"2026-11-30T1{i}:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": f} for i, (m, f) in enumerate(managers)]
    return text(obj)


REPLICAS = {"f:spec": {"f:replicas": {}}}
IMAGE = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"app"}': {"f:image": {}}}}}}}


def test_config_ignore_by_paths_suppresses_that_drift_only():
    git = _deploy(2, "shop/web:1", [])
    live = _deploy(5, "shop/web:2", [("kubectl-scale", REPLICAS), ("kubectl-set", IMAGE)])
    cfg = "ignore:\n  - {group: apps, kind: Deployment, paths: [spec.replicas]}\n"
    assert summary(one(diff(git, live, config=cfg))) == [
        ("spec.template.spec.containers[name=app].image", "modified", "shop/web:1", "shop/web:2", "out-of-band")]
    assert len(one(diff(git, live)).drifts) == 2


def test_config_ignore_by_group_alone_covers_that_group_only():
    git = _deploy(2, "shop/web:1", [])
    live = _deploy(5, "shop/web:1", [("kubectl-scale", REPLICAS)])
    apps = "ignore:\n  - {group: apps, paths: [spec.replicas]}\n"
    capi = "ignore:\n  - {group: cluster.x-k8s.io, paths: [spec.replicas]}\n"
    assert one(diff(git, live, config=apps)).drifts == []
    assert [d.path_text for d in one(diff(git, live, config=capi)).drifts] == ["spec.replicas"]


def test_config_ignore_by_paths_is_limited_to_its_namespace_and_name():
    git = _deploy(2, "shop/web:1", [])
    live = _deploy(5, "shop/web:1", [("kubectl-scale", REPLICAS)])
    other_ns = "ignore:\n  - {kind: Deployment, namespace: staging, paths: [spec.replicas]}\n"
    other_name = "ignore:\n  - {kind: Deployment, name: api, paths: ['spec.*']}\n"
    same = "ignore:\n  - {kind: Deployment, namespace: shop, name: web, paths: ['spec.*']}\n"
    assert [d.path_text for d in one(diff(git, live, config=other_ns)).drifts] == ["spec.replicas"]
    assert [d.path_text for d in one(diff(git, live, config=other_name)).drifts] == ["spec.replicas"]
    assert one(diff(git, live, config=same)).drifts == []


def test_config_ignore_by_manager_suppresses_what_that_manager_wrote():
    git = _deploy(2, "shop/web:1", [])
    live = _deploy(5, "shop/web:2", [("keda-operator", REPLICAS), ("kubectl-set", IMAGE)])
    cfg = "ignore:\n  - {managers: ['keda-*']}\n"
    assert [d.path_text for d in one(diff(git, live, config=cfg)).drifts] == [
        "spec.template.spec.containers[name=app].image"]


def test_config_ignore_with_paths_and_managers_needs_both_to_match():
    git = _deploy(2, "shop/web:1", [])
    cfg = "ignore:\n  - {kind: Deployment, paths: [spec.replicas], managers: [keda-operator]}\n"
    by_keda = _deploy(5, "shop/web:2", [("keda-operator", REPLICAS), ("keda-operator", IMAGE)])
    by_hand = _deploy(5, "shop/web:1", [("kubectl-scale", REPLICAS)])
    assert [d.path_text for d in one(diff(git, by_keda, config=cfg)).drifts] == [
        "spec.template.spec.containers[name=app].image"]
    assert [d.path_text for d in one(diff(git, by_hand, config=cfg)).drifts] == ["spec.replicas"]


def test_config_ignore_with_a_glob_path():
    git = text(merged(CM, {"metadata": {"labels": {"app": "web"}}}))
    live = text(merged(CM, {"metadata": {"labels": {"app": "web", "team.example.com/owner": "alice"},
                                         "managedFields": [{"manager": "kubectl-label", "operation": "Update",
                                                            "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {
                                                                "f:labels": {"f:team.example.com/owner": {}}}}}]}}))
    cfg = "ignore:\n  - {kind: ConfigMap, paths: ['metadata.labels[\"team.example.com/*\"]']}\n"
    assert one(diff(git, live)).drifts[0].path_text == 'metadata.labels["team.example.com/owner"]'
    assert one(diff(git, live, config=cfg)).drifts == []


def test_config_out_of_band_managers_replace_the_default_list():
    git = text(DEPLOY)
    live = text(merged(DEPLOY, {"metadata": {"labels": {"tier": "gold"}, "managedFields": [
        {"manager": "ops-console", "operation": "Update", "time": "2026-11-30T10:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}}}]}}))
    assert one(diff(git, live)).drifts == []
    obj = one(diff(git, live, config="managers:\n  out_of_band: [ops-console, 'kubectl-*']\n"))
    assert summary(obj) == [("metadata.labels.tier", "added", None, "gold", "out-of-band")]
    assert by_path(obj)["metadata.labels.tier"].evidence.manager == "ops-console"


def test_config_gitops_managers_decide_removed_in_git():
    git = text(DEPLOY)
    live = text(merged(DEPLOY, {"metadata": {"labels": {"canary": "true"}, "managedFields": [
        {"manager": "fleet-agent", "operation": "Apply", "time": "2026-11-30T10:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:canary": {}}}}}]}}))
    assert one(diff(git, live)).drifts == []
    obj = one(diff(git, live, config="managers:\n  gitops: [fleet-agent]\n"))
    assert summary(obj) == [("metadata.labels.canary", "added", None, "true", "removed-in-git")]
