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


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.values: dict[PathKey, Location] = {}
        self.keys: dict[PathKey, Location] = {}
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.values[path] = _loc(self.file, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag.startswith("!") or node.tag.startswith("tag:yaml.org,2002:binary"):
            self.problems.append(
                Problem(self.values[path], f"YAML tag {node.tag!r} is not supported here")
            )
            return None
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves '<<' merge keys as YAML 1.1 defines them
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            key_loc = _loc(self.file, key_node.start_mark)
            if not isinstance(key, str):
                self.problems.append(
                    Problem(key_loc, f"mapping key {key!r} must be a string; quote it")
                )
                key = str(key)
            if key in result:
                first = self.keys[(*path, key)]
                self.problems.append(
                    Problem(key_loc, f"duplicate key {key!r} (first defined at line {first.line})")
                )
                continue
            self.keys[(*path, key)] = key_loc
            result[key] = self.build(value_node, (*path, key))
        return result


def parse_text(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document from text. Raises SpecError for anything malformed."""
    if not text.strip() or all(
        line.strip().startswith("#") or not line.strip() for line in text.splitlines()
    ):
        raise SpecError([Problem(Location(file, 1, 1), "the file is empty")])
    loader = yaml.SafeLoader(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _loc(file, mark) if mark else Location(file, 1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SpecError([Problem(where, f"YAML syntax error: {message}")]) from None
    finally:
        loader.dispose()
    if len(nodes) != 1:
        where = _loc(file, nodes[1].start_mark) if len(nodes) > 1 else Location(file, 1, 1)
        raise SpecError([Problem(where, "expected exactly one YAML document")])
    builder = _Builder(file, loader)
    data = builder.build(nodes[0], ())
    if builder.problems:
        raise SpecError(builder.problems)
    return data, Positions(file, builder.values, builder.keys)


def read_text(path: Path, display: str | None = None) -> str:
    """Read a UTF-8 text file; every way that can fail is one clear SpecError."""
    name = display or str(path)
    here = Location(name, 1, 1)
    if path.is_dir():
        raise SpecError([Problem(here, "is a directory, not a file")])
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(here, "file not found")]) from None
    except OSError as exc:
        raise SpecError([Problem(here, f"cannot read the file: {exc.strerror}")]) from None
    return decode_text(raw, name)


def decode_text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [Problem(Location(name, line, col), "the file is not valid UTF-8 text")]
        ) from None


def load_document(path: Path, display: str | None = None) -> Document:
    """Load a YAML file that must hold exactly one mapping document."""
    name = display or str(path)
    text = read_text(path, name)
    return load_document_text(text, name, path)


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
        raise SpecError(
            [Problem(positions.of(()), "the document must be a mapping (key: value pairs)")]
        )
    return Document(data=data, positions=positions, text=text, path=path or Path(name))


def load_documents_text(text: str, file: str) -> list[tuple[Any, Positions]]:
    """Parse a multi-document YAML stream (overlays, vendored manifests) with positions."""
    loader = yaml.SafeLoader(text)
    out: list[tuple[Any, Positions]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            builder = _Builder(file, loader)
            data = builder.build(node, ())
            if builder.problems:
                raise SpecError(builder.problems)
            if data is not None:
                out.append((data, Positions(file, builder.values, builder.keys)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _loc(file, mark) if mark else Location(file, 1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SpecError([Problem(where, f"YAML syntax error: {message}")]) from None
    finally:
        loader.dispose()
    return out
