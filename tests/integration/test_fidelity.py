"""Verdict fidelity on the real control plane: the API server fills values the way a Supervisor does
(a TKR-resolver-like mutating admission webhook served over HTTPS by this process, CRD
structural-schema defaults, built-in defaulting and allocation), a cycle right after a sync says
in-sync, and a person's edit is exactly the drift it made, with its manager.

The handed cases of ../shared/cases are replayed here where their kinds exist on this server
(``REPLAYED``): ``desired.yaml`` is applied the way the case says (``argocd-controller`` server-side
apply), the live change is made by whoever made it in the case, a cycle runs through a real Git
repository, and the report must pass the cases' own matching rules (``check_case.py``). Each replayed
kind has variants that are not the handed inputs. ``OFFLINE_ONLY`` says why the rest cannot be
reproduced here (they stay covered by ``driftd diff`` in tests/unit/test_shared_cases.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from driftd.envtest.crds import install_crds
from driftd.envtest.webhooks import (CAPI_DEFAULTING_RULES, CLUSTER_NAME_LABEL, TKR_LABEL, TKR_RESOLVER_RULES,
                                     capi_defaulting, tkr_resolver)
from tests.integration.fidelity import (GITOPS, PERSON, GitSync, apply_as_gitops, client_side_apply, connect,
                                        delete_mutating_webhook, edit, fresh, info_of, label_namespace, objects_of,
                                        owners, register_mutating_webhook, renamed_expected, wait_until_mutated)
from tests.shared_cases import case_dir, check_case, expected

REPO = Path(__file__).resolve().parents[2]
SEED = (REPO / "config" / "examples" / "prod" / "tkc-prod-demo01.yaml").read_text()
TKC = ("run.tanzu.vmware.com", "TanzuKubernetesCluster")
CAPI = "cluster.x-k8s.io"
RESOLVER_LABEL = ("driftd.envtest/tkr-resolver", "on")
RESOLVER_PATH = "/mutate/tkr-resolver"
CAPI_LABEL = ("driftd.envtest/capi-defaulting", "on")
CAPI_PATH = "/mutate/capi-defaulting"

# Every handed case is replayed here; none stays offline-only. What each replay cannot make the
# same: case 01's spec is written by server-side apply (the case's dump shows kubectl-client-side-apply
# owning the webhook-filled fields, which only a client re-sending them produces: its offline test
# covers that) and Cluster API's webhooks are Python re-creations (driftd.envtest.webhooks.capi_defaulting).
OFFLINE_ONLY: dict[str, str] = {}


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture
def kube(control_plane):
    source = connect(control_plane)
    yield source
    source.close()


@pytest.fixture(scope="module")
def tkr_resolver_webhook(control_plane):
    """The TKR resolver registered for namespaces labelled ``RESOLVER_LABEL`` (other tests' namespaces
    never see it)."""
    source = connect(control_plane)
    name = fresh("tkr-resolver")
    register_mutating_webhook(source, control_plane.webhooks, name, RESOLVER_PATH, tkr_resolver,
                              TKR_RESOLVER_RULES, RESOLVER_LABEL)
    try:
        yield name
    finally:
        delete_mutating_webhook(source, control_plane.webhooks, name, RESOLVER_PATH)
        source.close()


@pytest.fixture
def supervisor_ns(kube, namespace, tkr_resolver_webhook):
    """A namespace where TanzuKubernetesClusters are filled by the TKR resolver."""
    label_namespace(kube, namespace, RESOLVER_LABEL)
    probe = seed_in(namespace, "probe")
    wait_until_mutated(kube, objects_of(probe)[0],
                       lambda o: TKR_LABEL in (o["metadata"].get("labels") or {}), "the TKR resolver webhook")
    return namespace


@pytest.fixture(scope="module")
def capi_defaulting_webhook(control_plane):
    """Cluster API's defaulting webhook for namespaces labelled ``CAPI_LABEL``."""
    source = connect(control_plane)
    name = fresh("capi-defaulting")
    register_mutating_webhook(source, control_plane.webhooks, name, CAPI_PATH, capi_defaulting,
                              CAPI_DEFAULTING_RULES, CAPI_LABEL)
    try:
        yield name
    finally:
        delete_mutating_webhook(source, control_plane.webhooks, name, CAPI_PATH)
        source.close()


@pytest.fixture
def capi_ns(kube, namespace, capi_defaulting_webhook):
    """A namespace where MachineDeployments and KubeadmControlPlanes are defaulted like Cluster API does."""
    label_namespace(kube, namespace, CAPI_LABEL)
    [probe] = objects_of(machine_deployment(namespace, "probe"))
    wait_until_mutated(kube, probe, lambda o: CLUSTER_NAME_LABEL in (o["metadata"].get("labels") or {}),
                       "the Cluster API defaulting webhook")
    return namespace


def seed_in(namespace: str, name: str = "prod-demo01") -> str:
    return SEED.replace("namespace: prod", f"namespace: {namespace}").replace("name: prod-demo01", f"name: {name}")


def sync(tmp_path: Path, control_plane, namespace: str, watch=(TKC,)) -> GitSync:
    return GitSync(tmp_path, control_plane.kubeconfig, namespace, tuple(watch))


def only_object(report: dict) -> dict:
    [obj] = report["objects"]
    return obj


def assert_one_drift(report: dict, path: str, change: str, desired, live, manager: str = PERSON,
                     cls: str = "out-of-band") -> dict:
    assert report["verdict"] == "drift", report
    obj = only_object(report)
    assert obj["status"] == "drifted"
    assert [d["path"] for d in obj["drifts"]] == [path], obj["drifts"]
    [drift] = obj["drifts"]
    assert (drift["change"], drift["desired"], drift["live"]) == (change, desired, live)
    assert type(drift["live"]) is type(live) and type(drift["desired"]) is type(desired)
    assert drift["class"] == cls, drift["evidence"]
    assert drift["evidence"].get("manager") == manager, drift["evidence"]
    if manager is not None:
        assert drift["evidence"]["operation"] == "Update"
    return drift


def assert_in_sync(code: int, report: dict) -> None:
    assert (code, report["verdict"]) == (0, "in-sync"), json.dumps(report["objects"], indent=1)
    assert all(o["status"] in ("in-sync", "generated") for o in report["objects"]), report["objects"]


# ----------------------------------------------------------------------------- 1. TKR resolver

def test_resolver_fills_the_seed_and_owns_nothing(kube, supervisor_ns):
    [tkc] = objects_of(seed_in(supervisor_ns))
    live = apply_as_gitops(kube, tkc)
    assert live["spec"]["distribution"] == {"version": "1.21.6", "fullVersion": "v1.21.6+vmware.1-tkg.1.b3d708a"}
    assert live["spec"]["settings"]["network"]["serviceDomain"] == "cluster.local"
    assert live["metadata"]["labels"] == {TKR_LABEL: "v1.21.6---vmware.1-tkg.1.b3d708a"}
    # values a mutating webhook adds are owned by no manager, Apply and Update alike
    assert owners(live, "spec", "distribution", "fullVersion") == []
    assert owners(live, "spec", "settings", "network", "serviceDomain") == []
    assert owners(live, "metadata", "labels", TKR_LABEL) == []
    assert owners(live, "spec", "settings", "network", "cni", "name") == [GITOPS]
    after = edit(kube, tkc, lambda o: o["spec"]["topology"]["workers"].update(count=2))
    assert owners(after, "spec", "distribution", "fullVersion") == []
    assert owners(after, "metadata", "labels", TKR_LABEL) == []


def _set_label(value):
    return lambda o: o["metadata"]["labels"].update({TKR_LABEL: value})


def _set_network(field, value):
    return lambda o: o["spec"]["settings"]["network"].update({field: value})


PERSON_EDITS = [
    pytest.param(_set_network("cni", {"name": "calico"}),
                 ("spec.settings.network.cni.name", "modified", "antrea", "calico"), id="cni-declared-in-git"),
    pytest.param(_set_label("v1.22.9---vmware.1-tkg.1.cc71bc8"),
                 (f'metadata.labels["{TKR_LABEL}"]', "added", None, "v1.22.9---vmware.1-tkg.1.cc71bc8"),
                 id="tkr-label-filled-by-webhook"),
    pytest.param(_set_network("serviceDomain", "corp.local"),
                 ("spec.settings.network.serviceDomain", "added", None, "corp.local"),
                 id="service-domain-filled-by-webhook"),
    pytest.param(lambda o: o["spec"]["topology"]["workers"].update(count=3),
                 ("spec.topology.workers.count", "modified", 1, 3), id="workers-count"),
    pytest.param(lambda o: o["spec"]["topology"]["workers"].update({"class": "best-effort-xlarge"}),
                 ("spec.topology.workers.class", "modified", "best-effort-large", "best-effort-xlarge"),
                 id="workers-class"),
]


@pytest.mark.parametrize("change,want", PERSON_EDITS)
def test_seed_synced_through_git_is_in_sync_then_a_persons_edit_is_exactly_that_drift(
        control_plane, kube, supervisor_ns, tmp_path, change, want):
    git = sync(tmp_path, control_plane, supervisor_ns)
    git.commit({"tkc-prod-demo01.yaml": seed_in(supervisor_ns)})
    [tkc] = objects_of(seed_in(supervisor_ns))
    apply_as_gitops(kube, tkc)
    assert_in_sync(*git.cycle())

    edit(kube, tkc, change)
    code, report = git.cycle()
    assert code == 1
    path, change_kind, desired, live = want
    assert_one_drift(report, path, change_kind, desired, live)

    # the next sync (Argo CD re-applies Git) puts back what Git declares; what Git leaves to the
    # resolver stays the person's value and stays reported
    apply_as_gitops(kube, tkc)
    code, report = git.cycle()
    if change_kind == "modified":
        assert_in_sync(code, report)
    else:
        assert code == 1
        assert_one_drift(report, path, change_kind, desired, live)


def test_git_version_bump_not_synced_is_git_ahead_then_resolved_again(control_plane, kube, supervisor_ns, tmp_path):
    """Git moves to 1.22.9; until the sync the live release is the old one (git-ahead); the sync makes
    the resolver resolve the new version, and the cycle is in sync again."""
    git = sync(tmp_path, control_plane, supervisor_ns)
    git.commit({"tkc-prod-demo01.yaml": seed_in(supervisor_ns)})
    [tkc] = objects_of(seed_in(supervisor_ns))
    apply_as_gitops(kube, tkc)
    bumped = seed_in(supervisor_ns).replace("version: 1.21.6", "version: 1.22.9")
    git.commit({"tkc-prod-demo01.yaml": bumped}, "upgrade to 1.22.9")
    code, report = git.cycle()
    assert code == 1
    obj = only_object(report)
    [drift] = obj["drifts"]
    assert (drift["path"], drift["desired"], drift["live"]) == ("spec.distribution.version", "1.22.9", "1.21.6")
    assert drift["class"] == "git-ahead", drift["evidence"]

    live = apply_as_gitops(kube, objects_of(bumped)[0])
    assert live["spec"]["distribution"]["fullVersion"] == "v1.22.9+vmware.1-tkg.1.cc71bc8"
    assert_in_sync(*git.cycle())


# ----------------------------------------------------------------------------- 2. CRD schema defaults

def machine_deployment(namespace: str, name: str, extra_spec: str = "") -> str:
    return f"""\
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  clusterName: wl-7
  replicas: 2
{extra_spec}  selector:
    matchLabels: {{cluster.x-k8s.io/cluster-name: wl-7}}
  template:
    metadata:
      labels: {{cluster.x-k8s.io/cluster-name: wl-7}}
    spec:
      clusterName: wl-7
      version: v1.29.4
      bootstrap:
        configRef: {{apiVersion: bootstrap.cluster.x-k8s.io/v1beta1, kind: KubeadmConfigTemplate, name: {name}}}
      infrastructureRef: {{apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: VSphereMachineTemplate, name: wl-7-worker}}
"""


def kubeadm_control_plane(namespace: str, name: str) -> str:
    return f"""\
apiVersion: controlplane.cluster.x-k8s.io/v1beta1
kind: KubeadmControlPlane
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 3
  version: v1.29.4
  machineTemplate:
    infrastructureRef: {{apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: VSphereMachineTemplate, name: {name}}}
  kubeadmConfigSpec:
    clusterConfiguration:
      apiServer:
        extraArgs: {{audit-log-maxage: "30"}}
"""


MD_EDITS = [
    pytest.param(lambda o: o["spec"]["strategy"]["rollingUpdate"].update(maxSurge=3),
                 ("spec.strategy.rollingUpdate.maxSurge", 3), id="strategy-max-surge"),
    pytest.param(lambda o: o["spec"].update(progressDeadlineSeconds=900),
                 ("spec.progressDeadlineSeconds", 900), id="progress-deadline"),
    pytest.param(lambda o: o["spec"].update(minReadySeconds=30), ("spec.minReadySeconds", 30), id="min-ready"),
]


@pytest.mark.parametrize("change,want", MD_EDITS)
def test_machinedeployment_schema_defaults_are_in_sync_and_a_persons_edit_of_one_is_drift(
        control_plane, kube, namespace, tmp_path, change, want):
    text = machine_deployment(namespace, "wl-7-md-0")
    [md] = objects_of(text)
    git = sync(tmp_path, control_plane, namespace, [(CAPI, "MachineDeployment")])
    git.commit({"md.yaml": text})
    live = apply_as_gitops(kube, md)
    assert (live["spec"]["minReadySeconds"], live["spec"]["revisionHistoryLimit"],
            live["spec"]["progressDeadlineSeconds"]) == (0, 1, 600)
    assert live["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert owners(live, "spec", "strategy") == [] and owners(live, "spec", "progressDeadlineSeconds") == []
    assert_in_sync(*git.cycle())

    edit(kube, md, change)
    code, report = git.cycle()
    assert code == 1
    path, value = want
    assert_one_drift(report, path, "added", None, value)


def test_machinedeployment_default_declared_in_git_then_edited_is_modified(control_plane, kube, namespace, tmp_path):
    text = machine_deployment(namespace, "wl-7-md-1", "  strategy:\n    rollingUpdate: {maxSurge: 2}\n")
    [md] = objects_of(text)
    git = sync(tmp_path, control_plane, namespace, [(CAPI, "MachineDeployment")])
    git.commit({"md.yaml": text})
    live = apply_as_gitops(kube, md)
    # the schema default of the whole strategy is not used once Git gives one; its children's are
    assert live["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 2
    assert_in_sync(*git.cycle())
    edit(kube, md, lambda o: o["spec"]["strategy"]["rollingUpdate"].update(maxSurge=4))
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.strategy.rollingUpdate.maxSurge", "modified", 2, 4)


def test_kcp_rollout_strategy_schema_default_is_in_sync_and_a_persons_edit_is_drift(
        control_plane, kube, namespace, tmp_path):
    text = kubeadm_control_plane(namespace, "wl-7-cp")
    [kcp] = objects_of(text)
    git = sync(tmp_path, control_plane, namespace, [("controlplane.cluster.x-k8s.io", "KubeadmControlPlane")])
    git.commit({"kcp.yaml": text})
    live = apply_as_gitops(kube, kcp)
    assert live["spec"]["rolloutStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    assert_in_sync(*git.cycle())

    edit(kube, kcp, lambda o: o["spec"]["rolloutStrategy"]["rollingUpdate"].update(maxSurge=0))
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.rolloutStrategy.rollingUpdate.maxSurge", "added", None, 0)


# ----------------------------------------------------------------------------- 3. the handed cases, replayed

ACCEL_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: acceleratorpolicies.accel.example.com}
spec:
  group: accel.example.com
  scope: Cluster
  names: {plural: acceleratorpolicies, singular: acceleratorpolicy, kind: AcceleratorPolicy, listKind: AcceleratorPolicyList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cdi:
                type: object
                properties:
                  enabled: {type: boolean}
                  default: {type: boolean, default: false}
              driver:
                type: object
                properties:
                  enabled: {type: boolean}
                  version: {type: string}
                  upgradePolicy:
                    type: object
                    default: {}
                    properties:
                      autoUpgrade: {type: boolean, default: true}
                      maxParallelUpgrades: {type: integer, default: 1}
              operator:
                type: object
                properties:
                  defaultRuntime: {type: string}
                  runtimeClass: {type: string, default: accel}
              toolkit:
                type: object
                properties:
                  enabled: {type: boolean}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""

APPBUNDLE_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: appbundles.platform.example.com}
spec:
  group: platform.example.com
  scope: Namespaced
  names: {plural: appbundles, singular: appbundle, kind: AppBundle, listKind: AppBundleList}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


@pytest.fixture(scope="module")
def case_crds(control_plane, tmp_path_factory):
    """The CRDs that cases 07 and 08 describe (expected.md), installed once."""
    folder = tmp_path_factory.mktemp("case-crds")
    (folder / "accel.yaml").write_text(ACCEL_CRD)
    (folder / "appbundle.yaml").write_text(APPBUNDLE_CRD)
    return install_crds(control_plane.kubeconfig, folder)


def replay(case: str, control_plane, kube, tmp_path: Path, subs: dict[str, str], write=apply_as_gitops,
           live_change=None, watch=(), git_ns: str | None = None, desired_text: str | None = None):
    """Replay one handed case: its desired.yaml in Git and written to the server by ``write``, the
    case's live change made by ``live_change(kube, objects)``, one cycle, and the report checked with
    the cases' own rules. ``subs``: names (namespaces first) replaced by fresh ones."""
    folder = case_dir(case)
    text = desired_text if desired_text is not None else (folder / "desired.yaml").read_text()
    for old, new in subs.items():
        text = text.replace(f"namespace: {old}\n", f"namespace: {new}\n").replace(f"name: {old}\n", f"name: {new}\n")
    namespace = git_ns or next(iter(subs.values()))
    git = GitSync(tmp_path, control_plane.kubeconfig, namespace, tuple(watch))
    git.commit({"desired.yaml": text})
    objs = objects_of(text, namespace=namespace) if write is not None else []
    for obj in objs:
        write(kube, obj)
    if live_change is not None:
        live_change(kube, objs)
    code, report = git.cycle()
    want = renamed_expected(expected(folder), subs)
    assert check_case()(want, report) == [], json.dumps(report["objects"], indent=1)
    assert code == {"in-sync": 0, "drift": 1, "invalid": 2}[want["verdict"]]
    return report


def _controller_finalizer(kube, obj):
    edit(kube, obj, lambda o: o["metadata"].setdefault("finalizers", []).append(
        "tanzukubernetescluster.run.tanzu.vmware.com"), manager="manager")


def _pool(name, **fields):
    def change(o):
        [pool] = [p for p in o["spec"]["topology"]["nodePools"] if p["name"] == name]
        pool.update(fields)
    return change


def test_case_01_tkc_server_populated_fields_replayed(control_plane, kube, supervisor_ns, tmp_path):
    def happened(kube, objs):
        [tkc] = objs
        _controller_finalizer(kube, tkc)
        edit(kube, tkc, _pool("np-1", replicas=5))

    report = replay("01-tkc-server-populated-fields", control_plane, kube, tmp_path, {"team-a": supervisor_ns},
                    live_change=happened, watch=[TKC])
    [drift] = only_object(report)["drifts"]
    assert (drift["class"], drift["evidence"]["manager"]) == ("out-of-band", PERSON)
    live = kube.get(kube.kind_info(*TKC, "v1alpha2"), supervisor_ns, "tkc-app-01")
    assert live["spec"]["distribution"] == {"fullVersion": "v1.23.8+vmware.3-tkg.1", "version": ""}
    assert live["spec"]["settings"]["network"]["pods"] == {"cidrBlocks": ["192.168.0.0/16"]}


TKC_V1A3 = """\
apiVersion: run.tanzu.vmware.com/v1alpha3
kind: TanzuKubernetesCluster
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{team: payments}}
spec:
  topology:
    controlPlane:
      replicas: 1
      vmClass: guaranteed-small
      storageClass: gold
      tkr: {{reference: {{name: v1.26.5---vmware.2-fips.1-tkg.1}}}}
    nodePools:
    - name: np-a
      replicas: 2
      vmClass: guaranteed-large
      storageClass: gold
    - name: np-b
      replicas: 1
      vmClass: best-effort-small
      storageClass: gold
      volumes:
      - {{name: containerd, mountPath: /var/lib/containerd, capacity: {{storage: 64Gi}}}}
  settings:
    network:
      cni: {{name: antrea}}
"""

TKC_VARIANTS = [
    pytest.param(_pool("np-b", vmClass="best-effort-xlarge"),
                 ("spec.topology.nodePools[name=np-b].vmClass", "modified", "best-effort-small", "best-effort-xlarge"),
                 id="pool-vmclass"),
    pytest.param(_pool("np-a", replicas=4), ("spec.topology.nodePools[name=np-a].replicas", "modified", 2, 4),
                 id="pool-replicas"),
    pytest.param(lambda o: o["spec"]["settings"]["network"].update(pods={"cidrBlocks": ["10.10.0.0/16"]}),
                 ("spec.settings.network.pods.cidrBlocks", "added", None, ["10.10.0.0/16"]), id="filled-pod-cidr"),
    pytest.param(lambda o: o["spec"]["distribution"].update(fullVersion="v1.26.5+vmware.2-fips.1-tkg.2"),
                 ("spec.distribution.fullVersion", "added", None, "v1.26.5+vmware.2-fips.1-tkg.2"),
                 id="filled-full-version"),
]


@pytest.mark.parametrize("change,want", TKC_VARIANTS)
def test_tkc_v1alpha3_filled_by_the_resolver_variant(control_plane, kube, supervisor_ns, tmp_path, change, want):
    """Case 01's fault kind with other names, version and pools: filled fields are not drift; a
    person's edit (of a Git field or of a filled one) is exactly that drift."""
    text = TKC_V1A3.format(name="tkc-pay-02", namespace=supervisor_ns)
    git = sync(tmp_path, control_plane, supervisor_ns)
    git.commit({"tkc.yaml": text})
    [tkc] = objects_of(text)
    live = apply_as_gitops(kube, tkc)
    assert live["spec"]["distribution"]["fullVersion"] == "v1.26.5+vmware.2-fips.1-tkg.1"
    assert live["metadata"]["labels"] == {"team": "payments", TKR_LABEL: "v1.26.5---vmware.2-fips.1-tkg.1"}
    _controller_finalizer(kube, tkc)
    assert_in_sync(*git.cycle())
    edit(kube, tkc, change)
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, *want)


def _patch_container(kube, obj, container, path, value, manager="kubectl-patch"):
    info = info_of(kube, obj)
    live = kube.get(info, obj["metadata"]["namespace"], obj["metadata"]["name"])
    names = [c["name"] for c in live["spec"]["template"]["spec"]["containers"]]
    pointer = f"/spec/template/spec/containers/{names.index(container)}/{path}"
    kube.json_patch(info, obj["metadata"]["namespace"], obj["metadata"]["name"],
                    [{"op": "replace", "path": pointer, "value": value}], field_manager=manager)


def test_case_06_quantity_canonical_form_replayed(control_plane, kube, namespace, tmp_path):
    live = replay("06-quantity-canonical-form", control_plane, kube, tmp_path, {"shop": namespace},
                  live_change=lambda kube, objs: _patch_container(kube, objs[0], "redis", "resources/limits/memory", "1G"))
    [drift] = only_object(live)["drifts"]
    assert drift["evidence"]["manager"] == "kubectl-patch"


QUANTITY_VARIANT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: quant-web, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: quant-web}}}}
  template:
    metadata: {{labels: {{app: quant-web}}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        resources:
          requests: {{cpu: 0.25, memory: 1536Mi, ephemeral-storage: 2048Mi}}
          limits: {{cpu: 2000m, memory: 1.5Gi}}
      volumes:
      - name: scratch
        emptyDir: {{sizeLimit: 0.5Gi}}
"""


def test_quantities_variant_canonical_forms_in_sync_and_another_amount_drifts(control_plane, kube, namespace, tmp_path):
    text = QUANTITY_VARIANT.format(namespace=namespace)
    git = sync(tmp_path, control_plane, namespace, [("apps", "Deployment")])
    git.commit({"web.yaml": text})
    [dep] = objects_of(text)
    live = apply_as_gitops(kube, dep)
    res = live["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert (res["requests"]["cpu"], res["limits"]["cpu"], res["limits"]["memory"]) == ("250m", "2", "1536Mi")
    assert_in_sync(*git.cycle())
    _patch_container(kube, dep, "web", "resources/requests/memory", "1536M")
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.template.spec.containers[name=web].resources.requests.memory", "modified",
                     "1536Mi", "1536M", manager="kubectl-patch")


def test_case_07_crd_schema_default_added_replayed(control_plane, kube, namespace, tmp_path, case_crds):
    name = fresh("cluster-policy")
    replay("07-crd-schema-default-added", control_plane, kube, tmp_path, {"cluster-policy": name}, git_ns=namespace)
    live = kube.get(kube.kind_info("accel.example.com", "AcceleratorPolicy", "v1"), None, name)
    assert live["spec"]["driver"]["upgradePolicy"] == {"autoUpgrade": True, "maxParallelUpgrades": 1}
    assert (live["spec"]["cdi"]["default"], live["spec"]["operator"]["runtimeClass"]) == (False, "accel")


def test_crd_schema_defaults_variant_a_persons_edit_of_a_default_is_drift(control_plane, kube, namespace, tmp_path,
                                                                            case_crds):
    name = fresh("edge-policy")
    text = (f"apiVersion: accel.example.com/v1\nkind: AcceleratorPolicy\nmetadata: {{name: {name}}}\n"
            "spec:\n  operator: {}\n  driver: {enabled: false}\n  cdi: {enabled: false}\n")
    git = sync(tmp_path, control_plane, namespace, [])   # cluster-scoped: other tests' policies are not ours
    git.commit({"policy.yaml": text})
    [policy] = objects_of(text)
    apply_as_gitops(kube, policy)
    assert_in_sync(*git.cycle())
    edit(kube, policy, lambda o: o["spec"]["driver"]["upgradePolicy"].update(maxParallelUpgrades=4))
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.driver.upgradePolicy.maxParallelUpgrades", "added", None, 4)


def test_case_08_preserve_unknown_fields_replayed_git_ahead(control_plane, kube, namespace, tmp_path, case_crds):
    """The applied revision set 1.2.4 (applied by driftd); Git's next commit (1.2.6) is not applied yet."""
    folder = case_dir("08-preserve-unknown-fields-false-negative")
    text = (folder / "desired.yaml").read_text().replace("namespace: shop\n", f"namespace: {namespace}\n")
    git = GitSync(tmp_path, control_plane.kubeconfig, namespace, ())
    applied = text.replace("tag: 1.2.6", "tag: 1.2.4")
    git.commit({"desired.yaml": applied}, "storefront 1.2.4")
    apply_as_gitops(kube, objects_of(applied)[0], manager="driftd")
    git.commit({"desired.yaml": text}, "storefront 1.2.6")
    code, report = git.cycle()
    want = renamed_expected(expected(folder), {"shop": namespace})
    assert check_case()(want, report) == [], report["objects"]
    assert code == 1
    [drift] = only_object(report)["drifts"]
    assert drift["class"] == "git-ahead", drift["evidence"]
    assert drift["evidence"]["changed_by"]["subject"] == "storefront 1.2.6"


def test_preserve_unknown_fields_variant_types_compared_exactly(control_plane, kube, namespace, tmp_path, case_crds):
    text = (f"apiVersion: platform.example.com/v1alpha1\nkind: AppBundle\nmetadata: {{name: checkout, namespace: {namespace}}}\n"
            "spec:\n  replicas: 3\n  ingress: {tls: true, host: pay.example.internal}\n  limits: {cpu: \"500m\"}\n")
    git = GitSync(tmp_path, control_plane.kubeconfig, namespace, ())
    git.commit({"bundle.yaml": text})
    [bundle] = objects_of(text)
    apply_as_gitops(kube, bundle)
    assert_in_sync(*git.cycle())
    edit(kube, bundle, lambda o: o["spec"].update(replicas="3"))   # a string now: not the same value
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.replicas", "modified", 3, "3")


def _add_key(key, value, manager=PERSON):
    def happened(kube, objs):
        edit(kube, objs[0], lambda o: o.setdefault("data", {}).update({key: value}), manager=manager)
    return happened


def test_case_09_configmap_key_added_out_of_band_replayed(control_plane, kube, namespace, tmp_path):
    report = replay("09-configmap-key-added-out-of-band", control_plane, kube, tmp_path, {"payments": namespace},
                    live_change=_add_key("DEBUG_SQL", "true"))
    [drift] = only_object(report)["drifts"]
    assert (drift["class"], drift["evidence"]["manager"], drift["evidence"]["operation"]) == \
        ("out-of-band", PERSON, "Update")


@pytest.mark.parametrize("kind,key,value,manager,path", [
    ("ConfigMap", "FEATURE_FLAGS", "beta,canary", "kubectl-patch", "data.FEATURE_FLAGS"),
    ("ConfigMap", "app.properties", "pool=9", PERSON, 'data["app.properties"]'),
    ("Secret", "api-token", "c2VjcmV0", PERSON, 'data["api-token"]'),
])
def test_key_added_out_of_band_variant(control_plane, kube, namespace, tmp_path, kind, key, value, manager, path):
    text = (f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: billing-settings, namespace: {namespace}}}\n"
            "data: {" + ("MODE: c3RyaWN0, RETRIES: Mw==" if kind == "Secret" else "MODE: strict, RETRIES: \"3\"") + "}\n")
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"settings.yaml": text})
    [obj] = objects_of(text)
    apply_as_gitops(kube, obj)
    assert_in_sync(*git.cycle())
    edit(kube, obj, lambda o: o["data"].update({key: value}), manager=manager)
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, path, "added", None, value, manager=manager)


def test_case_11_service_nodeport_allocated_defaults_replayed(control_plane, kube, namespace, tmp_path):
    replay("11-service-nodeport-allocated-defaults", control_plane, kube, tmp_path, {"edge": namespace})
    live = kube.get(kube.kind_info("", "Service", "v1"), namespace, "ingress-gw")
    assert all(30000 <= p["nodePort"] <= 32767 for p in live["spec"]["ports"])   # allocated by the server
    assert live["spec"]["clusterIP"] and live["spec"]["sessionAffinity"] == "None"


SERVICE_VARIANT = """\
apiVersion: v1
kind: Service
metadata: {{name: api-lb, namespace: {namespace}}}
spec:
  type: LoadBalancer
  selector: {{app: api}}
  ports:
  - {{name: grpc, port: 9090, targetPort: 9090}}
  - {{name: metrics, port: 9100, targetPort: 9100, protocol: TCP, nodePort: {pinned}}}
"""


def test_service_variant_allocations_in_sync_and_a_pinned_node_port_changed_is_drift(
        control_plane, kube, namespace, tmp_path):
    """Case 11's counter-check on another Service: allocated values are not drift; a nodePort Git pins,
    changed by a person, is."""
    pinned = 30000 + int(namespace[-4:], 16) % 2000
    text = SERVICE_VARIANT.format(namespace=namespace, pinned=pinned)
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"svc.yaml": text})
    [svc] = objects_of(text)
    live = apply_as_gitops(kube, svc)
    grpc = [p for p in live["spec"]["ports"] if p["name"] == "grpc"][0]
    assert grpc["nodePort"] and grpc["protocol"] == "TCP"
    assert live["spec"]["externalTrafficPolicy"] == "Cluster"
    assert_in_sync(*git.cycle())

    def move(o):
        [port] = [p for p in o["spec"]["ports"] if p["name"] == "metrics"]
        port["nodePort"] = pinned + 1
    edit(kube, svc, move)
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.ports[port=9100,protocol=TCP].nodePort", "modified", pinned, pinned + 1)


def test_case_12_null_empty_zero_values_replayed(control_plane, kube, namespace, tmp_path):
    replay("12-null-empty-zero-values", control_plane, kube, tmp_path, {"kube-system": namespace})


EMPTY_VARIANT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: audit-sink
  namespace: {namespace}
  labels: {{app: audit-sink}}
  annotations: ~
spec:
  replicas: 1
  selector: {{matchLabels: {{app: audit-sink}}}}
  template:
    metadata:
      labels: {{app: audit-sink}}
      annotations: {{}}
    spec:
      imagePullSecrets: []
      hostAliases: []
      nodeSelector: null
      initContainers: []
      securityContext: {{}}
      containers:
      - name: sink
        image: busybox:1.36
        args: []
        envFrom: []
        livenessProbe:
          exec: {{command: [cat, /tmp/ok]}}
          initialDelaySeconds: 0
          periodSeconds: 10
        volumeMounts: []
"""


def test_null_empty_zero_variant_in_sync_then_a_real_change_drifts(control_plane, kube, namespace, tmp_path):
    text = EMPTY_VARIANT.format(namespace=namespace)
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"deploy.yaml": text})
    [dep] = objects_of(text)
    apply_as_gitops(kube, dep)
    assert_in_sync(*git.cycle())
    edit(kube, dep, lambda o: o["spec"]["template"]["spec"]["containers"][0]["livenessProbe"].update(
        initialDelaySeconds=15))
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.template.spec.containers[name=sink].livenessProbe.initialDelaySeconds",
                     "modified", 0, 15)


def test_case_14_duplicate_env_names_replayed(control_plane, kube, namespace, tmp_path):
    """Applied the way the case was (``kubectl apply``, client-side): server-side apply refuses a list
    keyed by name with a repeated name, a create stores it as written."""
    folder = case_dir("14-duplicate-env-names")
    [cron] = objects_of((folder / "desired.yaml").read_text().replace("namespace: batch\n", f"namespace: {namespace}\n"))
    with pytest.raises(Exception) as refused:
        apply_as_gitops(kube, cron)
    assert "duplicate" in str(refused.value).lower()
    replay("14-duplicate-env-names", control_plane, kube, tmp_path, {"batch": namespace}, write=client_side_apply)
    live = kube.get(kube.kind_info("batch", "CronJob", "v1"), namespace, "nightly-report")
    env = live["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["REPORT_MODE", "OUTPUT_BUCKET", "REPORT_MODE"]


DUP_ENV_VARIANT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: worker}}}}
  template:
    metadata: {{labels: {{app: worker}}}}
    spec:
      containers:
      - name: worker
        image: busybox:1.36
        env:
        - {{name: QUEUE, value: low}}
        - {{name: THREADS, value: "4"}}
        - {{name: QUEUE, value: high}}
"""


def test_duplicate_env_names_variant_in_sync_then_an_edit_of_the_second_entry_drifts(
        control_plane, kube, namespace, tmp_path):
    text = DUP_ENV_VARIANT.format(namespace=namespace)
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"worker.yaml": text})
    [dep] = objects_of(text)
    client_side_apply(kube, dep)
    assert_in_sync(*git.cycle())
    edit(kube, dep, lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"][2].update(value="urgent"))
    code, report = git.cycle()
    assert code == 1
    obj = only_object(report)
    [drift] = obj["drifts"]
    assert drift["path"].startswith("spec.template.spec.containers[name=worker].env")
    assert (drift["desired"], drift["live"]) in (("high", "urgent"),
                                                 ({"name": "QUEUE", "value": "high"}, {"name": "QUEUE", "value": "urgent"}))


def test_case_16_yaml_multidoc_empty_documents_replayed(control_plane, kube, tmp_path):
    ns = fresh("t-multidoc")
    replay("16-yaml-multidoc-empty-documents", control_plane, kube, tmp_path, {"team-b": ns})
    live = kube.get(kube.kind_info("", "Namespace", "v1"), None, ns)
    assert live["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns}


def test_multidoc_variant_null_documents_skipped_and_a_changed_value_drifts(control_plane, kube, namespace, tmp_path):
    text = (f"# generated\n---\n~\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: flags, namespace: {namespace}}}\n"
            "data: {CHECKOUT: \"on\"}\n---\n# nothing\n---\n---\napiVersion: v1\nkind: ConfigMap\n"
            f"metadata: {{name: limits, namespace: {namespace}}}\ndata: {{MAX: \"10\"}}\n...\n")
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"all.yaml": text})
    objs = objects_of(text)
    assert [o["metadata"]["name"] for o in objs] == ["flags", "limits"]
    for obj in objs:
        apply_as_gitops(kube, obj)
    code, report = git.cycle()
    assert_in_sync(code, report)
    assert sorted(o["name"] for o in report["objects"]) == ["flags", "limits"]
    edit(kube, objs[1], lambda o: o["data"].update(MAX="20"))
    code, report = git.cycle()
    assert code == 1
    [obj] = [o for o in report["objects"] if o["status"] != "in-sync"]
    assert obj["name"] == "limits"
    assert [(d["path"], d["desired"], d["live"], d["evidence"]["manager"]) for d in obj["drifts"]] == \
        [("data.MAX", "10", "20", PERSON)]


def test_case_17_yaml_octal_and_base60_scalars_replayed(control_plane, kube, namespace, tmp_path):
    replay("17-yaml-octal-and-base60-scalars", control_plane, kube, tmp_path, {"ops": namespace})
    live = kube.get(kube.kind_info("apps", "Deployment", "v1"), namespace, "drainer")
    volumes = {v["name"]: v for v in live["spec"]["template"]["spec"]["volumes"]}
    assert volumes["scripts"]["configMap"]["defaultMode"] == 0o755


OCTAL_VARIANT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: cron-runner, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: cron-runner}}}}
  template:
    metadata: {{labels: {{app: cron-runner}}}}
    spec:
      containers:
      - name: runner
        image: busybox:1.36
        env:
        - {{name: WINDOW, value: 2:45}}
        - {{name: UMASK, value: "0027"}}
      volumes:
      - name: hooks
        configMap: {{name: hooks, defaultMode: 0644}}
      - name: keys
        secret:
          secretName: keys
          defaultMode: 0440
          items: [{{key: id_rsa, path: id_rsa, mode: 0400}}]
"""


def test_octal_and_base60_variant_in_sync_then_a_mode_changed_drifts(control_plane, kube, namespace, tmp_path):
    text = OCTAL_VARIANT.format(namespace=namespace)
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"runner.yaml": text})
    [dep] = objects_of(text)
    live = apply_as_gitops(kube, dep)
    assert live["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"] == 420
    assert live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "2:45"
    assert_in_sync(*git.cycle())
    edit(kube, dep, lambda o: o["spec"]["template"]["spec"]["volumes"][0]["configMap"].update(defaultMode=0o600))
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.template.spec.volumes[name=hooks].configMap.defaultMode", "modified", 420, 384)


def test_case_19_yaml_duplicate_keys_replayed(control_plane, kube, namespace, tmp_path):
    """Live got the last `env` list from a lenient reader (PyYAML); Git's file is invalid."""
    def lenient_apply(kube, _):
        text = (case_dir("19-yaml-duplicate-keys") / "desired.yaml").read_text().replace(
            "namespace: web\n", f"namespace: {namespace}\n")
        apply_as_gitops(kube, yaml.safe_load(text))

    report = replay("19-yaml-duplicate-keys", control_plane, kube, tmp_path, {"web": namespace}, write=None,
                    live_change=lenient_apply)
    detail = only_object(report)["invalid_detail"]
    assert detail["file"] == "prod/desired.yaml" and detail["key"] == "env"


def test_duplicate_keys_variant_invalid_other_files_still_compared(control_plane, kube, namespace, tmp_path):
    bad = (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gateway\n  namespace: {namespace}\n"
           "data:\n  TIMEOUT: \"5\"\n  MODE: fast\n  TIMEOUT: \"50\"\n")
    good = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: other, namespace: {namespace}}}\ndata: {{A: b}}\n"
    git = sync(tmp_path, control_plane, namespace, [])
    git.commit({"gateway.yaml": bad, "other.yaml": good})
    apply_as_gitops(kube, yaml.safe_load(bad))
    apply_as_gitops(kube, objects_of(good)[0])
    edit(kube, objects_of(good)[0], lambda o: o["data"].update(A="c"))
    code, report = git.cycle()
    assert (code, report["verdict"]) == (2, "invalid")
    objs = {o["name"]: o for o in report["objects"]}
    assert objs["gateway"]["status"] == "invalid"
    assert objs["gateway"]["invalid_detail"]["file"] == "prod/gateway.yaml"
    assert sorted(objs["gateway"]["invalid_detail"]["lines"]) == [7, 9]
    assert objs["gateway"].get("drifts") in (None, [])
    assert objs["other"]["status"] == "drifted"
    assert [(d["path"], d["desired"], d["live"]) for d in objs["other"]["drifts"]] == [("data.A", "b", "c")]


def _controller_owns(kind_finalizer: str | None = None, annotation: tuple[str, str] | None = None):
    """What a Cluster API controller writes (manager ``manager``, Update): an ownerReference to the
    Cluster, and a finalizer or a revision annotation."""
    def change(o):
        o["metadata"].setdefault("ownerReferences", []).append(
            {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster", "name": o["spec"].get("clusterName") or "wl",
             "uid": "3c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"})
        if kind_finalizer:
            o["metadata"].setdefault("finalizers", []).append(kind_finalizer)
        if annotation:
            o["metadata"].setdefault("annotations", {}).update([annotation])
    return change


def _autoscale(kube, obj, replicas: int) -> dict:
    """The cluster autoscaler resizes through the scale subresource."""
    info = info_of(kube, obj)
    path = kube._path(info, obj["metadata"]["namespace"], obj["metadata"]["name"]) + "/scale"
    return kube.request("PATCH", path, [("fieldManager", "cluster-autoscaler")], body={"spec": {"replicas": replicas}},
                        content_type="application/merge-patch+json")


def test_case_03_machinedeployment_defaults_autoscaler_replayed(control_plane, kube, capi_ns, tmp_path):
    def happened(kube, objs):
        [md] = objs
        edit(kube, md, _controller_owns(annotation=("machinedeployment.clusters.x-k8s.io/revision", "1")),
             manager="manager")
        _autoscale(kube, md, 4)

    replay("03-capi-machinedeployment-defaults-autoscaler", control_plane, kube, tmp_path, {"team-c": capi_ns},
           live_change=happened, watch=[(CAPI, "MachineDeployment")])
    live = kube.get(kube.kind_info(CAPI, "MachineDeployment", "v1beta1"), capi_ns, "wl-03-md-0")
    assert live["spec"]["replicas"] == 4 and live["spec"]["template"]["spec"]["version"] == "v1.29.3"
    assert live["spec"]["selector"]["matchLabels"] == {"cluster.x-k8s.io/deployment-name": "wl-03-md-0",
                                                       CLUSTER_NAME_LABEL: "wl-03"}


AUTOSCALED_MD = """\
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata:
  name: gpu-pool
  namespace: {namespace}
  annotations:
    cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size: "1"
    cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size: "8"
spec:
  clusterName: wl-gpu
  template:
    spec:
      clusterName: wl-gpu
      version: 1.30.2
      bootstrap:
        configRef: {{apiVersion: bootstrap.cluster.x-k8s.io/v1beta1, kind: KubeadmConfigTemplate, name: gpu-pool}}
      infrastructureRef: {{apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: VSphereMachineTemplate, name: gpu-v2}}
"""


def test_autoscaled_machinedeployment_variant_then_a_persons_template_change_drifts(
        control_plane, kube, capi_ns, tmp_path):
    text = AUTOSCALED_MD.format(namespace=capi_ns)
    git = sync(tmp_path, control_plane, capi_ns, [(CAPI, "MachineDeployment")])
    git.commit({"gpu.yaml": text})
    [md] = objects_of(text)
    live = apply_as_gitops(kube, md)
    assert live["spec"]["replicas"] == 1 and live["spec"]["template"]["spec"]["version"] == "v1.30.2"
    _autoscale(kube, md, 7)
    assert_in_sync(*git.cycle())
    edit(kube, md, lambda o: o["spec"]["template"]["spec"]["infrastructureRef"].update(name="gpu-v3"))
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.template.spec.infrastructureRef.name", "modified", "gpu-v2", "gpu-v3")


def _extra_arg(component: str, key: str, value: str):
    return lambda o: o["spec"]["kubeadmConfigSpec"]["clusterConfiguration"][component]["extraArgs"].update({key: value})


def test_case_04_kcp_defaults_one_real_drift_replayed(control_plane, kube, capi_ns, tmp_path):
    def happened(kube, objs):
        [kcp] = objs
        edit(kube, kcp, _controller_owns(kind_finalizer="kubeadm.controlplane.cluster.x-k8s.io"), manager="manager")
        edit(kube, kcp, _extra_arg("apiServer", "audit-log-maxage", "7"))

    report = replay("04-capi-kcp-defaults-one-real-drift", control_plane, kube, tmp_path, {"team-d": capi_ns},
                    live_change=happened, watch=[("controlplane.cluster.x-k8s.io", "KubeadmControlPlane")])
    [drift] = only_object(report)["drifts"]
    assert (drift["class"], drift["evidence"]["manager"]) == ("out-of-band", PERSON)
    live = kube.get(kube.kind_info("controlplane.cluster.x-k8s.io", "KubeadmControlPlane", "v1beta1"), capi_ns, "wl-04-cp")
    assert live["spec"]["kubeadmConfigSpec"]["format"] == "cloud-config"
    assert live["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["dns"] == {}


KCP_VARIANT = """\
apiVersion: controlplane.cluster.x-k8s.io/v1beta1
kind: KubeadmControlPlane
metadata: {{name: edge-cp, namespace: {namespace}}}
spec:
  version: 1.30.2
  machineTemplate:
    infrastructureRef: {{apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: VSphereMachineTemplate, name: edge-cp-v4}}
  kubeadmConfigSpec:
    clusterConfiguration:
      controllerManager:
        extraArgs: {{bind-address: 0.0.0.0, terminated-pod-gc-threshold: "100"}}
    joinConfiguration:
      nodeRegistration: {{name: '{{{{ local_hostname }}}}'}}
"""


def test_kcp_variant_defaults_in_sync_then_an_extra_arg_patched_drifts(control_plane, kube, capi_ns, tmp_path):
    text = KCP_VARIANT.format(namespace=capi_ns)
    git = sync(tmp_path, control_plane, capi_ns, [("controlplane.cluster.x-k8s.io", "KubeadmControlPlane")])
    git.commit({"cp.yaml": text})
    [kcp] = objects_of(text)
    live = apply_as_gitops(kube, kcp)
    assert (live["spec"]["replicas"], live["spec"]["version"]) == (1, "v1.30.2")
    assert live["spec"]["machineTemplate"]["infrastructureRef"]["namespace"] == capi_ns
    assert_in_sync(*git.cycle())
    edit(kube, kcp, _extra_arg("controllerManager", "terminated-pod-gc-threshold", "12500"), manager="kubectl-patch")
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, 'spec.kubeadmConfigSpec.clusterConfiguration.controllerManager.extraArgs'
                             '["terminated-pod-gc-threshold"]', "modified", "100", "12500", manager="kubectl-patch")


def test_kubectl_edit_at_the_preferred_version_of_a_v1alpha1_tkc_is_exactly_that_drift(
        control_plane, kube, supervisor_ns, tmp_path):
    """``kubectl edit tkc`` works at the group's preferred version (v1alpha3): the person's
    managedFields entry names ``nodePools[name=workers].replicas`` while Git (v1alpha1) declares
    ``workers.count``."""
    git = sync(tmp_path, control_plane, supervisor_ns)
    git.commit({"tkc-prod-demo01.yaml": seed_in(supervisor_ns)})
    [tkc] = objects_of(seed_in(supervisor_ns))
    apply_as_gitops(kube, tkc)
    assert_in_sync(*git.cycle())
    assert kube.kind_info(*TKC).version == "v1alpha3"
    edited = edit(kube, tkc, _pool("workers", replicas=3), version="v1alpha3")
    assert owners(edited, "spec", "topology", "nodePools") == [PERSON]
    code, report = git.cycle()
    assert code == 1
    assert_one_drift(report, "spec.topology.workers.count", "modified", 1, 3)
