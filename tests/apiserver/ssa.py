"""Field ownership: server-side apply and the managedFields of updates.

Reference: https://kubernetes.io/docs/reference/using-api/server-side-apply/
- Apply sets the manager's field set to exactly the fields in the applied config.
- A field another manager owns with a different value is a conflict (409, causes of
  type FieldManagerConflict) unless ``force=true``, which takes ownership.
- Fields the manager applied before and no longer applies are removed, unless another
  manager owns them.
- Update (PUT, non-apply PATCH, POST) gives the manager every field it changed and takes
  those fields away from other managers; removed fields are disowned by everyone.
Entries are sorted as upstream sorts them: Apply before Update, then by time, manager.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from tests.apiserver import fieldpath as fp
from tests.apiserver.merge import apply_merge
from tests.apiserver.schema import Node
from tests.apiserver.status import ApiError


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str
    fields: set[fp.Path] = field(default_factory=set)

    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def describe(self) -> str:
        """How upstream's conflict messages name a manager (printManager)."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


def read_entries(obj: dict[str, Any] | None) -> list[Entry]:
    if not obj:
        return []
    out = []
    for e in obj.get("metadata", {}).get("managedFields") or []:
        out.append(
            Entry(
                e.get("manager", ""),
                e.get("operation", "Update"),
                e.get("apiVersion", ""),
                e.get("subresource", ""),
                e.get("time", ""),
                fp.decode(e.get("fieldsV1") or {}),
            )
        )
    return out


def write_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    entries = [e for e in entries if e.fields]
    entries.sort(key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource))
    out = []
    for e in entries:
        item: dict[str, Any] = {
            "manager": e.manager,
            "operation": e.operation,
            "apiVersion": e.api_version,
            "time": e.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fp.encode(e.fields),
        }
        if e.subresource:
            item["subresource"] = e.subresource
        out.append(item)
    return out


def _find(entries: list[Entry], key: tuple[str, str, str]) -> Entry | None:
    return next((e for e in entries if e.key() == key), None)


def _without_meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


@dataclass
class ApplyResult:
    obj: dict[str, Any]
    entries: list[Entry]
    manager_key: tuple[str, str, str]
    previous_fields: set[fp.Path]


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    node: Node,
    *,
    manager: str,
    api_version: str,
    force: bool,
    status_subresource: bool,
    subresource: str,
    now: str,
) -> ApplyResult:
    """Merge ``config`` into ``live`` for ``manager``; raises the upstream conflict error."""
    entries = read_entries(live)
    applied = fp.strip(fp.to_field_set(config, node), status_subresource, subresource)
    base = copy.deepcopy(_without_meta(live))
    merged = apply_merge(base, config, node)
    key = (manager, "Apply", subresource)
    mine = _find(entries, key)
    previous = set(mine.fields) if mine else set()
    others = [e for e in entries if e.key() != key]

    if live is not None:
        conflicts: list[tuple[Entry, fp.Path]] = []
        parents = _parents(applied)
        for path in sorted(applied):
            if path in parents:
                continue  # a list element or map entry: its leaves are compared
            before = fp.get_at(base, path)
            after = fp.get_at(merged, path)
            if before == after:
                continue
            for e in others:
                if path in e.fields:
                    conflicts.append((e, path))
        if conflicts and not force:
            raise conflict_error(conflicts)
        for e, path in conflicts:
            e.fields.discard(path)

    owned_by_others: set[fp.Path] = set()
    for e in others:
        owned_by_others |= e.fields
    _remove_disowned(merged, previous - applied - owned_by_others, owned_by_others | applied)

    if mine is None:
        mine = Entry(manager, "Apply", api_version, subresource, now)
        entries.append(mine)
    mine.fields = applied
    mine.api_version = api_version
    return ApplyResult(merged, entries, key, previous)


def _remove_disowned(obj: dict[str, Any], doomed: set[fp.Path], kept: set[fp.Path]) -> None:
    """Remove the fields nobody applies any more, a whole list element or map entry at
    once when nothing under it is kept: removing a list-map element's fields one by one
    would drop its key fields first (``ports[port=81]`` left as ``{protocol: TCP}``, then
    a 422 on the missing port), where upstream removes the element."""
    kept_parents = _parents(kept)
    removed: set[fp.Path] = set()
    for path in sorted(doomed, key=lambda p: (len(p), p)):
        if any(path[:n] in removed for n in range(1, len(path))):
            continue  # gone with its element
        if path in kept_parents:
            continue  # something under it stays; its own disowned fields go one by one
        fp.remove_at(obj, path)
        removed.add(path)
        _drop_empty_parents(obj, path, kept)


def _drop_empty_parents(obj: dict[str, Any], path: fp.Path, owned: set[fp.Path]) -> None:
    for n in range(len(path) - 1, 1, -1):
        parent = path[:n]
        value = fp.get_at(obj, parent)
        if value in ({}, []) and parent not in owned and not any(p[:n] == parent for p in owned):
            fp.remove_at(obj, parent)
        else:
            return


def _parents(paths: set[fp.Path]) -> set[fp.Path]:
    return {p[:i] for p in paths for i in range(1, len(p))}


def conflict_error(conflicts: list[tuple[Entry, fp.Path]]) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {e.describe()}",
            "field": fp.format_path(p),
        }
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {e.describe()}: {fp.format_path(p)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for e, p in conflicts:
            by_manager.setdefault(e.describe(), []).append(fp.format_path(p))
        lines = []
        for who in sorted(by_manager):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {p}" for p in by_manager[who])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    node: Node,
    *,
    manager: str,
    api_version: str,
    status_subresource: bool,
    subresource: str,
    now: str,
) -> list[Entry]:
    """Ownership after an Update operation by ``manager``."""
    entries = read_entries(old)
    old_set = (
        fp.strip(fp.to_field_set(_without_meta(old), node), status_subresource, subresource)
        if old
        else set()
    )
    new_set = fp.strip(fp.to_field_set(_without_meta(new), node), status_subresource, subresource)
    parents = _parents(new_set)
    changed = {
        p
        for p in new_set
        if p not in old_set or (p not in parents and fp.get_at(old, p) != fp.get_at(new, p))
    }
    removed = old_set - new_set
    key = (manager, "Update", subresource)
    mine = _find(entries, key)
    for e in entries:
        e.fields -= removed
        if e is not mine:
            e.fields -= changed
    if changed:
        if mine is None:
            mine = Entry(manager, "Update", api_version, subresource, now)
            entries.append(mine)
        mine.fields |= changed
        mine.time = now
        mine.api_version = api_version
    return entries


def stamp(result: ApplyResult, object_changed: bool, now: str) -> list[Entry]:
    """Upstream updates an apply entry's time only when something changed."""
    mine = _find(result.entries, result.manager_key)
    if mine is not None and (
        object_changed or mine.fields != result.previous_fields or not mine.time
    ):
        mine.time = now
    return result.entries
