"""A real, local etcd + kube-apiserver for integration tests and the demo (like controller-runtime's envtest).

Layout of ``workdir`` (everything the control plane needs lives there, so a later process can stop it
or add users from the folder alone)::

    pki/                  CAs, serving cert, admin client cert, service-account keys
    etcd-data/            etcd's data dir
    etcd.log, kube-apiserver.log
    etcd.pid, kube-apiserver.pid
    state.json            ports and URL
    admin.kubeconfig      cluster "envtest", user "admin" (system:masters), context "admin@envtest"
    users/<name>.kubeconfig
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

import yaml

from . import certs

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "control-plane-build"

CLUSTER_NAME = "envtest"
ETCD = "etcd"
APISERVER = "kube-apiserver"
_PROCS = (APISERVER, ETCD)  # stop order


class ControlPlaneError(RuntimeError):
    """Raised when the control plane cannot be built, started or reached."""


def find_binaries(stderr: IO[str] | int | None = None) -> Path:
    """Return the folder holding ``etcd`` and ``kube-apiserver``, building them if needed.

    Runs ``scripts/control-plane-build``; its progress (stderr) goes to ``stderr`` (default: inherited,
    so a cold build shows progress on the terminal).
    """
    if not BUILD_SCRIPT.exists():
        raise ControlPlaneError(f"build script not found: {BUILD_SCRIPT}")
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=stderr, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
    folder = Path(lines[-1].strip())
    for b in (ETCD, APISERVER):
        if not os.access(folder / b, os.X_OK):
            raise ControlPlaneError(f"{BUILD_SCRIPT} printed {folder}, but {folder / b} is missing")
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _proc_cmdline(pid: int) -> str | None:
    """The process's command line, or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        if stat[stat.rindex(")") + 2 :].startswith("Z"):
            return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


class ControlPlane:
    """etcd + kube-apiserver listening on 127.0.0.1, with certificate authentication and RBAC."""

    def __init__(self, workdir: Path, binaries: Path | None = None):
        self.workdir = Path(workdir).resolve()
        self.binaries = Path(binaries) if binaries else None
        self._popen: dict[str, subprocess.Popen] = {}
        self._state: dict | None = None

    # ------------------------------------------------------------------ paths and properties
    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def log_paths(self) -> dict[str, Path]:
        return {name: self.workdir / f"{name}.log" for name in (ETCD, APISERVER)}

    def _pid_path(self, name: str) -> Path:
        return self.workdir / f"{name}.pid"

    @property
    def pid_paths(self) -> dict[str, Path]:
        return {name: self._pid_path(name) for name in (ETCD, APISERVER)}

    @property
    def state(self) -> dict:
        if self._state is None:
            p = self.workdir / "state.json"
            if not p.exists():
                raise ControlPlaneError(f"no control plane state in {self.workdir} (not started?)")
            self._state = json.loads(p.read_text())
        return self._state

    @property
    def url(self) -> str:
        return self.state["url"]

    @property
    def etcd_url(self) -> str:
        return self.state["etcd_url"]

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def pids(self) -> dict[str, int]:
        """PIDs recorded in the workdir (whether or not the processes still run)."""
        out = {}
        for name, p in self.pid_paths.items():
            try:
                out[name] = int(p.read_text().split()[0])
            except (FileNotFoundError, ValueError, IndexError):
                pass
        return out

    def running(self) -> dict[str, int]:
        """Recorded PIDs that still belong to a live process of this control plane."""
        return {n: pid for n, pid in self.pids().items() if self._is_ours(pid)}

    def _is_ours(self, pid: int) -> bool:
        # Every command line of ours names a path inside the workdir, so a recycled PID is never ours.
        cmd = _proc_cmdline(pid)
        return cmd is not None and str(self.workdir) in cmd

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "ControlPlane":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Start etcd, then kube-apiserver; return when ``/readyz`` answers ok.

        The servers run in their own sessions and outlive this process unless ``stop()`` is called.
        """
        if self.running():
            raise ControlPlaneError(f"a control plane already runs from {self.workdir}: {self.running()}")
        binaries = self.binaries or find_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._write_pki()
            etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
            self._state = {
                "url": f"https://127.0.0.1:{api_port}",
                "etcd_url": f"http://127.0.0.1:{etcd_port}",
                "binaries": str(binaries),
            }
            (self.workdir / "state.json").write_text(json.dumps(self._state, indent=2) + "\n")
            self._write_kubeconfig(self.admin_kubeconfig, "admin", self.pki / "admin.crt", self.pki / "admin.key")

            deadline = time.monotonic() + timeout
            self._spawn(ETCD, [
                str(binaries / ETCD),
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
            ])
            self._wait(ETCD, self._etcd_healthy, deadline)

            p = self.pki
            self._spawn(APISERVER, [
                str(binaries / APISERVER),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--tls-cert-file={p / 'serving.crt'}",
                f"--tls-private-key-file={p / 'serving.key'}",
                f"--client-ca-file={p / 'client-ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                "--endpoint-reconciler-type=none",
            ])
            self._wait(APISERVER, self._apiserver_ready, deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 5.0) -> None:
        """Terminate this control plane's processes (recorded PIDs only): SIGTERM, then SIGKILL."""
        for name in _PROCS:
            pid_file = self._pid_path(name)
            pid = self.pids().get(name)
            popen = self._popen.pop(name, None)
            if pid is not None and self._is_ours(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and self._is_ours(pid):
                    if popen is not None and popen.poll() is not None:
                        break
                    time.sleep(0.05)
                if self._is_ours(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    end = time.monotonic() + grace
                    while time.monotonic() < end and self._is_ours(pid):
                        if popen is not None and popen.poll() is not None:
                            break
                        time.sleep(0.05)
            if popen is not None:
                try:
                    popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            if pid is None or not self._is_ours(pid):
                pid_file.unlink(missing_ok=True)

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, groups: list[str] | tuple[str, ...] = ()) -> Path:
        """Issue a client certificate (CN=name, O=groups) and write a kubeconfig for it.

        The kubeconfig has cluster ``envtest``, user ``name`` and context ``name@envtest``.
        """
        client_ca = ((self.pki / "client-ca.key").read_bytes(), (self.pki / "client-ca.crt").read_bytes())
        key, cert = certs.issue(client_ca, name, orgs=list(groups), client=True)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        users = self.workdir / "users"
        users.mkdir(exist_ok=True)
        crt_path, key_path = users / f"{safe}.crt", users / f"{safe}.key"
        crt_path.write_bytes(cert)
        key_path.write_bytes(key)
        key_path.chmod(0o600)
        path = users / f"{safe}.kubeconfig"
        self._write_kubeconfig(path, name, crt_path, key_path)
        return path

    # ------------------------------------------------------------------ logs
    def tail_logs(self, n: int = 60) -> str:
        parts = []
        for name, path in self.log_paths.items():
            try:
                lines = path.read_text(errors="replace").splitlines()[-n:]
            except FileNotFoundError:
                lines = ["(no log)"]
            parts.append(f"----- {name} ({path}), last {len(lines)} lines -----")
            parts.extend(lines)
        return "\n".join(parts)

    # ------------------------------------------------------------------ internals
    def _write_pki(self) -> None:
        p = self.pki
        p.mkdir(parents=True, exist_ok=True)

        def save(stem: str, pair: tuple[bytes, bytes]) -> None:
            (p / f"{stem}.key").write_bytes(pair[0])
            (p / f"{stem}.key").chmod(0o600)
            (p / f"{stem}.crt").write_bytes(pair[1])

        serving_ca = certs.new_ca("envtest-serving-ca")
        client_ca = certs.new_ca("envtest-client-ca")
        save("serving-ca", serving_ca)
        save("client-ca", client_ca)
        save("serving", certs.issue(serving_ca, "kube-apiserver", server_names=["127.0.0.1", "localhost"], client=False))
        save("admin", certs.issue(client_ca, "admin", orgs=["system:masters"]))
        sa_priv, sa_pub = certs.new_key_pair()
        (p / "sa.key").write_bytes(sa_priv)
        (p / "sa.key").chmod(0o600)
        (p / "sa.pub").write_bytes(sa_pub)

    def _write_kubeconfig(self, path: Path, user: str, crt: Path, key: Path) -> None:
        context = f"{user}@{CLUSTER_NAME}"
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CLUSTER_NAME, "cluster": {
                "server": self.url,
                "certificate-authority-data": _b64((self.pki / "serving-ca.crt").read_bytes()),
            }}],
            "users": [{"name": user, "user": {
                "client-certificate-data": _b64(crt.read_bytes()),
                "client-key-data": _b64(key.read_bytes()),
            }}],
            "contexts": [{"name": context, "context": {"cluster": CLUSTER_NAME, "user": user}}],
            "current-context": context,
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_paths[name], "ab")
        try:
            proc = subprocess.Popen(
                argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )
        finally:
            log.close()
        self._popen[name] = proc
        self._pid_path(name).write_text(f"{proc.pid}\n")

    def _wait(self, name: str, probe, deadline: float) -> None:
        last = ""
        while True:
            proc = self._popen.get(name)
            if proc is not None and proc.poll() is not None:
                raise ControlPlaneError(
                    f"{name} exited with code {proc.returncode} during startup\n{self.tail_logs()}"
                )
            try:
                if probe():
                    return
            except Exception as e:  # noqa: BLE001 - any failure just means "not yet"
                last = f"{type(e).__name__}: {e}"
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{name} not ready in time (last probe: {last or 'not ok'})\n{self.tail_logs()}")
            time.sleep(0.1)

    def _etcd_healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as r:
            return json.loads(r.read()).get("health") == "true"

    def admin_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "serving-ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def _apiserver_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2, context=self.admin_ssl_context()) as r:
                return r.status == 200 and r.read().strip() == b"ok"
        except urllib.error.HTTPError:
            return False

