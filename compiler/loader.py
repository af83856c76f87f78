"""Stage 1, load: read a YAML file into plain data while remembering where every value is.

Positions are kept per JSON path so that validation and later stages can point at
``cluster.yaml:LINE:COL``. Anything that is not a clean, single YAML mapping document
(missing file, directory, bad UTF-8, syntax error, duplicate key, tags) is one
``SpecError`` with a location.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compiler.errors import Location, Problem, SpecError
from compiler.sources import SourceTree

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Positions:
    """Where each value (and each mapping key) of a document starts."""

    file: str
    values: Mapping[PathKey, Location] = field(default_factory=dict)
    keys: Mapping[PathKey, Location] = field(default_factory=dict)

    def of(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of ``path``; falls back to the nearest enclosing value that is known."""
        if key and path in self.keys:
            return self.keys[path]
        probe = tuple(path)
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Location(self.file, 1, 1))


@dataclass(frozen=True)
class Document:
    """One loaded YAML mapping document: its data, positions and raw text."""

    data: dict[str, Any]
    positions: Positions
    text: str
    path: Path

    @property
    def name(self) -> str:
        return self.positions.file


def _loc(file: str, mark: yaml.Mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


# The YAML types a spec may use. Anything else (!!python/..., !!binary, !!set, !!omap,
# custom !tags) is refused: later stages must only ever see plain JSON-like data.
_CORE = "tag:yaml.org,2002:"
SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
# YAML 1.1 resolves a bare '<<' or '=' to these; outside a merge they are just strings.
PLAIN_STRING_TAGS = frozenset((_CORE + "merge", _CORE + "value"))
SEQUENCE_TAG = _CORE + "seq"
MAPPING_TAG = _CORE + "map"

_TAG_WORDS = {"int": "whole number", "float": "number", "bool": "boolean", "timestamp": "date"}

# Limits against hostile documents: aliases that expand exponentially ("billion laughs")
# and nesting that would exhaust the Python stack.
MAX_VALUES = 100_000
MAX_DEPTH = 64


class _TooBig(Exception):
    """Raised out of a build that exceeded a limit; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.values: dict[PathKey, Location] = {}
        self.keys: dict[PathKey, Location] = {}
        self.problems: list[Problem] = []
        self.count = 0  # values built again through aliases
        self.built: set[int] = set()  # ids of nodes built at least once
        self.active: set[int] = set()  # ids of the nodes being built (alias cycles)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        here = _loc(self.file, node.start_mark)
        self.values[path] = here
        # Only values reached again through aliases count: a large spec is fine, a
        # "billion laughs" document (aliases of aliases) is not.
        if id(node) in self.built:
            self.count += 1
            if self.count > MAX_VALUES:
                raise _TooBig(
                    Problem(
                        here,
                        f"YAML aliases expand to more than {MAX_VALUES} values "
                        "(aliases of aliases expanding without end?)",
                    )
                )
        else:
            self.built.add(id(node))
        if len(path) > MAX_DEPTH:
            raise _TooBig(Problem(here, f"the document is nested deeper than {MAX_DEPTH} levels"))
        if id(node) in self.active:
            self.problems.append(Problem(here, "a YAML alias refers to a value that contains it"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._guarded(node, path, self._mapping, MAPPING_TAG)
        if isinstance(node, yaml.SequenceNode):
            return self._guarded(node, path, self._sequence, SEQUENCE_TAG)
        return self._scalar(node, here)

    def _guarded(self, node: yaml.Node, path: PathKey, build: Any, tag: str) -> Any:
        if node.tag != tag:
            self.problems.append(
                Problem(self.values[path], f"YAML tag {node.tag!r} is not supported here")
            )
            return None
        self.active.add(id(node))
        try:
            return build(node, path)
        finally:
            self.active.discard(id(node))

    def _sequence(self, node: yaml.SequenceNode, path: PathKey) -> list[Any]:
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]

    def _scalar(self, node: yaml.Node, here: Location) -> Any:
        if node.tag in PLAIN_STRING_TAGS:
            return str(node.value)
        if node.tag not in SCALAR_TAGS:
            self.problems.append(Problem(here, f"YAML tag {node.tag!r} is not supported here"))
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, yaml.YAMLError):
            # e.g. 2001-13-45 looks like a date but is none, or !!int on a word.
            kind = _TAG_WORDS.get(node.tag.removeprefix(_CORE), node.tag)
            self.problems.append(
                Problem(here, f"{node.value!r} is not a valid {kind}; quote it to make it a string")
            )
            return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        try:
            self.loader.flatten_mapping(node)  # resolves '<<' merge keys as YAML 1.1 defines
        except yaml.MarkedYAMLError as exc:
            where = _loc(self.file, exc.problem_mark) if exc.problem_mark else self.values[path]
            self.problems.append(Problem(where, f"invalid merge key '<<': {exc.problem}"))
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_loc = _loc(self.file, key_node.start_mark)
            scalar = isinstance(key_node, yaml.ScalarNode)
            reported = len(self.problems)
            key = self._scalar(key_node, key_loc) if scalar else None
            if not isinstance(key, str):
                if len(self.problems) == reported:  # not already refused for its tag
                    shown = repr(key_node.value) if scalar else "a list or mapping"
                    self.problems.append(
                        Problem(key_loc, f"mapping key {shown} must be a string; quote it")
                    )
                key = str(key_node.value) if scalar else f"?{key_loc.line}:{key_loc.col}"
            if key in result:
                first = self.keys[(*path, key)]
                self.problems.append(
                    Problem(key_loc, f"duplicate key {key!r} (first defined at line {first.line})")
                )
                continue
            self.keys[(*path, key)] = key_loc
            result[key] = self.build(value_node, (*path, key))
        return result


def _is_blank(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") for line in text.splitlines())


def _syntax_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """One problem for any error PyYAML raises while reading or parsing."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = _loc(file, mark) if mark else Location(file, 1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        hint = "indent with spaces; YAML does not allow tabs there" if "'\\t'" in message else None
        return Problem(where, f"YAML syntax error: {message}", hint)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        return Problem(
            Location(file, line, col),
            f"the character U+{exc.character:04X} is not allowed in YAML; remove it "
            "(or write it as an escape inside a double-quoted string)",
        )
    return Problem(Location(file, 1, 1), f"YAML error: {exc}")


# libyaml's parser (when PyYAML was built with it) composes 20-50x faster than the pure-Python
# one; it is used when the text is clean, and any error is re-read by the Python parser,
# whose messages and character checks are the ones users see and tests pin.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose_fast(text: str) -> tuple[list[yaml.Node], yaml.SafeLoader] | None:
    if _FAST_LOADER is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    loader = _FAST_LOADER(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return nodes, loader
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def _compose(text: str, file: str) -> tuple[list[yaml.Node], yaml.SafeLoader]:
    fast = _compose_fast(text)
    if fast is not None:
        return fast
    try:
        loader = yaml.SafeLoader(text)  # checks every character up front
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_problem(exc, text, file)]) from None
    nodes: list[yaml.Node] = []
    try:
        while loader.check_node():
            nodes.append(loader.get_node())
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_problem(exc, text, file)]) from None
    except RecursionError:
        raise SpecError(
            [Problem(Location(file, 1, 1), "the document is nested too deeply to read")]
        ) from None
    finally:
        loader.dispose()
    return nodes, loader


def _build(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> tuple[Any, Positions]:
    builder = _Builder(file, loader)
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        raise SpecError([exc.problem]) from None
    if builder.problems:
        raise SpecError(builder.problems)
    return data, Positions(file, builder.values, builder.keys)


def parse_text(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document from text. Raises SpecError for anything malformed."""
    if _is_blank(text):
        raise SpecError([Problem(Location(file, 1, 1), "the file is empty")])
    nodes, loader = _compose(text, file)
    if len(nodes) != 1:
        where = _loc(file, nodes[1].start_mark) if len(nodes) > 1 else Location(file, 1, 1)
        raise SpecError([Problem(where, "expected exactly one YAML document")])
    return _build(nodes[0], loader, file)


def decode_text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [Problem(Location(name, line, col), "the file is not valid UTF-8 text")]
        ) from None


def read_tree_text(tree: SourceTree, relpath: str, display: str | None = None) -> str:
    """Read a UTF-8 file from a SourceTree; each way that fails is one clear SpecError."""
    name = display or relpath
    here = Location(name, 1, 1)
    try:
        raw = tree.read_bytes(relpath)
    except IsADirectoryError:
        raise SpecError([Problem(here, "is a directory, not a file")]) from None
    except FileNotFoundError:
        if tree.is_dir(relpath):
            raise SpecError([Problem(here, "is a directory, not a file")]) from None
        raise SpecError([Problem(here, "file not found")]) from None
    except OSError as exc:
        raise SpecError([Problem(here, f"cannot read the file: {exc.strerror}")]) from None
    return decode_text(raw, name)


def load_tree_document(tree: SourceTree, relpath: str, display: str | None = None) -> Document:
    name = display or relpath
    return load_document_text(read_tree_text(tree, relpath, name), name, Path(relpath))


def load_document_text(text: str, name: str, path: Path | None = None) -> Document:
    data, positions = parse_text(text, name)
    if not isinstance(data, dict):
        found = {type(None): "empty", list: "a list", str: "a single string"}.get(
            type(data), "a single value"
        )
        raise SpecError(
            [
                Problem(
                    positions.of(()),
                    f"the document must be a mapping (key: value pairs), not {found}",
                )
            ]
        )
    return Document(data=data, positions=positions, text=text, path=path or Path(name))


def load_documents_text(text: str, file: str) -> list[tuple[Any, Positions]]:
    """Parse a multi-document YAML stream (overlays, vendored manifests) with positions.

    Empty documents (a stray ``---``) are skipped.
    """
    nodes, loader = _compose(text, file)
    out: list[tuple[Any, Positions]] = []
    for node in nodes:
        data, positions = _build(node, loader, file)
        if data is not None:
            out.append((data, positions))
    return out


def load_all_trusted(text: str) -> list[Any]:
    """Every document of YAML that kgit wrote itself (out/) or ships (baselines).

    No positions and no extra checks, at libyaml speed: out/ of a large cluster is read on
    every compile (change-cause), diff and plan, and the pure-Python parser dominated them.
    """
    loader_class = _FAST_LOADER or yaml.SafeLoader
    return list(yaml.load_all(text, Loader=loader_class))
