"""What the server owns or fills in, and how kgit decides "unchanged" without asking it.

Two jobs:

1. ``for_display(obj)`` strips what the server owns (identity, bookkeeping, status), so a
   diff between the live object and a dry-run apply shows only what kgit would change.
   Both come from the same server, so server defaults appear on both sides and cancel.

2. ``drift(desired, live)`` tells, from one LIST, whether applying ``desired`` would
   change ``live``. The live object's managedFields entry for kgit (operation Apply) is
   the set of fields kgit owns. An object is unchanged when (a) kgit owns exactly the
   fields that ``desired`` sets (a field removed from desired is still owned, a field
   added is not) and (b) every value ``desired`` sets equals the live value, the live
   object may hold more (server defaults, other managers' fields). Only objects that
   drift get a dry-run apply.

Each server default that would otherwise break (b) has one function below, with its source.
Sources: Kubernetes API reference (https://kubernetes.io/docs/reference/kubernetes-api/),
the server-side apply docs (https://kubernetes.io/docs/reference/using-api/server-side-apply/),
and fluxcd/pkg ssa/normalize (what a production SSA differ found it had to normalise).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from compiler.core.plaindata import clone
from compiler.core.quantity import parse_quantity

# Fields the field manager never records (identity; managedFields docs: "the fields
# apiVersion, kind, metadata.name and metadata.namespace are not tracked").
_UNTRACKED_TOP = ("apiVersion", "kind")
_UNTRACKED_META = ("name", "namespace")

# metadata the server owns: set on write, never by a client (API reference, ObjectMeta:
# "Read-only. Populated by the system").
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)

# List-map keys the server fills in when an applied item leaves them out, so the
# managedFields key of a port is k:{"containerPort":80,"protocol":"TCP"} even when the
# manifest says only containerPort (API reference: ContainerPort.protocol and
# ServicePort.protocol "Defaults to TCP"; they are part of the list-map key).
LIST_KEY_DEFAULTS = {"protocol": "TCP"}


# -- display ------------------------------------------------------------------------------


def strip_server_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop ObjectMeta fields populated by the system (API reference: ObjectMeta)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for name in SERVER_METADATA:
            metadata.pop(name, None)
    return obj


def drop_status(obj: dict[str, Any]) -> dict[str, Any]:
    """status is written by controllers through the status subresource, never applied by
    kgit (API conventions, "Spec and Status"; fluxcd ssa drops it before diffing)."""
    obj.pop("status", None)
    return obj


def drop_empty_metadata_maps(obj: dict[str, Any]) -> dict[str, Any]:
    """labels: {} and annotations: {} are not stored (omitempty in ObjectMeta), so an
    empty map on one side and none on the other are the same object."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for name in ("labels", "annotations"):
            if metadata.get(name) == {}:
                del metadata[name]
    return obj


def _without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what the server owns; a new top level and metadata, sharing every
    other value with ``obj`` (the steps change nothing deeper): to read, not to change."""
    shown = dict(obj)
    if isinstance(shown.get("metadata"), dict):
        shown["metadata"] = dict(shown["metadata"])
    for step in (strip_server_metadata, drop_status, drop_empty_metadata_maps):
        shown = step(shown)
    return shown


def for_display(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of a server object without what the server owns: what a diff should show."""
    return None if obj is None else clone(_without_server_fields(obj))


def fingerprint(live: dict[str, Any]) -> str:
    """What a saved plan remembers of a live object, so that apply can tell whether it
    changed in a way that matters since the plan was made.

    Not the resourceVersion: controllers write the status of a busy Deployment every few
    seconds, and each write moves it, so a plan saved a minute ago would always be stale on
    a real cluster. A digest of the object as a diff shows it (``for_display``: no status,
    no server bookkeeping) changes with every spec, label, annotation or data change and
    with nothing else. Secrets keep their resourceVersion instead (they have no status, so
    it moves only when they change), because a digest of their data in a plan file would
    let anyone holding the file test guesses of the values.
    """
    metadata = live.get("metadata") or {}
    if live.get("kind") == "Secret" and live.get("apiVersion") == "v1":
        return f"resourceVersion:{metadata.get('resourceVersion', '')}"
    # Only serialised: no copy needed (a deep copy of each live object was most of the
    # time of planning thousands of unchanged objects).
    shown = json.dumps(_without_server_fields(live), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(shown.encode()).hexdigest()


# -- value equality under server canonicalisation ------------------------------------------


def same_quantity(desired: Any, live: Any, path: str) -> bool:
    """Quantities are stored in canonical form: cpu "0.5" reads back as "500m", memory
    "1024Mi" as "1Gi" (API reference, Quantity: "serialized ... in canonical form").
    Only fields under resources/limits/requests/capacity/overhead are quantities."""
    if not (isinstance(desired, str | int) and isinstance(live, str | int)):
        return False
    if not any(part in path for part in ("resources", "limits", "requests", "overhead")):
        return False
    left, right = parse_quantity(str(desired)), parse_quantity(str(live))
    return left is not None and left == right


def same_value(desired: Any, live: Any, path: str) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, int | float) and isinstance(live, int | float):
        # JSON has one number type: 1 and 1.0 are the same value on the wire.
        return not isinstance(desired, bool) and not isinstance(live, bool) and desired == live
    return same_quantity(desired, live, path)


def is_empty(value: Any) -> bool:
    """Empty maps and lists are omitted when stored (omitempty), so {} or [] in a
    manifest reads back as an absent field."""
    return value in ({}, [])


# -- drift ---------------------------------------------------------------------------------


def applied_fields(live: dict[str, Any], manager: str) -> dict[str, Any] | None:
    """The FieldsV1 tree ``manager`` owns through Apply (not a status subresource)."""
    for entry in (live.get("metadata") or {}).get("managedFields") or ():
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Apply"
            and not entry.get("subresource")
        ):
            fields = entry.get("fieldsV1")
            return fields if isinstance(fields, dict) else {}
    return None


def _key_matches(key: dict[str, Any], item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    return all(item.get(k, LIST_KEY_DEFAULTS.get(k)) == v for k, v in key.items())


def _element(fields: dict[str, Any], item: Any) -> tuple[str, Any] | None:
    """The k:/v: member of ``fields`` that stands for list item ``item``."""
    plain = "v:" + json.dumps(item, sort_keys=True, separators=(",", ":"))
    if plain in fields:
        return plain, None
    for name in fields:
        if name.startswith("k:"):
            key = json.loads(name[2:])
            if _key_matches(key, item):
                return name, key
    return None


def _drift_list(desired: list[Any], fields: dict[str, Any], live: Any, path: str) -> str | None:
    items = [d for d in desired if d is not None]
    elements = {n: s for n, s in fields.items() if n[:2] in ("k:", "v:", "i:")}
    if not elements:
        # An atomic list: kgit owns it whole, so it must match item by item.
        if not isinstance(live, list) or len(live) != len(items):
            return f"{path} differs"
        for index, (want, have) in enumerate(zip(items, live, strict=True)):
            if found := _drift_value(want, None, have, f"{path}[{index}]"):
                return found
        return None
    if len(elements) != len(items):
        return f"{path}: kgit owns {len(elements)} items, the manifest has {len(items)}"
    live_items = live if isinstance(live, list) else []
    for item in items:
        match = _element(elements, item)
        if match is None:
            return f"{path}: an item is not owned by kgit"
        name, key = match
        if key is None:
            if item not in live_items:
                return f"{path}: an item is missing"
            continue
        have = next((x for x in live_items if _key_matches(key, x)), None)
        label = ",".join(f"{k}={v}" for k, v in key.items())
        if have is None:
            return f"{path}[{label}] is missing"
        if found := _drift_value(item, elements[name], have, f"{path}[{label}]"):
            return found
    return None


def _drift_map(  # noqa: C901 (split pending, see docs/architecture.md)
    desired: dict[str, Any], fields: dict[str, Any] | None, live: Any, path: str
) -> str | None:
    live_map = live if isinstance(live, dict) else {}
    for key, want in desired.items():
        if want is None:
            continue
        sub = f"{path}.{key}" if path else key
        untracked = (path == "" and key in _UNTRACKED_TOP) or (
            path == "metadata" and key in _UNTRACKED_META
        )
        if untracked:
            if want != live_map.get(key):
                return f"{sub} differs"
            continue
        if is_empty(want) and fields is not None:
            # Applying {} or [] sets nothing a field set records; but what kgit owned
            # below it is being removed.
            owned = [n for n in fields.get(f"f:{key}") or {} if n != "."]
            if owned:
                return f"{sub}.{owned[0].partition(':')[2]} is no longer in the manifest"
            continue
        child = None
        if fields is not None:
            child = fields.get(f"f:{key}")
            if child is None:
                return f"{sub} is not owned by kgit"
        if key not in live_map:
            if is_empty(want):
                continue  # {} or [] the server does not store: no drift, but look on
            return f"{sub} is missing"
        if found := _drift_value(want, child, live_map[key], sub):
            return found
    if fields is not None:
        for name in fields:
            if name.startswith("f:") and desired.get(name[2:]) is None:
                sub = f"{path}.{name[2:]}" if path else name[2:]
                return f"{sub} is no longer in the manifest"
    elif any(desired.get(k) is None and not is_empty(v) for k, v in live_map.items()):
        # Owned as a whole (an atomic map, or an item of an atomic list): applying
        # replaces it, so a key only the live object has is a change too.
        return f"{path} differs"
    return None


def _drift_value(desired: Any, fields: dict[str, Any] | None, live: Any, path: str) -> str | None:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return f"{path} differs"
        # A leaf ({}) in the field set means kgit owns the map as a whole (atomic).
        return _drift_map(desired, fields if fields else None, live, path)
    if isinstance(desired, list):
        if is_empty(desired) and live in (None, []):
            return None
        return _drift_list(desired, fields or {}, live, path)
    if not same_value(desired, live, path):
        return f"{path} differs"
    return None


def drift(desired: dict[str, Any], live: dict[str, Any], manager: str) -> str | None:
    """Why applying ``desired`` as ``manager`` would change ``live``; None when it would not."""
    fields = applied_fields(live, manager)
    if fields is None:
        return f"not applied by {manager} yet"
    return _drift_map(desired, fields, live, "")
