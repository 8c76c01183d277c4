"""A local etcd + kube-apiserver (and test webhooks) for integration tests and the demo."""

from .controlplane import ControlPlane, ControlPlaneError, find_binaries

__all__ = ["ControlPlane", "ControlPlaneError", "find_binaries"]
