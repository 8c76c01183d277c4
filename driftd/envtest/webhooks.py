"""HTTPS webhooks served by the test process for the local kube-apiserver.

``WebhookServer`` is a stdlib ``http.server`` on 127.0.0.1 (free port, own CA, serving cert with SAN IP
127.0.0.1) running in a daemon thread. Handlers are registered by path; each takes the parsed JSON review
(ConversionReview, AdmissionReview, ...) and returns the JSON body to answer with.

``tkc_conversion`` converts TanzuKubernetesCluster objects between v1alpha1 and v1alpha2/v1alpha3;
``tkr_resolver`` is a mutating admission webhook that fills a TKC the way a Supervisor's TKR resolver does;
``capi_defaulting`` defaults MachineDeployments and KubeadmControlPlanes like Cluster API's v1beta1 webhooks.
"""

from __future__ import annotations

import base64
import collections
import copy
import http.server
import json
import ssl
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from . import certs

Handler = Callable[[dict], dict]

TKC_GROUP = "run.tanzu.vmware.com"
CONVERSION_ANNOTATION = "run.tanzu.vmware.com/conversion-data"


class WebhookServer:
    """A small HTTPS server hosting webhook handlers by path (``add_handler``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        #: the last requests received, as (path, parsed body) tuples, newest last
        self.requests: collections.deque[tuple[str, Any]] = collections.deque(maxlen=200)
        #: handler failures, as (path, traceback text)
        self.errors: list[tuple[str, str]] = []
        self._ca = certs.new_ca("driftd-envtest-webhook-ca")
        key, cert = certs.issue(self._ca, "driftd-envtest-webhook", server_names=[host, "localhost"], client=False)
        self._tmp = tempfile.TemporaryDirectory(prefix="driftd-webhook-")
        crt_path, key_path = Path(self._tmp.name, "tls.crt"), Path(self._tmp.name, "tls.key")
        crt_path.write_bytes(cert)
        key_path.write_bytes(key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt_path), str(key_path))

        server = self

        class _RequestHandler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with server._lock:
                    fn = server._handlers.get(path)
                if fn is None:
                    return self._send(404, {"error": f"no handler for {path}"})
                try:
                    review = json.loads(raw or b"null")
                    server.requests.append((path, review))
                    answer = fn(review)
                except Exception:  # noqa: BLE001 - report to the API server and keep serving
                    tb = traceback.format_exc()
                    server.errors.append((path, tb))
                    return self._send(500, {"error": tb})
                self._send(200, answer)

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._httpd = http.server.ThreadingHTTPServer((host, port), _RequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "WebhookServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="envtest-webhooks", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self._tmp.cleanup()

    def __enter__(self) -> "WebhookServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ handlers
    def add_handler(self, path: str, fn: Handler) -> str:
        """Serve ``fn`` at ``path`` (replacing any handler there); returns ``url_for(path)``."""
        if not path.startswith("/"):
            path = "/" + path
        with self._lock:
            self._handlers[path] = fn
        return self.url_for(path)

    def remove_handler(self, path: str) -> None:
        with self._lock:
            self._handlers.pop(path, None)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.url + path

    @property
    def ca_pem(self) -> bytes:
        return self._ca[1]

    @property
    def ca_bundle(self) -> str:
        """Base64 PEM of the CA, for ``clientConfig.caBundle``."""
        return base64.b64encode(self._ca[1]).decode()

    def client_config(self, path: str) -> dict:
        """``{"url": ..., "caBundle": ...}`` for a webhook/conversion configuration."""
        return {"url": self.url_for(path), "caBundle": self.ca_bundle}


def admission_response(
    review: dict,
    allowed: bool = True,
    patch: list[dict] | None = None,
    message: str | None = None,
    warnings: list[str] | None = None,
) -> dict:
    """The AdmissionReview answer to ``review`` (admission.k8s.io/v1); ``patch`` is a JSON Patch list."""
    response: dict[str, Any] = {"uid": (review.get("request") or {}).get("uid", ""), "allowed": allowed}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    if message is not None:
        response["status"] = {"message": message, "code": 200 if allowed else 403}
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": review.get("apiVersion", "admission.k8s.io/v1"), "kind": "AdmissionReview",
            "response": response}


# ---------------------------------------------------------------------- TKC conversion
_V1A1_NODE = {"count": "replicas", "class": "vmClass", "storageClass": "storageClass", "volumes": "volumes"}
_V1A2_NODE = {v: k for k, v in _V1A1_NODE.items()}
_WORKERS_POOL = "workers"


def _hub(api_version: str) -> bool:
    """True for the versions with nodePools (v1alpha2 ≡ v1alpha3 here)."""
    return api_version.split("/")[-1] in ("v1alpha2", "v1alpha3")


def _rename(d: dict, mapping: dict[str, str]) -> tuple[dict, dict]:
    """Rename keys known to ``mapping``; returns (renamed, leftovers)."""
    out, rest = {}, {}
    for k, v in d.items():
        if k in mapping:
            out[mapping[k]] = copy.deepcopy(v)
        else:
            rest[k] = copy.deepcopy(v)
    return out, rest


def _down(obj: dict) -> dict:
    """v1alpha2/3 -> v1alpha1; what v1alpha1 cannot hold goes to the conversion-data annotation."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    stash: dict[str, Any] = {}
    new_spec: dict[str, Any] = {}
    for k, v in spec.items():
        if k in ("distribution", "settings"):
            new_spec[k] = copy.deepcopy(v)
        elif k == "topology":
            continue
        else:
            stash.setdefault("spec", {})[k] = copy.deepcopy(v)
    topo = spec.get("topology")
    if isinstance(topo, dict):
        new_topo: dict[str, Any] = {}
        for k, v in topo.items():
            if k == "controlPlane" and isinstance(v, dict):
                cp, rest = _rename(v, _V1A2_NODE)
                new_topo["controlPlane"] = cp
                if rest:
                    stash["controlPlane"] = rest
            elif k == "nodePools" and isinstance(v, list):
                pools = v
                if pools and isinstance(pools[0], dict):
                    workers, _ = _rename(pools[0], _V1A2_NODE)
                    new_topo["workers"] = workers
                exact = (
                    len(pools) == 1
                    and isinstance(pools[0], dict)
                    and pools[0].get("name") == _WORKERS_POOL
                    and set(pools[0]) <= set(_V1A2_NODE) | {"name"}
                )
                if not exact:
                    stash["nodePools"] = copy.deepcopy(pools)
            else:
                stash.setdefault("topology", {})[k] = copy.deepcopy(v)
        new_spec["topology"] = new_topo
    elif "topology" in spec:
        stash.setdefault("spec", {})["topology"] = copy.deepcopy(topo)
    obj["spec"] = new_spec
    _set_stash(obj, stash)
    return obj


def _up(obj: dict) -> dict:
    """v1alpha1 -> v1alpha2/3, restoring what was stashed in the conversion-data annotation."""
    stash = _take_stash(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    new_spec: dict[str, Any] = {}
    for k, v in spec.items():
        if k == "topology" and isinstance(v, dict):
            new_topo: dict[str, Any] = {}
            for tk, tv in v.items():
                if tk == "controlPlane" and isinstance(tv, dict):
                    cp, rest = _rename(tv, _V1A1_NODE)
                    cp.update(rest)
                    for sk, sv in (stash.get("controlPlane") or {}).items():
                        cp.setdefault(sk, sv)
                    new_topo["controlPlane"] = cp
                elif tk == "workers" and isinstance(tv, dict):
                    continue
                else:
                    new_topo[tk] = copy.deepcopy(tv)
            if "controlPlane" not in new_topo and stash.get("controlPlane"):
                new_topo["controlPlane"] = stash["controlPlane"]
            workers = v.get("workers")
            pools = stash.get("nodePools")
            if pools is not None:
                pools = copy.deepcopy(pools)
                if isinstance(workers, dict) and pools and isinstance(pools[0], dict):
                    # changes made through v1alpha1 win over the stashed values of the first pool
                    fields, _ = _rename(workers, _V1A1_NODE)
                    for f in _V1A2_NODE:
                        pools[0].pop(f, None)
                    pools[0].update(fields)
                elif isinstance(workers, dict):
                    pools = [{"name": _WORKERS_POOL, **_rename(workers, _V1A1_NODE)[0]}]
                new_topo["nodePools"] = pools
            elif isinstance(workers, dict):
                new_topo["nodePools"] = [{"name": _WORKERS_POOL, **_rename(workers, _V1A1_NODE)[0]}]
            for tk, tv in (stash.get("topology") or {}).items():
                new_topo.setdefault(tk, tv)
            new_spec["topology"] = new_topo
        else:
            new_spec[k] = copy.deepcopy(v)
    for k, v in (stash.get("spec") or {}).items():
        new_spec.setdefault(k, v)
    obj["spec"] = new_spec
    return obj


def _set_stash(obj: dict, stash: dict) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    if stash:
        annotations = dict(annotations)
        annotations[CONVERSION_ANNOTATION] = json.dumps(stash, sort_keys=True, separators=(",", ":"))
        meta["annotations"] = annotations
    elif CONVERSION_ANNOTATION in annotations:
        annotations = dict(annotations)
        del annotations[CONVERSION_ANNOTATION]
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)


def _take_stash(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    raw = annotations.get(CONVERSION_ANNOTATION)
    if raw is None:
        return {}
    annotations = dict(annotations)
    del annotations[CONVERSION_ANNOTATION]
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    try:
        stash = json.loads(raw)
    except ValueError:
        return {}
    return stash if isinstance(stash, dict) else {}


def convert_tkc(obj: dict, desired_api_version: str) -> dict:
    """Convert one TanzuKubernetesCluster object to ``desired_api_version`` (returns a new dict)."""
    obj = copy.deepcopy(obj)
    src = obj.get("apiVersion", "")
    if src != desired_api_version:
        if _hub(src) and not _hub(desired_api_version):
            obj = _down(obj)
        elif not _hub(src) and _hub(desired_api_version):
            obj = _up(obj)
    obj["apiVersion"] = desired_api_version
    return obj


def tkc_conversion(review: dict) -> dict:
    """ConversionReview (apiextensions.k8s.io/v1) handler for TanzuKubernetesCluster."""
    request = review.get("request") or {}
    uid = request.get("uid", "")
    desired = request.get("desiredAPIVersion", "")
    try:
        if desired.split("/")[0] != TKC_GROUP:
            raise ValueError(f"unexpected desiredAPIVersion {desired!r}")
        converted = [convert_tkc(o, desired) for o in request.get("objects") or []]
        response = {"uid": uid, "convertedObjects": converted, "result": {"status": "Success"}}
    except Exception as e:  # noqa: BLE001 - answered as a Failure
        response = {"uid": uid, "convertedObjects": [], "result": {"status": "Failure", "message": str(e)}}
    return {"apiVersion": review.get("apiVersion", "apiextensions.k8s.io/v1"), "kind": "ConversionReview",
            "response": response}


# ---------------------------------------------------------------------- TKR resolver (mutating admission)
TKR_LABEL = "run.tanzu.vmware.com/tkr"
#: the Tanzu Kubernetes releases this resolver knows, by version core (like a Supervisor's TKR list)
KNOWN_TKRS = {
    "1.21.6": "v1.21.6+vmware.1-tkg.1.b3d708a",
    "1.22.9": "v1.22.9+vmware.1-tkg.1.cc71bc8",
    "1.23.8": "v1.23.8+vmware.3-tkg.1",
    "1.26.5": "v1.26.5+vmware.2-fips.1-tkg.1",
}
#: what the TKG service fills into ``spec.settings.network`` where the request leaves it out
NETWORK_DEFAULTS = {
    "cni": {"name": "antrea"},
    "pods": {"cidrBlocks": ["192.168.0.0/16"]},
    "services": {"cidrBlocks": ["10.96.0.0/12"]},
    "serviceDomain": "cluster.local",
}


def same_release(full: str, version: str) -> bool:
    """``full`` (``v1.21.6+vmware.1-tkg.1.b3d708a``) is a release of ``version`` (``1.21.6``, ``v1.21``)."""
    core = version[1:] if version.startswith("v") else version
    have = full[1:] if full.startswith("v") else full
    return bool(core) and (have == core or (have.startswith(core) and have[len(core)] in ".+-"))


def resolve_tkr(version: str) -> str | None:
    """The full TKR version a short one names: ``1.21.6``/``v1.21``/``v1.21.6+vmware.1`` →
    ``v1.21.6+vmware.1-tkg.1.b3d708a`` (the newest known release with that prefix); an unknown
    release resolves to ``v<version>+vmware.1-tkg.1``."""
    core = version[1:] if version.startswith("v") else version
    if not core:
        return None
    matches = [full for _, full in sorted(KNOWN_TKRS.items()) if same_release(full, core)]
    if matches:
        return matches[-1]
    return f"v{core}" if "+" in core else f"v{core}+vmware.1-tkg.1"


def tkr_name(full_version: str) -> str:
    """The TanzuKubernetesRelease object name of a full version (``+`` becomes ``---``)."""
    return full_version.replace("+", "---")


def _tkr_reference(spec: dict) -> str | None:
    topology = spec.get("topology") or {}
    for node in [topology.get("controlPlane")] + list(topology.get("nodePools") or []):
        name = (((node or {}).get("tkr") or {}).get("reference") or {}).get("name") if isinstance(node, dict) else None
        if isinstance(name, str) and name:
            return name
    return None


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def tkr_resolver_patch(obj: dict) -> list[dict]:
    """The JSON patch a TKR-resolver-like webhook makes to one TanzuKubernetesCluster (any version).

    * ``spec.distribution.fullVersion`` resolved from ``distribution.version`` (re-resolved when it
      names another release), or from a TKR reference (``v1.23.8---vmware.3-tkg.1``); the legacy
      ``distribution.version`` is set to ``""`` where the request leaves it out (case 01);
    * ``spec.settings.network`` defaults (``NETWORK_DEFAULTS``) field by field where absent;
    * the ``run.tanzu.vmware.com/tkr`` label where absent.
    Values the request already holds are kept: a person's edit of a filled field stays.
    """
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    ops: list[dict] = []
    distribution = spec.get("distribution")
    version = (distribution or {}).get("version") if isinstance(distribution, dict) else None
    full = (distribution or {}).get("fullVersion") if isinstance(distribution, dict) else None
    resolved = None
    if isinstance(version, str) and version:
        resolved = resolve_tkr(version)
        if isinstance(full, str) and full and same_release(full, version):
            resolved = full  # already resolved to a release of that version
    elif isinstance(full, str) and full:
        resolved = full
    else:
        reference = _tkr_reference(spec)
        if reference:
            resolved = reference.replace("---", "+")
    if resolved:
        if not isinstance(distribution, dict):
            ops.append({"op": "add", "path": "/spec/distribution", "value": {"fullVersion": resolved, "version": ""}})
        else:
            if full != resolved:
                ops.append({"op": "add", "path": "/spec/distribution/fullVersion", "value": resolved})
            if version is None:
                ops.append({"op": "add", "path": "/spec/distribution/version", "value": ""})
    settings = spec.get("settings")
    if not isinstance(settings, dict):
        ops.append({"op": "add", "path": "/spec/settings", "value": {"network": copy.deepcopy(NETWORK_DEFAULTS)}})
    elif not isinstance(settings.get("network"), dict):
        ops.append({"op": "add", "path": "/spec/settings/network", "value": copy.deepcopy(NETWORK_DEFAULTS)})
    else:
        network = settings["network"]
        for name, value in NETWORK_DEFAULTS.items():
            if name not in network:
                ops.append({"op": "add", "path": _pointer("spec", "settings", "network", name),
                            "value": copy.deepcopy(value)})
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels")
    if resolved:
        if not isinstance(labels, dict):
            ops.append({"op": "add", "path": "/metadata/labels", "value": {TKR_LABEL: tkr_name(resolved)}})
        elif TKR_LABEL not in labels:
            ops.append({"op": "add", "path": _pointer("metadata", "labels", TKR_LABEL), "value": tkr_name(resolved)})
    return ops


def tkr_resolver(review: dict) -> dict:
    """AdmissionReview (admission.k8s.io/v1) handler: CREATE and UPDATE of tanzukubernetesclusters."""
    request = review.get("request") or {}
    obj = request.get("object") or {}
    return admission_response(review, patch=tkr_resolver_patch(obj))


def mutating_webhook_configuration(name: str, client_config: dict, rules: list[dict],
                                   namespace_labels: dict[str, str] | None = None) -> dict:
    """A MutatingWebhookConfiguration with one webhook calling ``client_config`` (url + caBundle)
    for ``rules``, limited to namespaces carrying ``namespace_labels``."""
    webhook: dict[str, Any] = {
        "name": f"{name}.driftd.envtest", "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "failurePolicy": "Fail", "matchPolicy": "Equivalent", "reinvocationPolicy": "Never",
        "timeoutSeconds": 10, "clientConfig": client_config, "rules": rules,
    }
    if namespace_labels:
        webhook["namespaceSelector"] = {"matchLabels": dict(namespace_labels)}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name}, "webhooks": [webhook]}


#: the rules of the TKR resolver: every TanzuKubernetesCluster version, on CREATE and UPDATE
TKR_RESOLVER_RULES = [{"apiGroups": [TKC_GROUP], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["tanzukubernetesclusters"], "scope": "Namespaced"}]


# ---------------------------------------------------------------------- Cluster API defaulting (mutating admission)
CAPI_GROUP = "cluster.x-k8s.io"
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
AUTOSCALER_MIN_SIZE = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX_SIZE = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"


def _v_prefixed(version: object) -> object:
    return f"v{version}" if isinstance(version, str) and version and not version.startswith("v") else version


def default_machine_deployment(obj: dict, old: dict | None = None) -> dict:
    """What Cluster API's v1beta1 MachineDeployment defaulting webhook does (``MachineDeployment.Default``):
    cluster-name labels on the object, selector and template; a deployment-name selector when none is
    given; minReadySeconds 0, revisionHistoryLimit 1, progressDeadlineSeconds 600, a RollingUpdate
    strategy (maxSurge 1, maxUnavailable 0); the ``v`` version prefix; replicas from the autoscaler's
    min size on create (kept from the old object on update) or 1. Returns the defaulted copy."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    spec = obj.setdefault("spec", {})
    cluster = spec.get("clusterName")
    if cluster:
        meta.setdefault("labels", {})[CLUSTER_NAME_LABEL] = cluster
    if "replicas" not in spec:
        annotations = meta.get("annotations") or {}
        old_replicas = ((old or {}).get("spec") or {}).get("replicas")
        if AUTOSCALER_MIN_SIZE in annotations and AUTOSCALER_MAX_SIZE in annotations:
            spec["replicas"] = old_replicas if old_replicas is not None else int(annotations[AUTOSCALER_MIN_SIZE])
        else:
            spec["replicas"] = old_replicas if old_replicas is not None else 1
    spec.setdefault("minReadySeconds", 0)
    spec.setdefault("revisionHistoryLimit", 1)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", 1)
        rolling.setdefault("maxUnavailable", 0)
    template = spec.setdefault("template", {})
    template_labels = template.setdefault("metadata", {}).setdefault("labels", {})
    selector = spec.get("selector") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        selector = {"matchLabels": {DEPLOYMENT_NAME_LABEL: meta.get("name", "")}}
        template_labels[DEPLOYMENT_NAME_LABEL] = meta.get("name", "")
    spec["selector"] = selector
    if cluster:
        selector.setdefault("matchLabels", {})[CLUSTER_NAME_LABEL] = cluster
        template_labels[CLUSTER_NAME_LABEL] = cluster
    template_spec = template.setdefault("spec", {})
    if "version" in template_spec:
        template_spec["version"] = _v_prefixed(template_spec["version"])
    return obj


def default_kubeadm_control_plane(obj: dict, old: dict | None = None) -> dict:
    """What Cluster API's v1beta1 KubeadmControlPlane webhook does (``KubeadmControlPlane.Default`` and
    ``DefaultKubeadmConfigSpec``), including the empty structs a Go re-encoding adds (case 04)."""
    obj = copy.deepcopy(obj)
    namespace = (obj.get("metadata") or {}).get("namespace")
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    template = spec.setdefault("machineTemplate", {})
    template.setdefault("metadata", {})
    ref = template.get("infrastructureRef")
    if isinstance(ref, dict) and namespace:
        ref.setdefault("namespace", namespace)
    if "version" in spec:
        spec["version"] = _v_prefixed(spec["version"])
    rollout = spec.setdefault("rolloutStrategy", {})
    rollout.setdefault("type", "RollingUpdate")
    rollout.setdefault("rollingUpdate", {}).setdefault("maxSurge", 1)
    config = spec.setdefault("kubeadmConfigSpec", {})
    config.setdefault("format", "cloud-config")
    cluster_config = config.setdefault("clusterConfiguration", {})
    for name in ("dns", "etcd", "networking", "scheduler"):
        cluster_config.setdefault(name, {})
    init = config.setdefault("initConfiguration", {})
    init.setdefault("localAPIEndpoint", {})
    init.setdefault("nodeRegistration", {}).setdefault("imagePullPolicy", "IfNotPresent")
    join = config.setdefault("joinConfiguration", {})
    join.setdefault("discovery", {})
    join.setdefault("nodeRegistration", {}).setdefault("imagePullPolicy", "IfNotPresent")
    return obj


_CAPI_DEFAULTERS = {"MachineDeployment": default_machine_deployment,
                    "KubeadmControlPlane": default_kubeadm_control_plane}


def capi_defaulting(review: dict) -> dict:
    """AdmissionReview handler: Cluster API's defaulting of MachineDeployment and KubeadmControlPlane,
    answered as a JSON patch that replaces ``spec`` and ``metadata.labels`` with the defaulted ones."""
    request = review.get("request") or {}
    obj = request.get("object") or {}
    defaulter = _CAPI_DEFAULTERS.get(obj.get("kind", ""))
    if defaulter is None:
        return admission_response(review)
    new = defaulter(obj, request.get("oldObject"))
    patch = []
    if new.get("spec") != obj.get("spec"):
        patch.append({"op": "add", "path": "/spec", "value": new["spec"]})
    labels = (new.get("metadata") or {}).get("labels")
    if labels is not None and labels != (obj.get("metadata") or {}).get("labels"):
        patch.append({"op": "add", "path": "/metadata/labels", "value": labels})
    return admission_response(review, patch=patch)


#: the rules of the Cluster API defaulting webhook (not the scale or status subresources)
CAPI_DEFAULTING_RULES = [
    {"apiGroups": [CAPI_GROUP], "apiVersions": ["v1beta1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["machinedeployments"], "scope": "Namespaced"},
    {"apiGroups": ["controlplane.cluster.x-k8s.io"], "apiVersions": ["v1beta1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["kubeadmcontrolplanes"], "scope": "Namespaced"},
]
