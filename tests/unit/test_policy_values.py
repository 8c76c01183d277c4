"""Values whose zero or empty form means something else than absent (pointer fields), and fields
a server-filled subtree does not cover: a person's change of them is drift, never an omitted default."""

from __future__ import annotations

from driftd.model import Status
from tests.unit.drift_helpers import diff, one, summary

EDIT = ("managedFields: [{{manager: kubectl-edit, operation: Update, time: '2026-12-01T22:15:40Z', "
        "fieldsType: FieldsV1, fieldsV1: {fields}}}]")


def netpol(peer: str, managed: str = "") -> str:
    return f"""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: db
          namespace: payments
          {managed}
        spec:
          podSelector: {{matchLabels: {{app: ledger-db}}}}
          ingress:
          - from: [{peer}]
        """


def test_a_person_widening_a_network_policy_peer_to_every_namespace_is_drift():
    git = netpol("{podSelector: {matchLabels: {app: ledger-api}}}")
    live = netpol("{podSelector: {matchLabels: {app: ledger-api}}, namespaceSelector: {}}",
                  EDIT.format(fields="{'f:spec': {'f:ingress': {}}}"))
    assert summary(one(diff(git, live))) == [
        ("spec.ingress[0].from[0].namespaceSelector", "added", None, {}, "out-of-band")]
    # and Git's {} (every namespace) removed live narrows it: drift too
    assert summary(one(diff(live.replace(EDIT.format(fields="{'f:spec': {'f:ingress': {}}}"), ""), git))) == [
        ("spec.ingress[0].from[0].namespaceSelector", "removed", {}, None, "unknown")]


def test_a_service_account_token_automount_false_removed_is_drift():
    git = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ci, namespace: shop}\nautomountServiceAccountToken: false\n"
    live = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ci, namespace: shop}\n"
    assert summary(one(diff(git, live))) == [("automountServiceAccountToken", "removed", False, None, "unknown")]


def test_a_pdb_selector_that_selected_every_pod_removed_is_drift_and_a_zero_budget_too():
    pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: all, namespace: shop}}\nspec: {spec}\n"
    assert summary(one(diff(pdb.format(spec="{selector: {}, maxUnavailable: 0}"), pdb.format(spec="{}")))) == [
        ("spec.maxUnavailable", "removed", 0, None, "unknown"), ("spec.selector", "removed", {}, None, "unknown")]
    assert one(diff(pdb.format(spec="{selector: {}, maxUnavailable: 0}"),
                    pdb.format(spec="{selector: {}, maxUnavailable: 0}"))).status is Status.IN_SYNC


def tkc(trust: str, managed: str = "") -> str:
    return f"""
        apiVersion: run.tanzu.vmware.com/v1alpha3
        kind: TanzuKubernetesCluster
        metadata:
          name: tkc-prod
          namespace: team-a
          {managed}
        spec:
          topology:
            controlPlane: {{replicas: 1, vmClass: best-effort-small, storageClass: gold}}
            nodePools: [{{name: np-1, replicas: 2, vmClass: best-effort-small, storageClass: gold}}]
          settings:
            network:
              cni: {{name: antrea}}
              trust: {{additionalTrustedCAs: [{trust}]}}
        """


def test_a_trusted_ca_a_person_added_to_a_tkc_is_drift_though_the_service_fills_other_network_settings():
    corp = "{name: corp-root, data: Q09SUA==}"
    mitm = "{name: debug-mitm-proxy, data: TUlUTQ==}"
    owned = EDIT.format(fields="{'f:spec': {'f:settings': {'f:network': {'f:trust': {'f:additionalTrustedCAs': {}}}}}}")
    assert summary(one(diff(tkc(corp), tkc(f"{corp}, {mitm}", owned)))) == [
        ("spec.settings.network.trust.additionalTrustedCAs[name=debug-mitm-proxy]", "added", None,
         {"name": "debug-mitm-proxy", "data": "TUlUTQ=="}, "out-of-band")]
