"""The checks and system-field handling every write shares, so that create, update,
patch, apply and their dry runs store exactly the same object.

Order of a write upstream (https://kubernetes.io/docs/reference/using-api/api-concepts/
and the apiserver's generic registry): decode and check identity (apiVersion, kind,
namespace, name), field validation, defaulting, validation, then storage.
"""

from __future__ import annotations

import copy

from tests.apiserver import schema, validation
from tests.apiserver.defaults import apply_defaults
from tests.apiserver.discovery import Resource
from tests.apiserver.messages import Request, Route
from tests.apiserver.status import ApiError, bad_request, invalid, not_found
from tests.apiserver.store import Obj, Store
from tests.apiserver.webhooks import check_webhooks

_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def check_body_identity(res: Resource, route: Route, obj: Obj, name_required: bool) -> None:
    if not isinstance(obj, dict):
        raise bad_request("the body of the request was not a JSON object")
    api_version = obj.get("apiVersion")
    if api_version is not None and api_version != res.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match "
            f"the expected API version ({res.api_version})"
        )
    kind = obj.get("kind")
    if kind is not None and kind != res.kind:
        raise bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
        )
    obj["apiVersion"], obj["kind"] = res.api_version, res.kind
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    body_ns = meta.get("namespace")
    if res.namespaced:
        if body_ns and route.namespace and body_ns != route.namespace:
            raise bad_request(
                "the namespace of the provided object does not match the "
                "namespace sent on the request"
            )
        meta["namespace"] = route.namespace or body_ns or ""
    else:
        meta.pop("namespace", None)
    if name_required and meta.get("name") and meta["name"] != route.name:
        raise bad_request(
            f"the name of the object ({meta['name']}) does not match the "
            f"name on the URL ({route.name})"
        )
    if name_required and not meta.get("name"):
        meta["name"] = route.name


def field_validation(req: Request, res: Resource, obj: Obj, apply: bool = False) -> list[str]:
    """Unknown fields are dropped; Strict rejects them (400), Warn returns the
    warnings to send (Ignore: none)."""
    mode = req.param("fieldValidation", "Warn")
    if mode not in ("Strict", "Warn", "Ignore"):
        raise bad_request(
            f'fieldValidation parameter unsupported: "{mode}", '
            'supported values are "Strict", "Warn", "Ignore"'
        )
    node = schema.kind_schema(res.group, res.version, res.kind)
    if node is None:
        return []
    unknown = validation.unknown_fields(obj, node)
    if not unknown or mode == "Ignore":
        return []
    if mode == "Strict":
        if apply:
            raise bad_request(
                f"failed to create typed patch object ({res.api_version}, Kind={res.kind}):"
                f" .{unknown[0]}: field not declared in schema"
            )
        raise bad_request(
            "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown)
        )
    return [f'unknown field "{u}"' for u in unknown]


def namespace_must_exist(store: Store, res: Resource, namespace: str, creating: bool) -> None:
    if not res.namespaced:
        return
    ns = store.get("", "namespaces", "", namespace)
    if ns is None:
        raise not_found("", "namespaces", namespace)
    if creating and ns["metadata"].get("deletionTimestamp"):
        raise ApiError(
            403,
            "Forbidden",
            f"{res.plural}{'.' + res.group if res.group else ''}"
            f' "{res.kind.lower()}" is forbidden: unable to create new content '
            f"in namespace {namespace} because it is being terminated",
            {"kind": res.plural},
        )


def default_and_validate(store: Store, res: Resource, obj: Obj, old: Obj | None) -> None:
    """Defaults and validation shared by every write (so dry-run == real)."""
    apply_defaults(obj, old, store.alloc, builtin=not res.crd)
    name = obj["metadata"].get("name", "")
    causes = validation.validate(obj)
    if old is not None:
        causes += validation.validate_update(old, obj)
    if causes:
        raise invalid(res.group, res.kind, name, causes)
    # Admission webhooks run after the built-in validation; a write they match fails while
    # their Service has no ready pod (tests/apiserver/webhooks.py).
    check_webhooks(store, res, "CREATE" if old is None else "UPDATE")


def prepare_update(res: Resource, route: Route, live: Obj, new: Obj) -> Obj:
    """Carry over what a client cannot change: system metadata, and status (main
    resource) or everything but status (/status)."""
    meta = new["metadata"]
    live_meta = live["metadata"]
    for key in (
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ):
        if key in live_meta:
            meta[key] = live_meta[key]
        else:
            meta.pop(key, None)
    if route.subresource == "status":
        status = new.get("status")
        new = {k: copy.deepcopy(v) for k, v in live.items() if k != "status"}
        new["metadata"] = {
            **copy.deepcopy(live_meta),
            "managedFields": live_meta.get("managedFields"),
        }
        if status is not None:
            new["status"] = status
    elif res.status:
        if "status" in live:
            new["status"] = copy.deepcopy(live["status"])
        else:
            new.pop("status", None)
    if res.kind == "Namespace":
        new.setdefault("spec", {})["finalizers"] = list(
            (live.get("spec") or {}).get("finalizers") or ["kubernetes"]
        )
    return new


def bump_generation(res: Resource, old: Obj, new: Obj) -> None:
    if not res.generation:
        return
    generation = old["metadata"].get("generation", 1)
    if "spec" in old or "spec" in new:
        changed = old.get("spec") != new.get("spec")
    else:
        changed = any(
            old.get(k) != new.get(k)
            for k in set(old) | set(new)
            if k not in ("metadata", "status", "apiVersion", "kind")
        )
    new["metadata"]["generation"] = generation + 1 if changed else generation


def schema_root(res: Resource) -> schema.Node:
    node = schema.kind_schema(res.group, res.version, res.kind)
    return node if node is not None else schema.ANY


def order_metadata(obj: Obj) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        ordered = {k: meta[k] for k in _META_ORDER if k in meta}
        ordered.update({k: v for k, v in meta.items() if k not in ordered})
        obj["metadata"] = ordered
