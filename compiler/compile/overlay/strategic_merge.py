"""Strategic merge patches, with the semantics of ``kubectl kustomize`` (kustomize v5).

A patch is a partial object. Maps merge key by key; a ``null`` value deletes the key.
Lists replace the old list, except the lists that Kubernetes marks with patch strategy
``merge``: those merge element by element, matched by their merge keys (containers by
``name``, volumeMounts by ``mountPath``, hostAliases by ``ip``...; see ``patch_meta``),
and lists of scalars with strategy ``merge`` (finalizers) become the union.

Directives, as kustomize supports them:

- ``$patch: delete`` in a map deletes that map (the whole object at the top level), and in
  an element of a merging list deletes the element with the same keys;
- ``$patch: replace`` in a map replaces the map instead of merging it, and a list element
  that is only ``{$patch: replace}`` makes the list the rest of the patch's elements;
- ``$patch: merge`` is the default and changes nothing.

kustomize copies ``$retainKeys``, ``$setElementOrder/...`` and ``$deleteFromPrimitiveList/...``
into its output unchanged, which the API server then rejects; kgit refuses them instead.

Order of merged lists (matters for the output to equal kustomize's): elements named by the
patch come first, in the patch's order, then the remaining old elements in their order.
For lists keyed by more than one field (ports by port and protocol), kustomize puts only
the *new* elements first and keeps the old ones, merged, in their old order.

Everything here is pure: inputs are never modified.
"""

from __future__ import annotations

from typing import Any

from compiler.compile.overlay.patch_meta import FieldMeta, field_meta, root_type
from compiler.core.plaindata import clone

PathKey = tuple[str | int, ...]
PATCH = "$patch"
UNSUPPORTED_PREFIXES = ("$retainKeys", "$setElementOrder/", "$deleteFromPrimitiveList/")
# The API server defaults a port's protocol to TCP, so a patch that leaves it out means TCP.
KEY_DEFAULTS = {"protocol": "TCP"}


class PatchError(Exception):
    """A patch that cannot be applied; ``path`` is where in the patch document."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class _Deleted:
    """Marker: the patch deletes this value."""


DELETED = _Deleted()


def merge_object(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any] | None:
    """``base`` with ``patch`` applied; None when the patch deletes the object."""
    check_directives(patch)
    type_name = root_type(str(base.get("apiVersion", "")), str(base.get("kind", "")))
    merged = _merge_map(base, patch, type_name, ())
    return None if isinstance(merged, _Deleted) else merged


def check_directives(value: Any, path: PathKey = ()) -> None:
    """Raise PatchError at the first directive that kgit (like kustomize) does not support."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith(UNSUPPORTED_PREFIXES):
                raise PatchError(
                    (*path, key),
                    f"the directive {key!r} is not supported (kustomize leaves it in its "
                    "output, which the API server rejects); use $patch: replace or "
                    "$patch: delete, or a JsonPatch document",
                )
            if key == PATCH and item not in ("delete", "replace", "merge"):
                raise PatchError(
                    (*path, key),
                    f"unknown $patch directive {item!r}; expected delete, replace or merge",
                )
            check_directives(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_directives(item, (*path, index))


def _clean(value: Any) -> Any:
    """A copy of a patch value that is taken as it is (no base to merge into)."""
    if isinstance(value, dict):
        merged = _merge_map(None, value, None, ())
        return {} if isinstance(merged, _Deleted) else merged
    return clone(value)


def _merge_map(
    base: dict[str, Any] | None, patch: dict[str, Any], type_name: str | None, path: PathKey
) -> dict[str, Any] | _Deleted:
    directive = patch.get(PATCH)
    if directive == "delete":
        return DELETED
    if directive == "replace":
        base = None
    # A shallow copy: every key the patch touches gets a new value below, and the rest is
    # shared with ``base``, which the caller replaces (apply_overlay cloned the objects
    # once up front). Cloning at every level cost O(depth x size).
    result = dict(base) if base is not None else {}
    for key, value in patch.items():
        if key == PATCH:
            continue
        if value is None:
            result.pop(key, None)
            continue
        meta = field_meta(type_name, key)
        old = result.get(key)
        if isinstance(value, dict):
            merged = _merge_map(
                old if isinstance(old, dict) else None,
                value,
                meta.type if meta else None,
                (*path, key),
            )
            if isinstance(merged, _Deleted):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            if meta is not None and meta.merge:
                old_list = old if isinstance(old, list) else []
                result[key] = _merge_list(old_list, value, meta, (*path, key))
            else:
                result[key] = _replace_list(value, (*path, key))
        else:
            result[key] = value
    return result


def _replace_list(patch: list[Any], path: PathKey) -> list[Any]:
    for index, item in enumerate(patch):
        if isinstance(item, dict) and PATCH in item:
            raise PatchError(
                (*path, index, PATCH),
                "this list does not merge (Kubernetes replaces it as a whole), so its "
                "elements cannot carry $patch; write the complete list instead",
            )
    return [_clean(item) for item in patch]


def _is_replace_marker(item: Any) -> bool:
    return isinstance(item, dict) and item.get(PATCH) == "replace" and len(item) == 1


def _merge_list(base: list[Any], patch: list[Any], meta: FieldMeta, path: PathKey) -> list[Any]:
    if any(_is_replace_marker(item) for item in patch):
        return [_clean(item) for item in patch if not _is_replace_marker(item)]
    if not meta.keys:
        return _union(base, patch, path)
    return _merge_keyed(base, patch, meta, path)


def _union(base: list[Any], patch: list[Any], path: PathKey) -> list[Any]:
    result: list[Any] = []
    for index, item in enumerate(patch):
        if isinstance(item, (dict, list)):
            raise PatchError((*path, index), "expected a plain value in this list")
        if item not in result:
            result.append(item)
    return result + [item for item in base if item not in result]


def _identity(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(item.get(key, KEY_DEFAULTS.get(key, ""))) for key in keys)


def _merge_keyed(base: list[Any], patch: list[Any], meta: FieldMeta, path: PathKey) -> list[Any]:
    keys = meta.keys
    primary = keys[0]
    merged: dict[tuple[str, ...], Any] = {}
    base_ids: list[tuple[str, ...]] = []
    for item in base:
        ident = _identity(item, keys) if isinstance(item, dict) else (repr(item),)
        if ident not in merged:
            base_ids.append(ident)
        merged[ident] = item  # shared, as above: merged items are rebuilt by _merge_map
    patch_ids: list[tuple[str, ...]] = []
    deleted: set[tuple[str, ...]] = set()
    for index, item in enumerate(patch):
        where = (*path, index)
        if not isinstance(item, dict):
            raise PatchError(where, f"expected a mapping with the merge key {primary!r}")
        if primary not in item:
            raise PatchError(
                where, f"this list merges by {primary!r}, but the element has no {primary!r}"
            )
        ident = _identity(item, keys)
        if item.get(PATCH) == "replace":
            raise PatchError(
                (*where, PATCH),
                "$patch: replace on one list element is not supported (kustomize ignores "
                "it); delete the element with $patch: delete and add it in another patch",
            )
        old = merged.get(ident)
        value = _merge_map(old if isinstance(old, dict) else None, item, meta.type, where)
        if isinstance(value, _Deleted) or not value:
            merged.pop(ident, None)
            deleted.add(ident)
            continue
        deleted.discard(ident)
        merged[ident] = value
        if ident not in patch_ids:
            patch_ids.append(ident)
    secondary = keys[1:]
    multi_key = bool(secondary) and any(
        isinstance(item, dict) and any(k in item for k in secondary) for item in (*base, *patch)
    )
    if multi_key:
        order = [i for i in patch_ids if i not in base_ids] + base_ids
    else:
        order = patch_ids + [i for i in base_ids if i not in patch_ids]
    return [merged[i] for i in order if i in merged and i not in deleted]
