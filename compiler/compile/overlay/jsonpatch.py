"""JSON Patch (RFC 6902) over plain data, with JSON Pointers (RFC 6901).

Operations: add, remove, replace, move, copy, test. Pointers are ``/``-separated tokens in
which ``~1`` stands for ``/`` and ``~0`` for ``~``; ``-`` names the end of an array (add
only). Any operation that does not apply raises ``JsonPatchError`` naming the operation's
index and the field (``path``, ``from`` or ``value``) at fault, so callers can point at
the line. Pure: the input document is never modified.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from compiler.core.plaindata import clone

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


class JsonPatchError(Exception):
    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message


class _PointerError(Exception):
    pass


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON Pointer; raises ValueError when it is malformed."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    tokens = []
    for raw in pointer[1:].split("/"):
        rest = raw.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise ValueError(f"JSON pointer {pointer!r}: '~' must be followed by 0 or 1")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def _index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if for_insert and token == "-":
        return len(container)
    if not (token.isascii() and token.isdigit()) or (token != "0" and token.startswith("0")):
        raise _PointerError(f"{token!r} is not an array index")
    if len(token) > 18:  # past any list's length; int() of thousands of digits is refused
        raise _PointerError(f"index {token[:18]}… is out of range (the array has {len(container)})")
    index = int(token)
    limit = len(container) if for_insert else len(container) - 1
    if index > limit:
        raise _PointerError(f"index {index} is out of range (the array has {len(container)})")
    return index


def _parent(doc: Any, tokens: Sequence[str], pointer: str) -> Any:
    node = doc
    for depth, token in enumerate(tokens[:-1]):
        here = "/" + "/".join(tokens[: depth + 1])
        if isinstance(node, dict):
            if token not in node:
                raise _PointerError(f"{pointer!r} does not resolve: {here!r} does not exist")
            node = node[token]
        elif isinstance(node, list):
            try:
                node = node[_index(node, token, for_insert=False)]
            except _PointerError as exc:
                raise _PointerError(f"{pointer!r} does not resolve at {here!r}: {exc}") from None
        else:
            raise _PointerError(f"{pointer!r} does not resolve: {here!r} is not an object or array")
    return node


def _get(doc: Any, pointer: str) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PointerError(f"{pointer!r} does not resolve: {last!r} does not exist")
        return parent[last]
    if isinstance(parent, list):
        try:
            return parent[_index(parent, last, for_insert=False)]
        except _PointerError as exc:
            raise _PointerError(f"{pointer!r} does not resolve: {exc}") from None
    raise _PointerError(f"{pointer!r} does not resolve: its parent is not an object or array")


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return value
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        try:
            parent.insert(_index(parent, last, for_insert=True), value)
        except _PointerError as exc:
            raise _PointerError(f"{pointer!r}: {exc}") from None
    else:
        raise _PointerError(f"{pointer!r} does not resolve: its parent is not an object or array")
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        raise _PointerError("cannot remove the whole document")
    _get(doc, pointer)  # raises when the target does not exist
    parent = _parent(doc, tokens, pointer)
    if isinstance(parent, dict):
        del parent[tokens[-1]]
    else:
        del parent[_index(parent, tokens[-1], for_insert=False)]
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: true is not 1, but 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _apply_one(doc: Any, op: dict[str, Any], index: int) -> Any:
    name = op["op"]
    path = op["path"]
    field = "path"
    try:
        if name == "add":
            return _add(doc, path, clone(op["value"]))
        if name == "remove":
            return _remove(doc, path)
        if name == "replace":
            _get(doc, path)
            tokens = parse_pointer(path)
            if not tokens:
                return clone(op["value"])
            _remove(doc, path)
            return _add(doc, path, clone(op["value"]))
        if name in ("move", "copy"):
            source = op["from"]
            field = "from"
            value = clone(_get(doc, source))
            field = "path"
            if name == "move":
                if path.startswith(source + "/"):
                    raise _PointerError(f"cannot move {source!r} into its own child {path!r}")
                if path == source:
                    return doc
                doc = _remove(doc, source)
            return _add(doc, path, value)
        if name == "test":
            actual = _get(doc, path)
            if not _json_equal(actual, op["value"]):
                field = "value"
                raise _PointerError(
                    f"test failed: {path!r} is {_json(actual)}, not {_json(op['value'])}"
                )
            return doc
    except (_PointerError, ValueError) as exc:  # ValueError: a malformed pointer
        raise JsonPatchError(index, field, f"{name} operation: {exc}") from None
    raise JsonPatchError(
        index, "op", f"unknown operation {name!r}; expected one of " + ", ".join(OPERATIONS)
    )


def apply_patch(document: Any, operations: Sequence[dict[str, Any]]) -> Any:
    """``document`` with every operation applied in order (all or nothing)."""
    doc = clone(document)
    for index, op in enumerate(operations):
        doc = _apply_one(doc, op, index)
    return doc
