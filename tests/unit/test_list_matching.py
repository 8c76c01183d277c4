"""Lists are matched item by item by their key (containers and env by name, container ports by
containerPort+protocol, Service ports by port+protocol, TKC nodePools by name), so reordering is not
drift and a change is reported on the one item; a key that repeats falls back to position (case
14); lists of scalars are atomic and compared by position."""

from __future__ import annotations

from driftd.model import Status
from tests.unit.drift_helpers import by_path, diff, one, summary

OOB_EDIT = """\
          managedFields:
          - manager: kubectl-edit
            operation: Update
            time: "2026-11-30T10:00:00Z"
            fieldsType: FieldsV1
            fieldsV1: {fields}"""


def _deploy(containers: str, managed: str = "") -> str:
    return f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
{managed}
        spec:
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers:
{containers}
        """


APP = """\
              - name: app
                image: shop/web:1.4.0
                ports: [{containerPort: 8080, name: http}, {containerPort: 9090, name: metrics}]
                env: [{name: MODE, value: prod}, {name: LOG, value: info}, {name: TZ, value: UTC}]"""
PROXY = """\
              - name: proxy
                image: envoy:1.30
                args: [--config, /etc/envoy.yaml]"""


def test_reordered_containers_env_and_ports_are_not_drift():
    live_app = """\
              - name: app
                image: shop/web:1.4.0
                ports: [{containerPort: 9090, name: metrics, protocol: TCP}, {containerPort: 8080, name: http, protocol: TCP}]
                env: [{name: TZ, value: UTC}, {name: MODE, value: prod}, {name: LOG, value: info}]"""
    assert one(diff(_deploy(APP + "\n" + PROXY), _deploy(PROXY + "\n" + live_app))).status is Status.IN_SYNC


def test_one_changed_container_field_is_reported_on_that_item():
    live = _deploy(PROXY + "\n" + APP.replace("shop/web:1.4.0", "shop/web:1.5.0-debug"))
    assert summary(one(diff(_deploy(APP + "\n" + PROXY), live))) == [
        ("spec.template.spec.containers[name=app].image", "modified", "shop/web:1.4.0", "shop/web:1.5.0-debug",
         "unknown")]


def test_one_changed_env_value_is_reported_on_that_env_item():
    live = _deploy(APP.replace("{name: LOG, value: info}", "{name: LOG, value: debug}"))
    assert summary(one(diff(_deploy(APP), live))) == [
        ("spec.template.spec.containers[name=app].env[name=LOG].value", "modified", "info", "debug", "unknown")]


def test_container_port_change_is_reported_on_the_port_item_keyed_with_default_protocol():
    live = _deploy(APP.replace("{containerPort: 9090, name: metrics}", "{containerPort: 9090, name: prom}"))
    assert summary(one(diff(_deploy(APP), live))) == [
        ("spec.template.spec.containers[name=app].ports[containerPort=9090,protocol=TCP].name", "modified",
         "metrics", "prom", "unknown")]


def test_container_missing_from_live_is_one_removed_item():
    [drift] = one(diff(_deploy(APP + "\n" + PROXY), _deploy(APP))).drifts
    assert (drift.path_text, drift.change.value, drift.live) == ("spec.template.spec.containers[name=proxy]",
                                                                   "removed", None)
    assert drift.desired == {"name": "proxy", "image": "envoy:1.30", "args": ["--config", "/etc/envoy.yaml"]}


def test_container_added_by_kubectl_edit_is_one_added_item_not_a_drift_per_field():
    debug = """\
              - name: debug
                image: busybox:1.36
                command: [sleep, infinity]
                imagePullPolicy: IfNotPresent
                terminationMessagePath: /dev/termination-log"""
    managed = OOB_EDIT.format(fields="""{f:spec: {f:template: {f:spec: {f:containers: {'k:{"name":"debug"}': {.: {}, f:name: {}, f:image: {}, f:command: {}}}}}}}""")
    obj = one(diff(_deploy(APP), _deploy(APP + "\n" + debug, managed)))
    [drift] = obj.drifts
    assert (drift.path_text, drift.change.value, drift.desired, drift.drift_class.value) == \
        ("spec.template.spec.containers[name=debug]", "added", None, "out-of-band")
    assert drift.live == {"name": "debug", "image": "busybox:1.36", "command": ["sleep", "infinity"],
                          "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}
    assert drift.evidence.manager == "kubectl-edit"


def test_sidecar_injected_by_a_webhook_with_no_owner_is_not_drift():
    sidecar = """\
              - name: istio-proxy
                image: istio/proxyv2:1.22
                args: [proxy, sidecar]"""
    assert one(diff(_deploy(APP), _deploy(APP + "\n" + sidecar))).status is Status.IN_SYNC


def test_env_entry_added_by_kubectl_set_env_on_an_existing_container_is_drift_on_that_entry():
    managed = OOB_EDIT.replace("kubectl-edit", "kubectl-set").format(
        fields="""{f:spec: {f:template: {f:spec: {f:containers: {'k:{"name":"app"}': {f:env: {'k:{"name":"DEBUG"}': {.: {}, f:name: {}, f:value: {}}}}}}}}}""")
    live = _deploy(APP.replace("{name: TZ, value: UTC}", "{name: TZ, value: UTC}, {name: DEBUG, value: '1'}"),
                   managed)
    [drift] = one(diff(_deploy(APP), live)).drifts
    assert (drift.path_text, drift.change.value, drift.desired, drift.live, drift.drift_class.value) == \
        ("spec.template.spec.containers[name=app].env[name=DEBUG]", "added", None, {"name": "DEBUG", "value": "1"},
         "out-of-band")


def test_duplicate_env_names_fall_back_to_position_and_never_crash():
    env = "env: [{name: MODE, value: fast}, {name: LOG, value: info}, {name: MODE, value: full}]"
    git = _deploy(APP.replace(APP.splitlines()[-1].strip(), env))
    res = diff(git, git)
    obj = one(res)
    assert obj.status is Status.IN_SYNC
    assert any("env" in n and "position" in n for n in obj.notes)


def test_duplicate_env_names_with_a_change_report_the_position():
    env = "env: [{name: MODE, value: fast}, {name: LOG, value: info}, {name: MODE, value: full}]"
    git = _deploy(APP.replace(APP.splitlines()[-1].strip(), env))
    live = git.replace("value: full", "value: partial")
    assert summary(one(diff(git, live))) == [
        ("spec.template.spec.containers[name=app].env[2].value", "modified", "full", "partial", "unknown")]


def test_duplicate_names_only_in_live_also_fall_back_to_position():
    git = _deploy(APP)
    live = git.replace("{name: TZ, value: UTC}", "{name: LOG, value: debug}")
    assert summary(one(diff(git, live))) == [
        ("spec.template.spec.containers[name=app].env[2].name", "modified", "TZ", "LOG", "unknown"),
        ("spec.template.spec.containers[name=app].env[2].value", "modified", "UTC", "debug", "unknown")]


def test_scalar_lists_are_atomic_and_compared_by_position():
    live = _deploy(APP + "\n" + PROXY.replace("[--config, /etc/envoy.yaml]", "[/etc/envoy.yaml, --config]"))
    [drift] = one(diff(_deploy(APP + "\n" + PROXY), live)).drifts
    assert (drift.path_text, drift.change.value, drift.desired, drift.live) == (
        "spec.template.spec.containers[name=proxy].args", "modified", ["--config", "/etc/envoy.yaml"],
        ["/etc/envoy.yaml", "--config"])


def _service(ports: str) -> str:
    return f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: dns, namespace: kube-system}}
        spec:
          selector: {{app: dns}}
          ports: {ports}
        """


def test_service_ports_are_keyed_by_port_and_defaulted_protocol():
    git = _service("[{name: dns-tcp, port: 53, protocol: TCP}, {name: dns, port: 53, protocol: UDP},"
                   " {name: metrics, port: 9153, targetPort: 9153}]")
    live = _service("[{name: metrics, port: 9153, protocol: TCP, targetPort: 9154},"
                    " {name: dns, port: 53, protocol: UDP, targetPort: 53},"
                    " {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}]")
    assert summary(one(diff(git, live))) == [
        ("spec.ports[port=9153,protocol=TCP].targetPort", "modified", 9153, 9154, "unknown")]


def test_service_port_renamed_is_reported_on_the_port_item():
    git = _service("[{name: http, port: 80}]")
    live = _service("[{name: web, port: 80, protocol: TCP, targetPort: 80}]")
    [drift] = one(diff(git, live)).drifts
    assert (drift.path_text, drift.desired, drift.live) == ("spec.ports[port=80,protocol=TCP].name", "http", "web")


def _tkc(pools: str) -> str:
    return f"""
        apiVersion: run.tanzu.vmware.com/v1alpha3
        kind: TanzuKubernetesCluster
        metadata: {{name: tkc, namespace: team}}
        spec:
          topology:
            controlPlane: {{replicas: 3, vmClass: best-effort-small, storageClass: gold}}
            nodePools: {pools}
        """


def test_tkc_node_pools_matched_by_name_reorder_is_not_drift_one_change_is_one_path():
    git = _tkc("[{name: np-a, replicas: 2, vmClass: small, storageClass: gold},"
               " {name: np-b, replicas: 3, vmClass: large, storageClass: gold}]")
    live = _tkc("[{name: np-b, replicas: 3, vmClass: xlarge, storageClass: gold},"
                " {name: np-a, replicas: 2, vmClass: small, storageClass: gold}]")
    obj = one(diff(git, live))
    assert summary(obj) == [("spec.topology.nodePools[name=np-b].vmClass", "modified", "large", "xlarge", "unknown")]
    assert "spec.topology.nodePools" not in by_path(obj)


def _job(init: list[tuple[str, str]]) -> str:
    items = "".join(f"\n                - {{name: {n}, image: {i}}}" for n, i in init)
    return f"""
        apiVersion: batch/v1
        kind: Job
        metadata: {{name: restore, namespace: shop}}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{{name: main, image: shop/app:1}}]
              initContainers:{items}
        """


def test_init_containers_in_another_order_are_one_drift_on_the_list():
    git = _job([("restore-backup", "shop/restore:2"), ("run-migrations", "shop/migrate:7")])
    live = _job([("run-migrations", "shop/migrate:7"), ("restore-backup", "shop/restore:2")])
    [drift] = one(diff(git, live)).drifts
    assert (drift.path_text, drift.change.value, drift.desired, drift.live, drift.note) == (
        "spec.template.spec.initContainers", "modified", ["restore-backup", "run-migrations"],
        ["run-migrations", "restore-backup"], "the same items in another order")


def test_init_containers_reordered_and_changed_report_both_an_added_one_only_as_an_item():
    git = _job([("a", "x:1"), ("b", "y:1"), ("c", "z:1")])
    live = _job([("b", "y:2"), ("a", "x:1"), ("c", "z:1")])
    assert sorted((d.path_text, d.desired, d.live) for d in one(diff(git, live)).drifts) == [
        ("spec.template.spec.initContainers", ["a", "b", "c"], ["b", "a", "c"]),
        ("spec.template.spec.initContainers[name=b].image", "y:1", "y:2")]
    # an item missing live is reported on the item; the order of the rest is unchanged
    summary_ = summary(one(diff(git, _job([("a", "x:1"), ("c", "z:1")]))))
    assert [s[:2] for s in summary_] == [("spec.template.spec.initContainers[name=b]", "removed")]

