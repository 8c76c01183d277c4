"""Fixtures for tests against a real local control plane (etcd + kube-apiserver, see driftd.envtest).

* ``control_plane`` (session): the control plane with the CRDs of tests/crds installed and the TKC
  conversion webhook served by this process.
* ``namespace``: a fresh namespace per test.

Every test under tests/integration is marked ``integration``. A missing control plane is built
(scripts/control-plane-build), never skipped; the build runs once after collection, outside any test's
timeout, with its progress shown.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient

from driftd.envtest.controlplane import ControlPlane, find_binaries
from driftd.envtest.crds import install_crds
from driftd.envtest.webhooks import WebhookServer, tkc_conversion

HERE = Path(__file__).resolve().parent
CRD_DIR = HERE.parent / "crds"
TKC_CONVERSION_PATH = "/convert/tkc"

_binaries: Path | None = None
_active: ControlPlane | None = None


@dataclass
class Env:
    """What the ``control_plane`` fixture yields."""

    control_plane: ControlPlane
    webhooks: WebhookServer
    crds: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.admin_kubeconfig

    @property
    def url(self) -> str:
        return self.control_plane.url

    def add_user(self, name: str, groups: list[str] | tuple[str, ...] = ()) -> Path:
        return self.control_plane.add_user(name, groups)

    def api_client(self, kubeconfig: Path | str | None = None) -> ApiClient:
        """A kubernetes ApiClient for ``kubeconfig`` (default: admin). Close it when done."""
        return kube_config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def dynamic(self, kubeconfig: Path | str | None = None) -> DynamicClient:
        return DynamicClient(self.api_client(kubeconfig))

    def tail_logs(self, n: int = 60) -> str:
        return self.control_plane.tail_logs(n)


def _is_integration(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(HERE)
    except (AttributeError, ValueError):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_integration(item):
            item.add_marker(pytest.mark.integration)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build (or find) the binaries before the first test runs, so a cold build is not a test timeout."""
    global _binaries
    if session.config.option.collectonly or not any(_is_integration(i) for i in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            _binaries = find_binaries()
    else:
        _binaries = find_binaries()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _active is not None and _is_integration(item):
        try:
            report.sections.append(("control plane logs (" + report.when + ")", _active.tail_logs(40)))
        except Exception as e:  # noqa: BLE001 - a report must never fail
            report.sections.append(("control plane logs", f"unavailable: {e}"))


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory):
    global _active
    t0 = time.monotonic()
    binaries = _binaries or find_binaries()
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"), binaries)
    webhooks = WebhookServer().start()
    webhooks.add_handler(TKC_CONVERSION_PATH, tkc_conversion)
    try:
        cp.start()
        _active = cp
        env = Env(cp, webhooks)
        try:
            env.crds = install_crds(cp.admin_kubeconfig, CRD_DIR, webhooks)
        except Exception as e:
            raise RuntimeError(f"installing the CRDs from {CRD_DIR} failed: {e}\n{cp.tail_logs()}") from e
        env.startup_seconds = time.monotonic() - t0
        yield env
    finally:
        _active = None
        cp.stop()
        webhooks.stop()


def _dns_label(text: str, limit: int) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return text[:limit].strip("-") or "x"


@pytest.fixture
def namespace(control_plane: Env, request: pytest.FixtureRequest) -> str:
    name = request.node.name
    name = re.sub(r"^test_", "", name)
    ns = f"t-{_dns_label(name, 40)}-{secrets.token_hex(3)}"
    client = control_plane.api_client()
    try:
        dyn = DynamicClient(client)
        res = dyn.resources.get(api_version="v1", kind="Namespace")
        dyn.create(res, body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    finally:
        client.close()
    # Namespaces never finish deleting here (no namespace controller), so they are left behind.
    return ns
