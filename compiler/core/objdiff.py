"""Field-level differences between two versions of one object, for people to read.

Used by ``kgit diff`` (compiled output between revisions) and ``kgit plan`` (live cluster
against desired state). Values are masked first; the YAML text comes from the shared
emitter so that the same object always reads the same way.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from compiler.core import yamlout
from compiler.core.masking import mask_pair


@dataclass(frozen=True)
class FieldChange:
    """One changed leaf (or subtree): its path, old and new values (masked)."""

    path: str  # e.g. spec.template.spec.containers[name=nginx].image
    before: Any
    after: Any


_MISSING = object()


def _list_key(*lists: list[Any]) -> str | None:
    """A key that identifies items in every list (name, containerPort, port, ip, mountPath)."""

    def identifies(key: str, items: list[Any]) -> bool:
        if not all(isinstance(i, dict) and key in i for i in items):
            return False
        return len({str(i[key]) for i in items}) == len(items)

    for key in ("name", "containerPort", "port", "ip", "mountPath"):
        if any(lists) and all(identifies(key, items) for items in lists):
            return key
    return None


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Every changed leaf between two plain values; list items matched by key where possible."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            old, new = before.get(key, _MISSING), after.get(key, _MISSING)
            if old is _MISSING or new is _MISSING:
                changes.append(
                    FieldChange(
                        sub, None if old is _MISSING else old, None if new is _MISSING else new
                    )
                )
            else:
                changes.extend(field_changes(old, new, sub))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        key = _list_key(before, after)
        if key is not None:
            old_items = {str(i[key]): i for i in before}
            new_items = {str(i[key]): i for i in after}
            changes = []
            for ident in list(dict.fromkeys([*old_items, *new_items])):
                sub = f"{path}[{key}={ident}]"
                if ident not in old_items or ident not in new_items:
                    changes.append(FieldChange(sub, old_items.get(ident), new_items.get(ident)))
                else:
                    changes.extend(field_changes(old_items[ident], new_items[ident], sub))
            if not changes and [str(i[key]) for i in before] != [str(i[key]) for i in after]:
                changes.append(FieldChange(f"{path} (order)", before, after))
            return changes
        if len(before) == len(after):
            changes = []
            for i, (old, new) in enumerate(zip(before, after, strict=True)):
                changes.extend(field_changes(old, new, f"{path}[{i}]"))
            return changes
    if before != after:
        return [FieldChange(path, before, after)]
    return []


def yaml_diff(
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    label: str = "",
    context: int = 3,
) -> str:
    """A unified diff of the two objects' YAML (values masked); empty when equal."""
    masked_before, masked_after = mask_pair(before, after)
    old = yamlout.dump(masked_before).splitlines(keepends=True) if masked_before else []
    new = yamlout.dump(masked_after).splitlines(keepends=True) if masked_after else []
    lines = difflib.unified_diff(
        old,
        new,
        fromfile=f"a/{label}" if label else "before",
        tofile=f"b/{label}" if label else "after",
        n=context,
    )
    return "".join(lines)
