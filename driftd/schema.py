"""What a CustomResourceDefinition's structural schema says about comparing its objects.

Two facts of the schema change a verdict, and driftd takes both from the CRD the API server serves
(or, for ``driftd diff``, from ``--crd`` files):

* ``x-kubernetes-list-type: map`` with ``x-kubernetes-list-map-keys``: the list's items are matched
  by those keys, the way server-side apply merges them, so a reorder is not drift and a change is
  reported on the one item (``spec.topology.nodePools[name=np-1]``). A profile's ``list-keys`` rule
  still wins where both speak; without either, items that all have a ``name`` are keyed by it.
* ``x-kubernetes-preserve-unknown-fields`` with no schema for the field: a free-form value. The API
  server stores it exactly as sent (no pruning, defaulting or coercion), so it is compared exactly:
  ``false``, ``0`` and ``""`` in Git are values, not omitted defaults; profile equivalences
  (int-or-string, quantities) do not apply; lists keep their order (case 08).

Pure: CRD objects (plain JSON) in, answers about paths out. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .paths import Key, Path

_FREE = object()   # a position under a preserve-unknown-fields node that the schema does not describe


@dataclass(frozen=True)
class SchemaHints:
    """The openAPIV3Schema of one kind at one version."""

    root: dict

    def _node(self, path: Path) -> object:
        """The schema node that describes ``path``: a dict, ``_FREE`` (free-form), or None (unknown)."""
        node: object = self.root
        for seg in path:
            if not isinstance(node, dict):
                return node if node is _FREE else None
            if isinstance(seg, Key):
                child = (node.get("properties") or {}).get(seg.name)
                if child is None and isinstance(node.get("additionalProperties"), dict):
                    child = node["additionalProperties"]
            else:   # a list item, by key or by position
                child = node["items"] if isinstance(node.get("items"), dict) else None
            if child is None:
                if node.get("x-kubernetes-preserve-unknown-fields") is not True:
                    return None    # a field the schema prunes
                child = _FREE
            node = child
        return node

    def free_form(self, path: Path) -> bool:
        """Whether the value at ``path`` is one the schema leaves free (compared exactly)."""
        node = self._node(path)
        if node is _FREE:
            return True
        return (isinstance(node, dict) and node.get("x-kubernetes-preserve-unknown-fields") is True
                and not node.get("properties") and not isinstance(node.get("additionalProperties"), dict)
                and node.get("type") in (None, "object", "array") and not node.get("items"))

    def list_keys(self, path: Path) -> tuple[str, ...] | None:
        """The ``x-kubernetes-list-map-keys`` of the list at ``path``, when it is a map list."""
        node = self._node(path)
        if isinstance(node, dict) and node.get("x-kubernetes-list-type") == "map":
            keys = node.get("x-kubernetes-list-map-keys")
            if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
                return tuple(keys)
        return None


@dataclass
class CrdSchemas:
    """Schemas by (group, kind, version), from CRD objects."""

    by_version: dict[tuple[str, str, str], SchemaHints]

    @classmethod
    def from_crds(cls, crds: list[dict]) -> "CrdSchemas":
        out: dict[tuple[str, str, str], SchemaHints] = {}
        for crd in crds:
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd.get("spec") or {}
            group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
            if not isinstance(group, str) or not isinstance(kind, str):
                continue
            shared = (spec.get("validation") or {}).get("openAPIV3Schema")   # apiextensions v1beta1
            for version in spec.get("versions") or []:
                schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or shared
                if isinstance(version.get("name"), str) and isinstance(schema, dict):
                    out[(group, kind, version["name"])] = SchemaHints(schema)
        return cls(out)

    def hints(self, group: str, kind: str, api_version: str | None) -> SchemaHints | None:
        version = str(api_version or "").split("/")[-1]
        return self.by_version.get((group, kind, version))

    def __len__(self) -> int:
        return len(self.by_version)
