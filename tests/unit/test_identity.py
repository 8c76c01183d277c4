"""Objects are matched by identity (group, kind, namespace, name): a Git document that breaks
identity is invalid and never turns the live object into "unmanaged" (which would alert, or revert)."""

from __future__ import annotations

from driftd.model import Status, Verdict
from tests.unit.drift_helpers import diff

CM = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: shop}}
data: {{a: "{value}"}}
"""


def statuses(result) -> list[tuple[str, str]]:
    return sorted((o.key.name, o.status.value) for o in result.objects)


def test_an_object_declared_twice_is_invalid_naming_both_places_and_not_unmanaged():
    git = CM.format(name="web", value="1") + "---" + CM.format(name="web", value="2")
    result = diff(git, CM.format(name="web", value="1"))
    assert statuses(result) == [("web", "invalid")]
    [obj] = result.objects
    assert obj.invalid_detail == {"file": "git.yaml", "lines": [2],
                                  "message": "ConfigMap shop/web is declared twice: git.yaml:2 and git.yaml:7"}
    assert result.verdict is Verdict.INVALID


def test_a_named_document_without_kind_is_invalid_not_skipped():
    git = CM.format(name="web", value="1").replace("kind: ConfigMap\n", "")
    result = diff(git, CM.format(name="web", value="1"))
    [problem] = result.problems
    assert (problem.file, problem.lines, problem.key) == ("git.yaml", (2,), None)
    assert problem.message == "kind missing: not a usable Kubernetes object (metadata.name 'web'); kubectl rejects it too"
    assert result.verdict is Verdict.INVALID
    [obj] = result.objects      # the live object is shown, with the reason its verdict is not known
    assert obj.status is Status.UNMANAGED and "could not be read whole" in obj.notes[0]


def test_a_document_that_is_no_kubernetes_object_is_skipped_naming_what_it_lacks():
    kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n"
    result = diff(kustomization + "---\n" + CM.format(name="web", value="1"), CM.format(name="web", value="1"))
    assert statuses(result) == [("web", "in-sync")] and result.problems == []
    assert result.notices == ["git.yaml:1: document skipped: not a Kubernetes object (metadata.name missing)"]


def test_an_item_of_a_list_that_is_no_object_is_named_by_its_place_in_the_list():
    git = ("apiVersion: v1\nkind: List\nitems:\n"
           "- {apiVersion: v1, kind: ConfigMap, metadata: {name: web, namespace: shop}, data: {a: '1'}}\n"
           "- {apiVersion: v1}\n")
    result = diff(git, CM.format(name="web", value="1"))
    assert statuses(result) == [("web", "in-sync")]
    assert result.notices == ["git.yaml:1: document skipped (item 2 of the List): not a Kubernetes object "
                              "(kind, metadata.name missing)"]
