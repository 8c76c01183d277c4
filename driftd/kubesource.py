"""The Kubernetes edge: every call driftd makes to an API server lives here.

Objects are read as raw JSON (never the client's model classes), listed at the API version Git
uses so that the server converts and both sides are compared in one version. Every failure —
unreachable server, TLS, timeout, 401/403, a kind the server does not serve (CRD missing) — is
raised as ``KubeError`` with one clear message naming the cluster and the object or kind; callers
record it and never read it as "objects missing".

The ``kubernetes`` package 37.x changed its generated code (``call_api(method, url, headers, body)``
returns a response and does not raise on 4xx/5xx); this module uses only ``param_serialize`` and
``call_api`` of ``ApiClient`` and reads the response itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .config import ClusterConfig


class KubeError(Exception):
    """A failed call to an API server. ``reason``: unreachable | timeout | unauthorized | forbidden |
    not-found | conflict | invalid | error."""

    def __init__(self, message: str, reason: str = "error", status: int | None = None, details: dict | None = None):
        super().__init__(message)
        self.reason, self.status, self.details = reason, status, details or {}


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def label(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


_REASONS = {401: "unauthorized", 403: "forbidden", 404: "not-found", 409: "conflict", 422: "invalid"}


class KubeSource:
    def __init__(self, cluster: ClusterConfig, api_client: kclient.ApiClient):
        self.cluster, self.api = cluster, api_client
        self._groups: dict[str, dict] = {}
        self._resources: dict[str, list[dict]] = {}

    @classmethod
    def connect(cls, cluster: ClusterConfig) -> "KubeSource":
        """A client from the cluster's kubeconfig (and context), or the in-cluster config."""
        try:
            if cluster.kubeconfig:
                api = kconfig.new_client_from_config(config_file=cluster.kubeconfig, context=cluster.context)
            else:
                configuration = kclient.Configuration()
                kconfig.load_incluster_config(client_configuration=configuration)
                api = kclient.ApiClient(configuration)
        except (ConfigException, OSError, ValueError, TypeError, yaml.YAMLError) as exc:
            where = cluster.kubeconfig or "in-cluster config"
            ctx = f" (context {cluster.context})" if cluster.context else ""
            raise KubeError(f"cluster {cluster.name}: cannot load {where}{ctx}: {exc}", "invalid") from exc
        api.configuration.retries = 1
        return cls(cluster, api)

    def close(self) -> None:
        self.api.close()

    # -- raw requests -------------------------------------------------------------------------------

    def request(self, method: str, path: str, query: list[tuple[str, str]] | None = None, body: object = None,
                content_type: str = "application/json", what: str | None = None) -> dict:
        what = what or path
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            req = self.api.param_serialize(method, path, query_params=query or [], header_params=headers,
                                           body=body, auth_settings=["BearerToken"])
            resp = self.api.call_api(*req, _request_timeout=self.cluster.timeout)
            data = resp.read()
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            if _is_timeout(exc):
                raise KubeError(f"cluster {self.cluster.name}: {what}: no answer from {self.api.configuration.host} "
                                f"within {self.cluster.timeout:g}s", "timeout") from exc
            raise KubeError(f"cluster {self.cluster.name}: {what}: API server {self.api.configuration.host} "
                            f"unreachable: {_short(exc)}", "unreachable") from exc
        status = resp.status
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {"message": data[:200].decode("utf-8", "replace") if isinstance(data, bytes) else str(data)}
        if 200 <= status <= 299:
            return payload
        message = payload.get("message") if isinstance(payload, dict) else None
        raise KubeError(f"cluster {self.cluster.name}: {what}: {status} {message or resp.reason}",
                        _REASONS.get(status, "error"), status, payload if isinstance(payload, dict) else {})

    # -- discovery ----------------------------------------------------------------------------------

    def group_versions(self, group: str) -> dict:
        """``{"versions": [...], "preferredVersion": {...}}`` of an API group ("" = core)."""
        if group not in self._groups:
            if group == "":
                core = self.request("GET", "/api", what="discovery of the core API")
                self._groups[group] = {"versions": [{"version": v} for v in core.get("versions", [])],
                                       "preferredVersion": {"version": "v1"}}
            else:
                try:
                    self._groups[group] = self.request("GET", f"/apis/{group}", what=f"discovery of {group}")
                except KubeError as exc:
                    if exc.reason == "not-found":
                        raise KubeError(f"cluster {self.cluster.name}: API group {group} is not served "
                                        f"(is its CRD installed?)", "not-found", 404) from exc
                    raise
        return self._groups[group]

    def kind_info(self, group: str, kind: str, version: str | None = None) -> KindInfo:
        label = f"{kind}.{group}" if group else kind
        try:
            versions = self.group_versions(group)
        except KubeError as exc:
            if exc.reason == "not-found":
                raise KubeError(f"cluster {self.cluster.name}: {label}: API group {group} is not served "
                                f"(is the CRD of {label} installed?)", "not-found", 404) from exc
            raise
        served = [v["version"] for v in versions.get("versions", [])]
        version = version or (versions.get("preferredVersion") or {}).get("version") or (served[0] if served else None)
        if version not in served:
            raise KubeError(f"cluster {self.cluster.name}: {label}: version {version} is not served "
                            f"(served: {', '.join(served) or 'none'})", "not-found", 404)
        gv = f"{group}/{version}" if group else version
        if gv not in self._resources:
            path = f"/apis/{gv}" if group else f"/api/{version}"
            self._resources[gv] = self.request("GET", path, what=f"discovery of {gv}").get("resources", [])
        for res in self._resources[gv]:
            if res.get("kind") == kind and "/" not in res.get("name", ""):
                return KindInfo(group, version, kind, res["name"], bool(res.get("namespaced")))
        raise KubeError(f"cluster {self.cluster.name}: kind {kind} is not served by {gv} (is its CRD installed?)",
                        "not-found", 404)

    def forget_discovery(self) -> None:
        self._groups.clear()
        self._resources.clear()

    # -- objects ------------------------------------------------------------------------------------

    def _path(self, info: KindInfo, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
        ns = f"/namespaces/{quote(namespace, safe='')}" if info.namespaced and namespace else ""
        tail = f"/{quote(name, safe='')}" if name else ""
        return f"{base}{ns}/{info.plural}{tail}"

    def list(self, info: KindInfo, namespace: str | None = None, page_size: int = 500) -> list[dict]:
        """Every object of a kind (in one namespace, or cluster-wide), as raw JSON with apiVersion/kind."""
        where = f"list {info.label}" + (f" in {namespace}" if namespace and info.namespaced else "")
        items: list[dict] = []
        cont = None
        while True:
            query = [("limit", str(page_size))] + ([("continue", cont)] if cont else [])
            page = self.request("GET", self._path(info, namespace), query, what=where)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", info.api_version)
                item.setdefault("kind", info.kind)
                items.append(item)
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return items

    def crd(self, info: KindInfo) -> dict:
        """The CustomResourceDefinition that serves ``info`` (404 for a built-in kind)."""
        return self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{info.plural}.{info.group}",
                            what=f"read the CRD of {info.label}")

    def get(self, info: KindInfo, namespace: str | None, name: str) -> dict:
        return self.request("GET", self._path(info, namespace, name), what=f"get {info.label} {namespace}/{name}")

    def apply(self, info: KindInfo, obj: dict, field_manager: str, force: bool = False,
              dry_run: bool = False) -> dict:
        """Server-side apply of ``obj`` (only the fields it holds) as ``field_manager``."""
        meta = obj.get("metadata") or {}
        query = [("fieldManager", field_manager)] + ([("force", "true")] if force else []) \
            + ([("dryRun", "All")] if dry_run else [])
        return self.request("PATCH", self._path(info, meta.get("namespace"), meta["name"]), query, body=obj,
                            content_type="application/apply-patch+yaml",
                            what=f"apply {info.label} {meta.get('namespace') or ''}/{meta['name']}".replace(" /", " "))

    def update(self, info: KindInfo, obj: dict, field_manager: str) -> dict:
        """PUT ``obj`` with its resourceVersion: a concurrent change is a 409, never overwritten."""
        meta = obj.get("metadata") or {}
        return self.request("PUT", self._path(info, meta.get("namespace"), meta["name"]),
                            [("fieldManager", field_manager)], body=obj,
                            what=f"update {info.label} {meta.get('namespace')}/{meta['name']}")

    def json_patch(self, info: KindInfo, namespace: str | None, name: str, ops: list[dict], field_manager: str,
                   dry_run: bool = False) -> dict:
        query = [("fieldManager", field_manager)] + ([("dryRun", "All")] if dry_run else [])
        return self.request("PATCH", self._path(info, namespace, name), query, body=ops,
                            content_type="application/json-patch+json", what=f"patch {info.label} {namespace}/{name}")


def _is_timeout(exc: BaseException) -> bool:
    """A read or connect timeout, also inside the MaxRetryError urllib3 raises once its retries are
    spent. A refused connection is not one, although urllib3's NewConnectionError subclasses
    ConnectTimeoutError."""
    for e in (exc, getattr(exc, "reason", None)):
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            return False
        if isinstance(e, (urllib3.exceptions.TimeoutError, TimeoutError)):
            return True
    return False


def _short(exc: BaseException) -> str:
    # "HTTPSConnection(host='10.0.0.5', port=6443): Failed to ..." -> "Failed to ...": the URL is said already
    text = re.sub(r"^\w+\(host=[^)]*\): ", "", str(getattr(exc, "reason", None) or exc))
    return text if len(text) < 300 else text[:300] + "…"
