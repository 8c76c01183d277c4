"""driftd: drift detection and audit for GitOps-managed Tanzu / Cluster API clusters."""

__version__ = "0.1.0"
