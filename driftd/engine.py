"""The drift engine: match Git objects with live objects by identity and give each a verdict.

Input is plain data (manifests read from Git, problems met reading them, live objects as JSON);
output is one ``ObjectResult`` per object and the overall ``Verdict``. ``driftd diff`` (two files)
and a cycle (Git repository + API server) both go through ``diff_sets``. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .classify import ClassifyOptions, HistoryEvidence, classify
from .compare import compare_object
from .model import ObjectKey, ObjectResult, Status, Verdict, object_key
from .normalize import Normalizer, fold_string_data
from .profiles import Rule
from .schema import CrdSchemas
from .serverside import ServerView, compare_after_sync, keep_live_only
from .yamlload import Manifest, Problem


@dataclass(frozen=True)
class EngineOptions:
    rules: tuple[Rule, ...]
    disabled_rules: frozenset[str] = frozenset()
    classify: ClassifyOptions = ClassifyOptions()
    report_unmanaged: bool = True


@dataclass
class DiffResult:
    objects: list[ObjectResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)   # unusable Git documents/files
    notices: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        statuses = {o.status for o in self.objects}
        if Status.INVALID in statuses or self.problems:
            return Verdict.INVALID
        if statuses & {Status.DRIFTED, Status.MISSING, Status.UNMANAGED}:
            return Verdict.DRIFT
        return Verdict.IN_SYNC

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.objects:
            out[o.status.value] = out.get(o.status.value, 0) + 1
        return out


def _source(m: Manifest) -> dict:
    return {"file": m.file, "line": m.line}


def match_live(key: ObjectKey, live_by_key: dict[ObjectKey, dict]) -> ObjectKey | None:
    if key in live_by_key:
        return key
    if key.namespace is None:
        # Git named no namespace and none was configured: one live object of that kind and name
        # (cluster-scoped, or the only one) is the same object.
        same = [k for k in live_by_key if (k.group, k.kind, k.name) == (key.group, key.kind, key.name)]
        if len(same) == 1:
            return same[0]
    return None


def diff_sets(desired: list[Manifest], problems: list[Problem], live: list[dict], options: EngineOptions,
              history: HistoryEvidence | None = None, server: ServerView | None = None,
              schemas: CrdSchemas | None = None, unread: set[ObjectKey] | frozenset = frozenset()) -> DiffResult:
    """``server``: the dry runs of ``compare: server`` (docs/config.md). An object with an after-sync
    object is compared with it (``driftd.serverside``); one whose dry run failed (``skipped``) gets no
    verdict; the others are compared client-side. ``schemas``: the CRDs' structural schemas (list
    keys, free-form values; ``driftd.schema``), where they could be read. ``unread``: live objects that
    could not be read at the version Git declares them in: no verdict, like a failed dry run."""
    result = DiffResult()
    # compare needs the GitOps managers too: a field they server-side applied is Git's, not the system's
    compare_options = replace(options.classify.compare, gitops_managers=options.classify.gitops_managers)
    live_by_key = {object_key(o): o for o in live}
    matched: set[ObjectKey] = set()
    invalid_keys: dict[ObjectKey, ObjectResult] = {}

    for problem in problems:
        if problem.key is None:
            result.problems.append(problem)
            continue
        detail = {"file": problem.file, "lines": list(problem.lines), "message": problem.message}
        if problem.dup_key:
            detail["key"] = problem.dup_key
        live_key = match_live(problem.key, live_by_key)
        if live_key:
            matched.add(live_key)
        invalid_keys[problem.key] = ObjectResult(problem.key, Status.INVALID, invalid_detail=detail,
                                                 source={"file": problem.file, "line": problem.lines[0]})

    seen: dict[ObjectKey, Manifest] = {}
    for manifest in desired:
        key = manifest.key
        if key in invalid_keys:
            continue
        if key in seen:
            first = seen[key]
            live_key = match_live(key, live_by_key)
            if live_key:
                matched.add(live_key)   # Git declares it (twice): never "unmanaged"
            invalid_keys[key] = ObjectResult(
                key, Status.INVALID, api_version=manifest.obj.get("apiVersion"), source=_source(first),
                invalid_detail={"file": first.file, "lines": [first.line],
                                "message": f"{key} is declared twice: {first.file}:{first.line} and "
                                           f"{manifest.file}:{manifest.line}"})
            continue
        seen[key] = manifest

    declared: set[ObjectKey] = set(invalid_keys)
    for key, manifest in seen.items():
        if key in invalid_keys:
            continue
        declared.add(key)
        live_key = match_live(key, live_by_key)
        api_version = manifest.obj.get("apiVersion")
        if live_key is None:
            res = ObjectResult(key, Status.MISSING, api_version, source=_source(manifest))
            added = history.added_object(key) if history is not None else None
            if added is not None:
                # Not yet synced, or deleted from the cluster: the audit trail may tell (classify_missing).
                res.evidence = {"class": "unknown", "blame": added,
                                "reason": f"declared in Git since {added['sha'][:10]} ({added['subject']}); not live: "
                                          "never synced, or deleted from the cluster"}
            result.objects.append(res)
            continue
        matched.add(live_key)
        declared.add(live_key)
        if live_key in unread or (server is not None and live_key in server.skipped):
            continue   # not readable as Git declares it: an error of the run, neither drift nor in sync
        live_obj = live_by_key[live_key]
        desired_obj = fold_string_data(manifest.obj)   # a Secret's stringData is stored as data
        schema = schemas.hints(live_key.group, live_key.kind, live_obj.get("apiVersion")) if schemas else None
        norm = Normalizer.for_object(list(options.rules), live_key, desired_obj, live_obj, options.disabled_rules,
                                     schema)
        after_sync = server.after_sync.get(live_key) if server is not None else None
        if after_sync is not None:
            comparison, live_only = compare_after_sync(desired_obj, after_sync, live_obj, norm, compare_options,
                                                       server.conflicts.get(live_key, ()))
        else:
            comparison, live_only = compare_object(desired_obj, live_obj, norm, compare_options), []
        for drift in comparison.drifts:
            classify(drift, live_key, live_obj, norm, options.classify, history)
        dropped = {id(d) for d in live_only if not keep_live_only(d)}
        comparison.drifts = [d for d in comparison.drifts if id(d) not in dropped]
        status = Status.DRIFTED if comparison.drifts else Status.IN_SYNC
        result.objects.append(ObjectResult(live_key, status, api_version, comparison.drifts,
                                           source=_source(manifest), notes=comparison.notes))
    result.objects.extend(invalid_keys.values())

    if options.report_unmanaged:
        owners = _owner_index(live)
        for key, obj in live_by_key.items():
            if key in matched:
                continue
            root = _declared_root(obj, owners, declared)
            if root is not None:
                result.objects.append(ObjectResult(key, Status.GENERATED, obj.get("apiVersion"),
                                                   owner=root.to_json()))
            else:
                res = ObjectResult(key, Status.UNMANAGED, obj.get("apiVersion"))
                removed = history.removed_object(key) if history is not None else None
                if removed is not None:
                    # Deleting from Git does not delete from the cluster (no prune): say which commit did.
                    last, deleted, moved_to = removed
                    how = f"moved out of the configured paths (to {moved_to})" if moved_to else "removed from Git"
                    res.evidence = {"class": "removed-in-git", "commit": last, "changed_by": deleted,
                                    "reason": f"{how} by {deleted['sha'][:10]} ({deleted['subject']}); still live"}
                if result.problems:
                    res.notes.append("Git could not be read whole (see the problems); this object may be declared "
                                     "in what could not be read, so no drift episode is opened for it")
                result.objects.append(res)
    result.objects.sort(key=lambda o: (o.key.group, o.key.kind, o.key.namespace or "", o.key.name))
    return result


def _owner_index(live: list[dict]) -> dict[str, dict]:
    return {str((o.get("metadata") or {}).get("uid")): o for o in live if (o.get("metadata") or {}).get("uid")}


def _declared_root(obj: dict, by_uid: dict[str, dict], declared: set[ObjectKey]) -> ObjectKey | None:
    """The Git-declared object that ``obj`` was generated from, following ownerReferences."""
    seen: set[str] = set()
    frontier = [obj]
    while frontier:
        cur = frontier.pop()
        for ref in (cur.get("metadata") or {}).get("ownerReferences") or []:
            uid = str(ref.get("uid"))
            if uid in seen:
                continue
            seen.add(uid)
            parent = by_uid.get(uid)
            if parent is None:
                continue
            key = object_key(parent)
            if key in declared:
                return key
            frontier.append(parent)
    return None
