"""Value objects shared by the pure core and the edges: identities, verdicts, field drifts.

Identity of an object is (group, kind, namespace, name): not the file it lives in and not its
apiVersion, so the same object is followed across files, folders and API versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

from .paths import Path, render


@dataclass(frozen=True, order=True)
class ObjectKey:
    group: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"

    def to_json(self) -> dict:
        return {"group": self.group, "kind": self.kind, "namespace": self.namespace, "name": self.name}


def group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def object_key(obj: dict, default_namespace: str | None = None) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return ObjectKey(group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind", "")),
                     meta.get("namespace") or default_namespace or None, str(meta.get("name", "")))


class Status(str, Enum):
    """Verdict for one object."""
    IN_SYNC = "in-sync"
    DRIFTED = "drifted"
    MISSING = "missing"        # in Git, not live
    UNMANAGED = "unmanaged"    # live in a watched kind/namespace, not in Git, not generated
    INVALID = "invalid"        # the Git document cannot be used
    GENERATED = "generated"    # live, not in Git, owned (ownerReferences) by a Git-declared object


class Change(str, Enum):
    MODIFIED = "modified"
    ADDED = "added"            # only in live
    REMOVED = "removed"        # only in Git


class DriftClass(str, Enum):
    OUT_OF_BAND = "out-of-band"
    GIT_AHEAD = "git-ahead"
    REMOVED_IN_GIT = "removed-in-git"
    UNKNOWN = "unknown"


class Verdict(str, Enum):
    """Top-level verdict of a check or diff (the JSON contract's ``verdict``)."""
    IN_SYNC = "in-sync"
    DRIFT = "drift"
    INVALID = "invalid"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        return {"in-sync": 0, "drift": 1}.get(self.value, 2)


@dataclass(frozen=True)
class Ownership:
    """Who last wrote a live field, from metadata.managedFields."""
    manager: str
    operation: str
    time: str | None = None
    subresource: str | None = None


@dataclass
class Evidence:
    """Why a drift got its class. Every field is optional; absent ones are left out of the JSON."""
    manager: str | None = None
    operation: str | None = None
    time: str | None = None
    subresource: str | None = None
    last_applied: object = None          # the value in kubectl's last-applied-configuration
    in_last_applied: bool | None = None  # whether that annotation holds the field at all
    commit: dict | None = None           # the Git commit whose value the live side still has
    changed_by: dict | None = None       # the Git commit that changed the value since
    blame: dict | None = None            # the Git commit that last set the desired value
    conflicts: list | None = None        # compare: server: [{manager, path, ...}] of the dry run's 409
    reason: str | None = None            # one sentence a human can act on

    def to_json(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


@dataclass
class FieldDrift:
    path: Path
    change: Change
    desired: object
    live: object
    drift_class: DriftClass = DriftClass.UNKNOWN
    evidence: Evidence = field(default_factory=Evidence)
    note: str | None = None

    @property
    def path_text(self) -> str:
        return render(self.path)

    def to_json(self) -> dict:
        out = {"path": self.path_text, "change": self.change.value, "desired": self.desired,
               "live": self.live, "class": self.drift_class.value, "evidence": self.evidence.to_json()}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class ObjectResult:
    key: ObjectKey
    status: Status
    api_version: str | None = None
    drifts: list[FieldDrift] = field(default_factory=list)
    source: dict | None = None           # {"file", "line", "commit"} of the Git document
    invalid_detail: dict | None = None   # {"file", "lines", "message", "key"?}
    owner: dict | None = None            # for generated objects: the Git-declared root
    evidence: dict | None = None         # object-level evidence (e.g. the commit that removed it from Git)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {**self.key.to_json(), "apiVersion": self.api_version, "status": self.status.value,
               "drifts": [d.to_json() for d in self.drifts]}
        for name in ("source", "invalid_detail", "owner", "evidence"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass(frozen=True)
class CycleError:
    """A failure at an edge during a cycle. Never a drift verdict: the kinds it touches stay unknown."""
    edge: str                 # "git" | "kube" | "store" | "config" | "alert" | "revert"
    target: str               # what failed: a repository, "TanzuKubernetesCluster.run.tanzu.vmware.com in prod" ...
    message: str              # one clear sentence for the admin
    kind: tuple[str, str] | None = None   # (group, kind) whose live state is unknown after this error

    def to_json(self) -> dict:
        out = {"edge": self.edge, "target": self.target, "message": self.message}
        if self.kind:
            out["group"], out["kind"] = self.kind
        return out


@dataclass
class RunRecord:
    """Everything one cycle of one source learned; written to the audit trail in one transaction."""
    cluster: str
    source: str
    started_at: str                       # ISO 8601 UTC, "2026-12-03T19:29:34Z"
    finished_at: str
    commit: str | None                    # the Git commit compared (None: Git unavailable)
    stale: bool = False                   # the remote was unreachable; an earlier fetched commit was used
    history_rewritten: bool = False       # the branch was force-pushed since the last cycle
    verdict: Verdict = Verdict.ERROR
    objects: list[ObjectResult] = field(default_factory=list)
    live: dict[ObjectKey, dict] = field(default_factory=dict)   # every watched live object, raw JSON
    watched: list[tuple[str, str]] = field(default_factory=list)  # (group, kind) listed successfully
    namespaces: list[str] | None = None   # the namespaces listed (None: all)
    errors: list[CycleError] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)          # unusable Git documents {file, lines, message}
    notices: list[str] = field(default_factory=list)
    reverted: list[ObjectKey] = field(default_factory=list)     # objects driftd reverted in this run
    compare: dict[str, str] = field(default_factory=dict)       # kind label -> "client" | "server" used
    compare_fallback: set[tuple[str, str]] = field(default_factory=set)  # (group, kind) refused dry runs

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.objects:
            out[o.status.value] = out.get(o.status.value, 0) + 1
        return out
