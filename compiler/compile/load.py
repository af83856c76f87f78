"""Stage 1, load: read a YAML file into plain data, and know where every value is.

Positions are kept per JSON path so that validation and later stages can point at
``cluster.yaml:LINE:COL``; they are read from the text when first asked for, since a run
that succeeds never needs one (``_PlainBuilder`` builds the data alone, ``_Builder`` data
and positions). Anything that is not a clean, single YAML mapping document (missing file,
directory, bad UTF-8, syntax error, duplicate key, tags) is one ``SpecError`` with a
location.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from compiler.core.errors import Location, Problem, SpecError
from compiler.core.plaindata import clone
from compiler.core.sources import SourceTree

PathKey = tuple[str | int, ...]


def _scalar_node(tag: str, event: yaml.ScalarEvent) -> yaml.ScalarNode:
    """A node for the resolver; libyaml's events carry its own Mark type, which the node
    only keeps for messages."""
    start: Any = event.start_mark
    end: Any = event.end_mark
    return yaml.ScalarNode(tag, event.value, start, end, event.style)


class Positions:
    """Where each value (and each mapping key) of a document starts.

    A run that succeeds never asks for a position, so the fast parse records none; then
    ``reread`` builds the tables on first use by reading the text again with positions.
    """

    def __init__(
        self,
        file: str,
        values: Mapping[PathKey, Location] | None = None,
        keys: Mapping[PathKey, Location] | None = None,
        *,
        reread: Callable[[], Positions] | None = None,
    ) -> None:
        self.file = file
        self._tables = None if reread else (values or {}, keys or {})
        self._reread = reread

    def _read(self) -> tuple[Mapping[PathKey, Location], Mapping[PathKey, Location]]:
        if self._tables is None:
            assert self._reread is not None
            again = self._reread()
            self._tables = (again.values, again.keys)
        return self._tables

    @property
    def values(self) -> Mapping[PathKey, Location]:
        return self._read()[0]

    @property
    def keys(self) -> Mapping[PathKey, Location]:
        return self._read()[1]

    def of(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of ``path``; falls back to the nearest enclosing value that is known."""
        values, keys = self._read()
        if key and path in keys:
            return keys[path]
        probe = tuple(path)
        while probe:
            if probe in values:
                return values[probe]
            probe = probe[:-1]
        return values.get((), Location(self.file, 1, 1))


@dataclass(frozen=True)
class Document:
    """One loaded YAML mapping document: its data, positions and raw text."""

    data: dict[str, Any]
    positions: Positions
    text: str


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
MAX_ALIAS_CHARS = 10_000_000  # characters of strings copied through aliases, per file
MAX_DEPTH = 64


class _TooBig(Exception):
    """Raised out of a build that exceeded a limit; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


_BUILDING = object()  # an anchor whose collection is still being read (alias cycles)


@dataclass
class _Budget:
    """Values copied through aliases so far in one file: the limit holds for the whole
    stream, or 2,000 documents of a bomb just under it would each pass."""

    expanded: int = 0
    chars: int = 0


class _ExtraDocument(Exception):
    """A stream that must hold one document has a second; carries where it starts."""

    def __init__(self, where: yaml.Mark) -> None:
        super().__init__("a second document")
        self.where = where


def _next_document(loader: yaml.SafeLoader, count: int, single: bool) -> None:
    """Step over a DocumentStartEvent; with ``single``, refuse a second document before a
    single value of it is built (its cost would be paid for an error anyway)."""
    loader.get_event()  # DocumentStartEvent
    if single and count:
        raise _ExtraDocument(loader.peek_event().start_mark)


def _size(value: Any) -> tuple[int, int]:
    """How many values, and characters of strings, an alias copies (for the limits): a
    100,000-value budget alone would let one long string be copied 100,000 times."""
    if isinstance(value, dict):
        sizes = [_size(v) for v in value.values()]
        keys = sum(len(k) for k in value)
        return 1 + sum(n for n, _ in sizes), keys + sum(c for _, c in sizes)
    if isinstance(value, list):
        sizes = [_size(v) for v in value]
        return 1 + sum(n for n, _ in sizes), sum(c for _, c in sizes)
    return 1, len(value) if isinstance(value, str) else 0


class _Builder:
    """Turns the parser's event stream into plain data, recording positions.

    Reading events rather than a composed node tree keeps memory to the data and its
    positions: PyYAML's node tree of a 10,000-app spec alone is ~140 MB. Anchors are
    remembered as built values; an alias is a deep copy of one, counted against the
    expansion limit.
    """

    def __init__(self, file: str, loader: yaml.SafeLoader, budget: _Budget) -> None:
        self.file = file
        self.loader = loader
        self.values: dict[PathKey, Location] = {}
        self.keys: dict[PathKey, Location] = {}
        self.problems: list[Problem] = []
        self.budget = budget  # values copied through aliases, shared by the file's documents
        self.anchors: dict[str, tuple[Any, tuple[int, int]]] = {}

    def document(self) -> tuple[Any, Positions]:
        """One document: the parser stands just after its DocumentStartEvent."""
        try:
            data = self.value(())
        except _TooBig as exc:
            raise SpecError([exc.problem]) from None
        self.loader.get_event()  # DocumentEndEvent
        if self.problems:
            raise SpecError(self.problems)
        return data, Positions(self.file, self.values, self.keys)

    def value(self, path: PathKey) -> Any:
        event = self.loader.get_event()
        here = _loc(self.file, event.start_mark)
        self.values[path] = here
        if len(path) > MAX_DEPTH:
            raise _TooBig(Problem(here, f"the document is nested deeper than {MAX_DEPTH} levels"))
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, here)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.anchors[anchor] = (_BUILDING, (0, 0))
        if isinstance(event, yaml.ScalarEvent):
            result = self._scalar(event, here)
        elif isinstance(event, yaml.SequenceStartEvent):
            result = self._collection(event, here, SEQUENCE_TAG, self._sequence, path)
        else:
            result = self._collection(event, here, MAPPING_TAG, self._mapping, path)
        if anchor is not None:
            self.anchors[anchor] = (result, _size(result))
        return result

    def _alias(self, event: yaml.AliasEvent, here: Location) -> Any:
        value, (size, chars) = self.anchors.get(event.anchor or "", (None, (-1, 0)))
        if value is _BUILDING:
            self.problems.append(Problem(here, "a YAML alias refers to a value that contains it"))
            return None
        if size < 0:
            self.problems.append(Problem(here, f"alias *{event.anchor} has no anchor before it"))
            return None
        # Only values reached again through aliases count: a large spec is fine, a
        # "billion laughs" document (aliases of aliases) is not.
        self.budget.expanded += size
        self.budget.chars += chars
        if self.budget.expanded > MAX_VALUES:
            raise _TooBig(
                Problem(
                    here,
                    f"YAML aliases expand to more than {MAX_VALUES} values "
                    "(aliases of aliases expanding without end?)",
                )
            )
        if self.budget.chars > MAX_ALIAS_CHARS:
            raise _TooBig(
                Problem(
                    here,
                    f"YAML aliases copy more than {MAX_ALIAS_CHARS} characters of text "
                    "(a long string repeated through aliases?)",
                )
            )
        return clone(value)

    def _collection(self, event: Any, here: Location, tag: str, build: Any, path: PathKey) -> Any:
        if event.tag not in (None, "!", tag):
            self.problems.append(Problem(here, f"YAML tag {event.tag!r} is not supported here"))
            self._skip_collection()
            return None
        return build(path)

    def _skip_collection(self) -> None:
        depth = 1
        while depth:
            event = self.loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1

    def _sequence(self, path: PathKey) -> list[Any]:
        items: list[Any] = []
        while not self.loader.check_event(yaml.SequenceEndEvent):
            items.append(self.value((*path, len(items))))
        self.loader.get_event()
        return items

    def _resolved_tag(self, event: yaml.ScalarEvent) -> str:
        if event.tag is None or event.tag == "!":
            return self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return event.tag

    def _scalar(self, event: yaml.ScalarEvent, here: Location) -> Any:
        tag = self._resolved_tag(event)
        if tag in PLAIN_STRING_TAGS:
            return str(event.value)
        if tag not in SCALAR_TAGS:
            self.problems.append(Problem(here, f"YAML tag {tag!r} is not supported here"))
            return None
        node = _scalar_node(tag, event)
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, yaml.YAMLError):
            # e.g. 2001-13-45 looks like a date but is none, or !!int on a word.
            kind = _TAG_WORDS.get(tag.removeprefix(_CORE), tag)
            self.problems.append(
                Problem(
                    here, f"{event.value!r} is not a valid {kind}; quote it to make it a string"
                )
            )
            return None

    def _key(self, path: PathKey) -> tuple[str | None, Location]:
        """The next mapping key; None for a merge key ('<<')."""
        event = self.loader.peek_event()
        here = _loc(self.file, event.start_mark)
        if not isinstance(event, yaml.ScalarEvent):
            self.value((*path, f"?{here.line}:{here.col}"))  # read and drop a complex key
            self.problems.append(
                Problem(here, "mapping key a list or mapping must be a string; quote it")
            )
            return f"?{here.line}:{here.col}", here
        self.loader.get_event()
        if self._resolved_tag(event) == _CORE + "merge" and event.implicit[0]:
            return None, here
        reported = len(self.problems)
        key = self._scalar(event, here)
        if not isinstance(key, str):
            if len(self.problems) == reported:  # not already refused for its tag
                self.problems.append(
                    Problem(here, f"mapping key {event.value!r} must be a string; quote it")
                )
            key = str(event.value)
        return key, here

    def _mapping(self, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[tuple[dict[str, Any], Location]] = []
        while not self.loader.check_event(yaml.MappingEndEvent):
            key, key_loc = self._key(path)
            if key is None:
                merged.extend(self._merge_sources(path, key_loc))
                continue
            if key in result:
                first = self.keys[(*path, key)]
                self.problems.append(
                    Problem(key_loc, f"duplicate key {key!r} (first defined at line {first.line})")
                )
                self.value((*path, f"?{key_loc.line}:{key_loc.col}"))  # read and drop it
                continue
            self.keys[(*path, key)] = key_loc
            result[key] = self.value((*path, key))
        self.loader.get_event()
        # YAML 1.1 merge keys: explicit keys win, then earlier merged mappings.
        for source, where in merged:
            for key, item in source.items():
                if key not in result:
                    result[key] = item
                    self.keys[(*path, key)] = where
                    self.values[(*path, key)] = where
        return result

    def _merge_sources(
        self, path: PathKey, here: Location
    ) -> list[tuple[dict[str, Any], Location]]:
        merge_path = (*path, "<<")
        value = self.value(merge_path)
        sources = value if isinstance(value, list) else [value]
        for index, source in enumerate(sources):
            if not isinstance(source, dict):
                item = (*merge_path, index) if isinstance(value, list) else merge_path
                found = "a sequence" if isinstance(source, list) else "scalar"
                self.problems.append(
                    Problem(
                        self.values.get(item, self.values[merge_path]),
                        "invalid merge key '<<': expected a mapping for merging, "
                        f"but found {found}",
                    )
                )
                return []
        for key in [k for k in self.values if k[: len(merge_path)] == merge_path]:
            del self.values[key]
        return [(source, here) for source in sources]


class _NotPlain(Exception):
    """The fast build met something only ``_Builder`` handles (or reports) properly."""


# How plain (unquoted) scalars resolve, by text: the same few keys and values recur
# thousands of times in a large spec, and the resolver's regular expressions dominated.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_LIMIT = 4096
_STR_TAG = _CORE + "str"


class _PlainBuilder:
    """Plain data from the parser's events, at speed, for the common clean document.

    No positions, no anchors, aliases, merge keys, tags, duplicate or non-string keys:
    on any of those it gives up (``_NotPlain``) and the caller reads the text again with
    ``_Builder``, which records positions and words every problem. For a document it
    accepts, both build the same data (property-tested).
    """

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader

    def value(self, depth: int) -> Any:
        event = self.loader.get_event()
        kind = type(event)
        if getattr(event, "anchor", None) is not None or depth > MAX_DEPTH:
            raise _NotPlain
        if kind is yaml.ScalarEvent:
            return self.scalar(event)
        if event.tag not in (None, "!"):
            raise _NotPlain
        if kind is yaml.MappingStartEvent:
            return self.mapping(depth + 1)
        if kind is yaml.SequenceStartEvent:
            return self.sequence(depth + 1)
        raise _NotPlain  # an alias

    def scalar(self, event: yaml.ScalarEvent) -> Any:
        if event.tag is not None and event.tag != "!":
            raise _NotPlain
        if event.implicit[0]:  # plain: resolved by its text
            tag = _PLAIN_TAGS.get(event.value)
            if tag is None:
                tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                if len(_PLAIN_TAGS) >= _PLAIN_TAGS_LIMIT:
                    _PLAIN_TAGS.clear()
                _PLAIN_TAGS[event.value] = tag
        else:
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR_TAG:
            return event.value
        if tag not in SCALAR_TAGS:
            raise _NotPlain
        node = _scalar_node(tag, event)
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, yaml.YAMLError):
            raise _NotPlain from None

    def sequence(self, depth: int) -> list[Any]:
        items: list[Any] = []
        while not self.loader.check_event(yaml.SequenceEndEvent):
            items.append(self.value(depth))
        self.loader.get_event()
        return items

    def mapping(self, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        loader = self.loader
        while not loader.check_event(yaml.MappingEndEvent):
            event = loader.get_event()
            if type(event) is not yaml.ScalarEvent or event.anchor is not None:
                raise _NotPlain
            key = self.scalar(event)
            if type(key) is not str or key in result or (key == "<<" and event.implicit[0]):
                raise _NotPlain
            result[key] = self.value(depth)
        loader.get_event()
        return result


def _plain_documents(loader: yaml.SafeLoader, *, single: bool = False) -> list[Any]:
    """The data of every document, or ``_NotPlain``."""
    documents: list[Any] = []
    loader.get_event()  # StreamStartEvent
    while not loader.check_event(yaml.StreamEndEvent):
        _next_document(loader, len(documents), single)
        documents.append(_PlainBuilder(loader).value(0))
        loader.get_event()  # DocumentEndEvent
    return documents


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


# libyaml's parser (when PyYAML was built with it) reads 20-50x faster than the pure-Python
# one; it is used when the text is clean, and any error is re-read by the Python parser,
# whose messages and character checks are the ones users see and tests pin.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _documents(
    loader: yaml.SafeLoader, file: str, *, single: bool = False
) -> list[tuple[Any, Positions]]:
    """Every document of the stream, each built from the parser's events."""
    documents: list[tuple[Any, Positions]] = []
    budget = _Budget()
    loader.get_event()  # StreamStartEvent
    while not loader.check_event(yaml.StreamEndEvent):
        _next_document(loader, len(documents), single)
        documents.append(_Builder(file, loader, budget).document())
    return documents


def _one_document_only(file: str, where: yaml.Mark) -> SpecError:
    return SpecError([Problem(_loc(file, where), "expected exactly one YAML document")])


def _read_stream(text: str, file: str, *, single: bool = False) -> list[tuple[Any, Positions]]:
    """(data, positions) of every document; a SpecError for anything malformed.

    With ``single``, a second document is an error as soon as the parser reaches it."""
    if _FAST_LOADER is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        loader = _FAST_LOADER(text)
        try:
            documents = _plain_documents(loader, single=single)
        except _ExtraDocument as exc:
            raise _one_document_only(file, exc.where) from None
        except (_NotPlain, yaml.YAMLError, RecursionError):
            pass  # read again below, with positions and the exact message
        else:
            return [
                (data, Positions(file, reread=functools.partial(_positions, text, file, index)))
                for index, data in enumerate(documents)
            ]
        finally:
            loader.dispose()
    return _read_stream_with_positions(text, file, single=single)


def _positions(text: str, file: str, index: int) -> Positions:
    return _read_stream_with_positions(text, file)[index][1]


def _read_stream_with_positions(
    text: str, file: str, *, single: bool = False
) -> list[tuple[Any, Positions]]:
    if _FAST_LOADER is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        loader = _FAST_LOADER(text)
        try:
            return _documents(loader, file, single=single)
        except _ExtraDocument as exc:
            raise _one_document_only(file, exc.where) from None
        except (yaml.YAMLError, RecursionError):
            pass  # read again below, for the Python parser's message
        finally:
            loader.dispose()
    try:
        loader = yaml.SafeLoader(text)  # checks every character up front
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_problem(exc, text, file)]) from None
    try:
        return _documents(loader, file, single=single)
    except _ExtraDocument as exc:
        raise _one_document_only(file, exc.where) from None
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_problem(exc, text, file)]) from None
    except RecursionError:
        raise SpecError(
            [Problem(Location(file, 1, 1), "the document is nested too deeply to read")]
        ) from None
    finally:
        loader.dispose()


def parse_text(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document from text. Raises SpecError for anything malformed."""
    if _is_blank(text):
        raise SpecError([Problem(Location(file, 1, 1), "the file is empty")])
    documents = _read_stream(text, file, single=True)
    if len(documents) != 1:
        raise SpecError([Problem(Location(file, 1, 1), "expected exactly one YAML document")])
    return documents[0]


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
    return load_document_text(read_tree_text(tree, relpath, name), name)


def load_document_text(text: str, name: str) -> Document:
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
    return Document(data=data, positions=positions, text=text)


def load_documents_text(text: str, file: str) -> list[tuple[Any, Positions]]:
    """Parse a multi-document YAML stream (overlays, vendored manifests) with positions.

    Empty documents (a stray ``---``) are skipped.
    """
    return [(data, positions) for data, positions in _read_stream(text, file) if data is not None]


def load_all_trusted(text: str) -> list[Any]:
    """Every document of YAML that kgit wrote itself (out/) or ships (baselines).

    No positions and no extra checks, at libyaml speed: out/ of a large cluster is read on
    every compile (change-cause), diff and plan, and the pure-Python parser dominated them.
    """
    if _FAST_LOADER is not None:
        loader = _FAST_LOADER(text)
        try:
            return _plain_documents(loader)  # twice as fast as PyYAML's constructor
        except _NotPlain:
            pass  # anchors or tags (an upstream file): PyYAML's own loader below
        finally:
            loader.dispose()
    return list(yaml.load_all(text, Loader=_FAST_LOADER or yaml.SafeLoader))
