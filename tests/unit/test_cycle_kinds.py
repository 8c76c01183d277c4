"""Which kinds a cycle lists: watched kinds, the kinds Git declares, and the kinds of Git documents
that cannot be used (case 19: a file whose only object has a duplicate key must still be reported
invalid, never left out with its kind and called in sync)."""

from __future__ import annotations

import textwrap

from driftd.cycle import kinds_to_list
from driftd.yamlload import load_manifests

DUPLICATE_KEY = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api, namespace: web}
    spec:
      replicas: 2
      replicas: 3
    """)


def test_the_kind_of_an_invalid_document_is_listed_at_the_preferred_version():
    loaded = load_manifests(DUPLICATE_KEY, "api.yaml", "web")
    assert loaded.manifests == [] and len(loaded.problems) == 1
    assert kinds_to_list(loaded.manifests, loaded.problems, {}) == {("apps", "Deployment"): None}


def test_git_version_wins_over_the_watched_one_and_watched_kinds_stay():
    loaded = load_manifests("apiVersion: run.tanzu.vmware.com/v1alpha1\nkind: TanzuKubernetesCluster\n"
                            "metadata: {name: c1, namespace: prod}\n", "tkc.yaml")
    kinds = kinds_to_list(loaded.manifests, loaded.problems,
                          {("run.tanzu.vmware.com", "TanzuKubernetesCluster"): "v1alpha3",
                           ("cluster.x-k8s.io", "MachineDeployment"): None})
    assert kinds == {("run.tanzu.vmware.com", "TanzuKubernetesCluster"): "v1alpha1",
                     ("cluster.x-k8s.io", "MachineDeployment"): None}


def test_a_document_with_no_identity_adds_no_kind():
    loaded = load_manifests("a: [1\n", "broken.yaml")
    assert [p.key for p in loaded.problems] == [None]
    assert kinds_to_list(loaded.manifests, loaded.problems, {}) == {}
