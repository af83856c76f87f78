"""Which lists of the built-in Kubernetes types merge, and by which keys.

Strategic merge needs, for every list field, its patch strategy and merge keys. Kubernetes
publishes them in its OpenAPI document (``x-kubernetes-patch-strategy``,
``x-kubernetes-patch-merge-key``, ``x-kubernetes-list-map-keys``). kgit ships a compact
table of them (``patch_meta.json``) so that compiling needs no OpenAPI document at run
time; ``tests/test_overlay_patch_meta.py`` regenerates it from the schemas bundled with
``kubernetes-validate`` and fails when the shipped table differs.

The table only keeps the paths that lead to a merging list: every other field merges as a
map (objects) or is replaced (scalars and atomic lists), which needs no metadata.

Regenerate: ``.venv/bin/python -m compiler.compile.overlay.patch_meta``
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("patch_meta.json")
SCHEMA_VERSION = "v1.32.0-local-strict"  # the kubernetes-validate schema the table comes from


@dataclass(frozen=True)
class FieldMeta:
    """How one field merges: its type (for recursion) and, for lists, strategy and keys."""

    type: str | None = None  # definition name of the object (or list item) type
    merge: bool = False  # a list with patch strategy "merge"
    keys: tuple[str, ...] = ()  # merge keys; empty for a merging list of scalars


def _ref_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _field_entry(node: Mapping[str, Any]) -> dict[str, Any]:
    """What the table keeps of one property: the type it refers to, and how it merges."""
    entry: dict[str, Any] = {}
    target = _ref_name(node) or _ref_name(node.get("items") or {})
    if target:
        entry["type"] = target
    if "merge" in str(node.get("x-kubernetes-patch-strategy", "")).split(","):
        entry["merge"] = True
        keys = node.get("x-kubernetes-list-map-keys") or (
            [node["x-kubernetes-patch-merge-key"]] if "x-kubernetes-patch-merge-key" in node else []
        )
        if keys:
            entry["keys"] = list(keys)
    return entry


def _reaching_merges(fields: Mapping[str, Mapping[str, dict[str, Any]]]) -> set[str]:
    """The types through which a merging list can be reached (a fixed point)."""
    interesting: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, out in fields.items():
            if name not in interesting and any(
                e.get("merge") or e.get("type") in interesting for e in out.values()
            ):
                interesting.add(name)
                changed = True
    return interesting


def generate(definitions: Mapping[str, Any]) -> dict[str, Any]:
    """The compact table from OpenAPI definitions (the ``$defs`` of kubernetes-validate)."""
    fields = {
        name: {
            field: entry
            for field, node in (definition.get("properties") or {}).items()
            if (entry := _field_entry(node))
        }
        for name, definition in definitions.items()
    }
    interesting = _reaching_merges(fields)
    types = {
        name: {
            f: e for f, e in sorted(out.items()) if e.get("merge") or e.get("type") in interesting
        }
        for name, out in sorted(fields.items())
        if name in interesting
    }
    kinds = {}
    for name, definition in sorted(definitions.items()):
        if name not in interesting:
            continue
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            group, version = gvk.get("group", ""), gvk["version"]
            api_version = f"{group}/{version}" if group else version
            kinds[f"{api_version}/{gvk['kind']}"] = name
    return {"source": f"kubernetes-validate {SCHEMA_VERSION}", "kinds": kinds, "types": types}


@cache
def _table() -> dict[str, Any]:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def root_type(api_version: str, kind: str) -> str | None:
    """The definition name of a built-in kind, or None for kinds kgit knows nothing about."""
    return _table()["kinds"].get(f"{api_version}/{kind}")


def field_meta(type_name: str | None, field: str) -> FieldMeta | None:
    """How ``field`` of ``type_name`` merges; None when it needs no special handling."""
    if type_name is None:
        return None
    entry = _table()["types"].get(type_name, {}).get(field)
    if entry is None:
        return None
    return FieldMeta(entry.get("type"), bool(entry.get("merge")), tuple(entry.get("keys", ())))


def _main() -> None:  # pragma: no cover - a maintenance script
    import kubernetes_validate  # dev dependency only

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / SCHEMA_VERSION
    definitions = json.loads((base / "_definitions.json").read_text())["$defs"]
    TABLE.write_text(json.dumps(generate(definitions), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":  # pragma: no cover
    _main()
