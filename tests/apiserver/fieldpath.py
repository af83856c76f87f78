"""Field paths and field sets in the FieldsV1 format of managedFields.

Reference: https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
A path element is one of ``f:<field>``, ``k:<json of list-map keys>``, ``v:<json value>``
or ``i:<index>``; a set of paths is encoded as a tree where ``.`` marks a node that is
itself a member.
"""

from __future__ import annotations

import json
from typing import Any

from tests.apiserver import schema
from tests.apiserver.schema import Node

Path = tuple[str, ...]
MISSING = object()

# Fields the field manager never tracks (fieldmanager stripMeta upstream).
STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:resourceVersion"),
        ("f:metadata", "f:deletionTimestamp"),
        ("f:metadata", "f:deletionGracePeriodSeconds"),
    }
)

# List-map keys a server fills in when absent (the OpenAPI ``default`` of the key
# field, e.g. ContainerPort.protocol and ServicePort.protocol default to TCP).
KEY_DEFAULTS = {"protocol": "TCP"}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def key_element(item: Any, keys: list[str]) -> str:
    if not isinstance(item, dict):
        return "v:" + _dumps(item)
    found = {}
    for k in keys:
        value = item.get(k, KEY_DEFAULTS.get(k))
        if value is not None:
            found[k] = value
    return "k:" + _dumps(found)


def element_for(item: Any, node: Node) -> str:
    if schema.list_type(node) == "map":
        return key_element(item, list(node.get("keys", [])))
    return "v:" + _dumps(item)


def to_field_set(value: Any, node: Node) -> set[Path]:
    """Every path a value sets, as structured-merge-diff's ToFieldSet walks it."""
    out: set[Path] = set()
    _walk(value, node, (), out)
    return out


def _walk(value: Any, node: Node, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if schema.is_atomic_map(node):
            out.add(path)
            return
        struct = schema.is_struct(node) or node.get("t") == "any"
        props = node.get("props", {})
        for k, v in value.items():
            p = (*path, "f:" + k)
            cn = schema.child(node, k) or schema.ANY
            _walk(v, cn, p, out)
            if (
                v is None
                or (isinstance(v, dict) and not v)
                or not (struct and (k in props or node.get("t") == "any"))
            ):
                out.add(p)
    elif isinstance(value, list):
        lt = schema.list_type(node)
        if lt == "atomic" or node.get("t") != "array":
            out.add(path)
            return
        it = schema.item(node)
        for elem in value:
            p = (*path, element_for(elem, node))
            if lt == "map":
                _walk(elem, it, p, out)
            out.add(p)
    else:
        out.add(path)


def strip(paths: set[Path], status_subresource: bool, subresource: str) -> set[Path]:
    """Drop paths the manager does not own: metadata bookkeeping, and status on the main
    resource (or everything but status on /status) — the strategies' reset fields."""
    out = set()
    for p in paths:
        if p in STRIPPED:
            continue
        in_status = bool(p) and p[0] == "f:status"
        if status_subresource and subresource == "" and in_status:
            continue
        if subresource == "status" and not in_status:
            continue
        out.add(p)
    return out


def get_at(obj: Any, path: Path) -> Any:
    node = obj
    for pe in path:
        kind, rest = pe[0], pe[2:]
        if kind == "f":
            if not isinstance(node, dict) or rest not in node:
                return MISSING
            node = node[rest]
        elif kind in ("k", "v"):
            if not isinstance(node, list):
                return MISSING
            idx = find_element(node, pe)
            if idx is None:
                return MISSING
            node = node[idx]
        else:
            idx = int(rest)
            if not isinstance(node, list) or idx >= len(node):
                return MISSING
            node = node[idx]
    return node


def find_element(items: list[Any], pe: str) -> int | None:
    kind, rest = pe[0], pe[2:]
    want = json.loads(rest)
    for i, elem in enumerate(items):
        if kind == "v" and elem == want:
            return i
        if (
            kind == "k"
            and isinstance(elem, dict)
            and all(elem.get(k, KEY_DEFAULTS.get(k)) == v for k, v in want.items())
        ):
            return i
    return None


def remove_at(obj: Any, path: Path) -> bool:
    """Remove the value at ``path``; True when something was removed."""
    if not path:
        return False
    parent = get_at(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict) and last[2:] in parent:
        del parent[last[2:]]
        return True
    if isinstance(parent, list):
        idx = find_element(parent, last) if last[0] in "kv" else int(last[2:])
        if idx is not None and idx < len(parent):
            del parent[idx]
            return True
    return False


def encode(paths: set[Path]) -> dict[str, Any]:
    """A field set as a FieldsV1 tree."""
    root: dict[str, Any] = {}
    for p in sorted(paths, key=len):
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
    for p in paths:
        node = root
        for pe in p:
            node = node[pe]
        if node and "." not in node:
            node["."] = {}
    return _sorted(root)


def _sorted(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted(tree[k]) for k in sorted(tree)}


def decode(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in tree.items():
        if key == ".":
            out.add(prefix)
            continue
        p = (*prefix, key)
        if not sub:
            out.add(p)
        else:
            out |= decode(sub, p)
    return out


def format_path(path: Path) -> str:
    """A path as conflict messages print it: ``.spec.containers[name="web"].image``."""
    out = ""
    for pe in path:
        kind, rest = pe[0], pe[2:]
        if kind == "f":
            out += "." + rest
        elif kind == "k":
            keys = json.loads(rest)
            out += "[" + ",".join(f"{k}={_dumps(v)}" for k, v in sorted(keys.items())) + "]"
        elif kind == "v":
            out += f"[={rest}]"
        else:
            out += f"[{rest}]"
    return out
