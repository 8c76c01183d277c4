"""Read Kubernetes manifests the way kubectl reads them.

kubectl (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1) and PyYAML's defaults disagree on several
scalars. The loader here is configured to give kubectl's reading, not post-processed:

* booleans: ``true/false/yes/no/on/off/y/n`` in their three spellings (PyYAML lacks ``y``/``n``);
* integers: decimal, ``0x``, ``0o``, ``0b`` and leading-zero octal (``0755`` is 493), ``_`` allowed;
  no base 60 (``1:30`` stays the string "1:30"; PyYAML would make it 90);
* floats as go-yaml: ``1e3`` is a number (PyYAML: a string), ``.inf``/``.nan``;
* timestamps stay strings (no ``datetime`` objects), ``=`` is a plain string;
* non-string map keys become strings as sigs.k8s.io/yaml writes them (``on:`` is "true");
* a duplicate key in one mapping makes the document invalid, naming both lines (case 19);
* empty, comment-only and ``~`` documents are skipped (case 16); a BOM and CRLF line ends are fine;
* ``kind: List`` documents are unpacked into their items.

``load_manifests`` never raises for bad input: it returns the objects it could read and a problem
(file, line(s), message) for each document or file it could not. Pure: text in, data out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import BaseResolver

try:  # the C parser (with composer) is much faster on large repositories; resolution stays in Python
    from yaml.cyaml import CParser

    def _init_parser(loader, stream):
        CParser.__init__(loader, stream)
    _ParserBase: tuple = (CParser,)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    def _init_parser(loader, stream):
        Reader.__init__(loader, stream)
        Scanner.__init__(loader)
        Parser.__init__(loader)
        Composer.__init__(loader)
    _ParserBase = (Reader, Scanner, Parser, Composer)

from .model import ObjectKey, object_key


class KubeResolver(BaseResolver):
    """Implicit tags of go-yaml v2 (what kubectl uses), instead of PyYAML's YAML 1.1 table."""


KubeResolver.yaml_implicit_resolvers = {}
KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
               r"|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"))
KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)$"),
    list("-+0123456789"))
KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
KubeResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
KubeResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: str, first_line: int, line: int):
        super().__init__(f"duplicate key {key!r} at line {line}, first defined at line {first_line}")
        self.key, self.first_line, self.line = key, first_line, line


def _key_string(key: object) -> str:
    """Map keys as sigs.k8s.io/yaml writes them into JSON."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


class KubeConstructor(SafeConstructor):
    strict_keys = True
    bool_values = {**SafeConstructor.bool_values, "y": True, "n": False}

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        if text.startswith(("0b", "0o", "0x")):
            return sign * int(text, 0)
        if len(text) > 1 and text.startswith("0"):
            return sign * int(text, 8)
        return sign * int(text)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node).replace("_", "").lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # raises the usual "expected a mapping"
        self.flatten_mapping(node)  # merge keys (<<) come first, so explicit keys override them
        mapping: dict[str, object] = {}
        seen: dict[str, int] = {}
        merged = getattr(node, "merged_keys", 0)
        for i, (key_node, value_node) in enumerate(node.value):
            raw = self.construct_object(key_node, deep=True)
            if isinstance(raw, (dict, list)):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found a non-scalar key", key_node.start_mark)
            # Keys become JSON strings *before* they meet in one dict: Python's True == 1 would
            # otherwise merge `on:` and `1:` into one key, silently dropping a value.
            key = _key_string(raw)
            if i >= merged:
                line = key_node.start_mark.line + 1
                if key in seen and self.strict_keys:
                    raise DuplicateKeyError(key, seen[key], line)
                seen[key] = line
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def flatten_mapping(self, node):
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        super().flatten_mapping(node)
        # flatten_mapping puts the merged (<<) pairs first; they may repeat keys freely. A node
        # flattened before (constructed again to name an invalid object) keeps its count.
        if not hasattr(node, "merged_keys"):
            node.merged_keys = len(node.value) - own

    def construct_yaml_map(self, node):
        data: dict = {}
        yield data
        data.update(self.construct_mapping(node))


KubeConstructor.add_constructor("tag:yaml.org,2002:int", KubeConstructor.construct_yaml_int)
KubeConstructor.add_constructor("tag:yaml.org,2002:float", KubeConstructor.construct_yaml_float)
KubeConstructor.add_constructor("tag:yaml.org,2002:map", KubeConstructor.construct_yaml_map)
KubeConstructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)


class KubeLoader(*_ParserBase, KubeConstructor, KubeResolver):
    def __init__(self, stream):
        _init_parser(self, stream)
        KubeConstructor.__init__(self)
        KubeResolver.__init__(self)


class _LenientLoader(KubeLoader):
    """Last key wins: used only to name the object whose document is invalid."""
    strict_keys = False


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object as written in a file."""
    obj: dict
    file: str
    line: int  # 1-based line where the document starts
    key: ObjectKey


@dataclass(frozen=True)
class Problem:
    """A document (or a whole file) that cannot be used."""
    file: str
    lines: tuple[int, ...]
    message: str
    key: ObjectKey | None = None  # the object it would have been, when that can be told
    dup_key: str | None = None

    def describe(self) -> str:
        where = f"{self.file}:{self.lines[0]}" if self.lines else self.file
        return f"{where}: {self.message}"


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    lists: int = 0   # ``kind: List`` documents unpacked (kubectl's answer for "nothing" is an empty one)

    def add(self, other: "LoadResult") -> None:
        self.manifests += other.manifests
        self.problems += other.problems
        self.notices += other.notices
        self.lists += other.lists


def _prepare(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig", errors="strict")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


def _is_object(doc: object) -> bool:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
            and isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"] != "")


def _missing_identity(doc: object) -> list[str]:
    """Which of apiVersion, kind and metadata.name a document lacks (all of them for a non-map)."""
    if not isinstance(doc, dict):
        return ["apiVersion", "kind", "metadata.name"]
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return [k for k, ok in (("apiVersion", isinstance(doc.get("apiVersion"), str)),
                            ("kind", isinstance(doc.get("kind"), str)),
                            ("metadata.name", isinstance(name, str) and name != "")) if not ok]


def _add_document(doc: object, file: str, line: int, result: LoadResult, default_namespace: str | None,
                  within: str = "") -> None:
    """``within``: where in the document an item of a ``kind: List`` stands (``item 3 of the List``)."""
    if doc is None:
        return  # empty, comment-only or `~` document: nothing to apply (kubectl skips it too)
    if isinstance(doc, dict) and isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        result.lists += 1
        for n, item in enumerate(doc["items"], 1):
            _add_document(item, file, line, result, default_namespace,
                          f" (item {n} of the {doc.get('kind')})")
        return
    if not _is_object(doc):
        missing = _missing_identity(doc)
        if len(missing) == 1 and missing != ["metadata.name"]:
            # A named object without its kind or apiVersion is a broken manifest (kubectl rejects
            # it), not a foreign document: skipping it would turn its live object "unmanaged".
            name = doc["metadata"]["name"]
            result.problems.append(Problem(file, (line,), f"{missing[0]} missing{within}: not a usable Kubernetes "
                                                          f"object (metadata.name {name!r}); kubectl rejects it too"))
            return
        result.notices.append(f"{file}:{line}: document skipped{within}: not a Kubernetes object "
                              f"({', '.join(missing) or 'apiVersion, kind, metadata.name'} missing)")
        return
    result.manifests.append(Manifest(doc, file, line, object_key(doc, default_namespace)))


def load_manifests(text: str | bytes, file: str, default_namespace: str | None = None) -> LoadResult:
    """All objects of a (multi-document) YAML file, with a Problem for each unusable document."""
    result = LoadResult()
    try:
        text = _prepare(text)
    except UnicodeDecodeError as exc:
        result.problems.append(Problem(file, (1,), f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return result
    _load_stream(text, file, default_namespace, result, line_offset=0)
    return result


_DOC_START = re.compile(r"^---(?:[ \t].*)?$", re.M)


def _load_stream(text: str, file: str, default_namespace: str | None, result: LoadResult, line_offset: int) -> None:
    loader = KubeLoader(text)
    doc_start = 1
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1 + line_offset
            doc_start = line
            try:
                doc = loader.construct_document(node)
            except yaml.YAMLError as exc:
                loader.constructed_objects, loader.recursive_objects = {}, {}
                loader.state_generators = []
                identity = _identity_of(node, default_namespace)
                if isinstance(exc, DuplicateKeyError):
                    result.problems.append(Problem(file, (exc.first_line + line_offset, exc.line + line_offset),
                                                   str(exc).replace(f"line {exc.line}", f"line {exc.line + line_offset}")
                                                   .replace(f"line {exc.first_line}", f"line {exc.first_line + line_offset}"),
                                                   identity, exc.key))
                else:
                    result.problems.append(Problem(file, (_line_of(exc, line - line_offset) + line_offset,),
                                                   _message(exc), identity))
                continue
            _add_document(doc, file, line, result, default_namespace)
    except yaml.YAMLError as exc:
        # A syntax error ends the YAML stream: name the broken document, then go on after the
        # next `---` so that the other documents of the file are still compared.
        bad_line = _line_of(exc, doc_start - line_offset)
        lines = text.split("\n")
        err = min(bad_line - 1, len(lines))  # 0-based index of the line the parser stopped at
        start = max((i for i in range(err) if _DOC_START.match(lines[i])), default=-1) + 1
        nxt = next((i for i in range(max(err, 1), len(lines)) if _DOC_START.match(lines[i])), None)
        chunk = "\n".join(lines[start:nxt])
        result.problems.append(Problem(file, (bad_line + line_offset,), _message(exc),
                                       _identity_from_text(chunk, default_namespace)))
        if nxt is not None:
            _load_stream("\n".join(lines[nxt:]), file, default_namespace, result, line_offset + nxt)
    finally:
        loader.dispose()


def _identity_from_text(chunk: str, default_namespace: str | None) -> ObjectKey | None:
    """Best-effort identity of a document that does not parse: its top-level apiVersion and kind and
    metadata's name/namespace, read line by line. None when they cannot be told."""
    top = dict(re.findall(r"^(apiVersion|kind):[ \t]*[\"']?([^\s\"'#]+)", chunk, re.M))
    meta = re.search(r"^metadata:[ \t]*\n((?:[ \t]+.*\n?|[ \t]*\n)*)", chunk, re.M)
    if not meta or "apiVersion" not in top or "kind" not in top:
        return None
    fields_ = dict(re.findall(r"^[ \t]{1,8}(name|namespace):[ \t]*[\"']?([^\s\"'#]+)", meta.group(1), re.M))
    if "name" not in fields_:
        return None
    return object_key({"apiVersion": top["apiVersion"], "kind": top["kind"], "metadata": fields_},
                      default_namespace)


def _identity_of(node, default_namespace: str | None) -> ObjectKey | None:
    loader = _LenientLoader("")
    try:
        doc = loader.construct_document(node)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return object_key(doc, default_namespace) if _is_object(doc) else None


def _line_of(exc: yaml.YAMLError, default: int) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else default


def _message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return f"invalid YAML: {exc}"


def load_yaml(text: str) -> object:
    """One YAML document read with kubectl's semantics (strict keys). For config files and tests."""
    return yaml.load(_prepare(text), Loader=KubeLoader)  # noqa: S506 - KubeLoader is a safe loader
