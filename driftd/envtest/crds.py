"""Install CustomResourceDefinitions from YAML files into the local control plane."""

from __future__ import annotations

import copy
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from .webhooks import WebhookServer

CRD_API_VERSION = "apiextensions.k8s.io/v1"
DEFAULT_CONVERSION_PATH = "/convert/tkc"


def load_crds(crd_dir: Path) -> list[dict]:
    """All CustomResourceDefinition documents in ``crd_dir`` (``*.yaml``/``*.yml``, sorted by file name)."""
    docs = []
    files = sorted(p for p in Path(crd_dir).iterdir() if p.suffix in (".yaml", ".yml"))
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                docs.append(doc)
    return docs


def with_conversion_webhook(crd: dict, server: "WebhookServer | None") -> dict:
    """A copy of ``crd`` whose webhook conversion points at ``server`` (path taken from the file's url)."""
    crd = copy.deepcopy(crd)
    conversion = crd.get("spec", {}).get("conversion") or {}
    if conversion.get("strategy") != "Webhook":
        return crd
    if server is None:
        raise ValueError(f"CRD {crd['metadata']['name']} needs a conversion webhook server")
    webhook = conversion.setdefault("webhook", {})
    webhook.setdefault("conversionReviewVersions", ["v1"])
    cc = webhook.get("clientConfig") or {}
    path = urllib.parse.urlsplit(cc.get("url", "")).path or DEFAULT_CONVERSION_PATH
    webhook["clientConfig"] = {"url": server.url_for(path), "caBundle": server.ca_bundle}
    return crd


def install_crds(
    kubeconfig: Path | str,
    crd_dir: Path | str,
    conversion_server: "WebhookServer | None" = None,
    timeout: float = 60.0,
) -> list[str]:
    """Create or replace every CRD in ``crd_dir`` and wait until each is Established and discoverable.

    Webhook conversion is pointed at ``conversion_server``. Returns the CRD names.
    """
    api_client = kube_config.new_client_from_config(config_file=str(kubeconfig))
    try:
        dyn = DynamicClient(api_client)
        crd_res = dyn.resources.get(api_version=CRD_API_VERSION, kind="CustomResourceDefinition")
        names = []
        wanted = []
        for crd in load_crds(Path(crd_dir)):
            body = with_conversion_webhook(crd, conversion_server)
            name = body["metadata"]["name"]
            try:
                dyn.create(crd_res, body=body)
            except ConflictError:
                current = dyn.get(crd_res, name=name)
                body["metadata"]["resourceVersion"] = current.metadata.resourceVersion
                dyn.replace(crd_res, body=body, name=name)
            names.append(name)
            wanted.append(body)
        deadline = time.monotonic() + timeout
        for body in wanted:
            _wait_established(dyn, crd_res, body, deadline)
        dyn.resources.invalidate_cache()
        return names
    finally:
        api_client.close()


def _wait_established(dyn: DynamicClient, crd_res, body: dict, deadline: float) -> None:
    name = body["metadata"]["name"]
    group = body["spec"]["group"]
    plural = body["spec"]["names"]["plural"]
    served = [v["name"] for v in body["spec"]["versions"] if v.get("served")]
    last = "not yet read"
    while True:
        try:
            crd = dyn.get(crd_res, name=name).to_dict()
            conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
            est = conds.get("Established", {})
            if est.get("status") != "True":
                last = f"Established={est.get('status')} {est.get('message', '')}".strip()
            else:
                missing = [v for v in served if not _discoverable(dyn, group, v, plural)]
                if not missing:
                    return
                last = f"versions not discoverable yet: {missing}"
        except NotFoundError:
            last = "not found"
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} not ready: {last}")
        time.sleep(0.1)


def _discoverable(dyn: DynamicClient, group: str, version: str, plural: str) -> bool:
    try:
        doc = dyn.request("get", f"/apis/{group}/{version}")
    except NotFoundError:
        return False
    doc = doc.to_dict() if hasattr(doc, "to_dict") else doc
    return any(r.get("name") == plural for r in (doc or {}).get("resources") or [])
