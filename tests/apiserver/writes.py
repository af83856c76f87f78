"""Write handlers: create (POST), update (PUT), patch (merge, strategic, JSON patch) and
server-side apply.

Semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/ and
https://kubernetes.io/docs/reference/using-api/server-side-apply/. Every handler builds the
new object, runs the shared admission steps (``admission.py``) and stores it through
``ApiServer.persist`` unless ``dryRun=All``; a write that changes nothing is not stored
(the resourceVersion stays).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import TYPE_CHECKING

from tests.apiserver import ssa
from tests.apiserver.admission import (
    bump_generation,
    check_body_identity,
    default_and_validate,
    field_validation,
    namespace_must_exist,
    order_metadata,
    prepare_update,
    schema_root,
)
from tests.apiserver.merge import json_merge_patch, json_patch, strategic_merge_patch
from tests.apiserver.messages import (
    Request,
    Response,
    Route,
    default_manager,
    now_iso,
    parse_body,
)
from tests.apiserver.status import (
    STALE,
    ApiError,
    Cause,
    GoLiteral,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    unsupported_media_type,
)
from tests.apiserver.store import Obj

if TYPE_CHECKING:
    from tests.apiserver.server import ApiServer

# Kinds whose registry strategy says AllowUnconditionalUpdate() == false: a PUT must carry
# metadata.resourceVersion (pkg/registry/coordination/lease/strategy.go).
UNCONDITIONAL_UPDATE_FORBIDDEN = {"Lease"}
RV_ON_CREATE = "resourceVersion should not be set on objects to be created"


def create(server: ApiServer, req: Request, route: Route, obj: Obj) -> Obj:
    res = route.resource
    assert res is not None
    check_body_identity(res, route, obj, name_required=False)
    server.warn(field_validation(req, res, obj))
    meta = obj["metadata"]
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
    # etcd refuses a create that names a resourceVersion (a 500 upstream, after
    # validation); the dry-run storage never looks, so dry runs pass.
    version_set = bool(meta.get("resourceVersion")) and not req.dry_run
    for key in (
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
        "deletionTimestamp",
        "selfLink",
    ):
        meta.pop(key, None)
    if res.status:
        obj.pop("status", None)
    with server.store.lock:
        namespace_must_exist(server.store, res, meta.get("namespace", ""), creating=True)
        if (
            server.store.get(res.group, res.plural, meta.get("namespace", ""), meta.get("name", ""))
            is not None
        ):
            raise already_exists(res.group, res.plural, meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        if res.generation:
            meta["generation"] = 1
        default_and_validate(server.store, res, obj, None)
        if version_set:
            raise ApiError(
                500,
                "InternalError",
                f"Internal error occurred: {RV_ON_CREATE}",
                {"causes": [{"message": RV_ON_CREATE}]},
            )
        manager = req.param("fieldManager") or default_manager(req)
        entries = ssa.update(
            None,
            obj,
            schema_root(res),
            manager=manager,
            api_version=res.api_version,
            status_subresource=res.status,
            subresource="",
            now=meta["creationTimestamp"],
        )
        meta["managedFields"] = ssa.write_entries(entries)
        order_metadata(obj)
        if req.dry_run:
            return obj
        server.persist(res, obj, None)
    return obj


def commit_update(
    server: ApiServer,
    req: Request,
    route: Route,
    live: Obj,
    new: Obj,
    entries: list[ssa.Entry] | None = None,
) -> Response:
    """Shared tail of PUT and non-apply PATCH."""
    res = route.resource
    assert res is not None
    rv = new["metadata"].get("resourceVersion")
    if rv and rv != live["metadata"].get("resourceVersion"):
        raise conflict(res.group, res.plural, route.name, STALE)
    new = prepare_update(res, route, live, new)
    default_and_validate(server.store, res, new, live)
    bump_generation(res, live, new)
    manager = req.param("fieldManager") or default_manager(req)
    if entries is None:
        entries = ssa.update(
            live,
            new,
            schema_root(res),
            manager=manager,
            api_version=res.api_version,
            status_subresource=res.status,
            subresource=route.subresource,
            now=now_iso(),
        )
    new["metadata"]["managedFields"] = ssa.write_entries(entries)
    new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    order_metadata(new)
    if new == live:
        return Response(200, live)  # a no-op write is not persisted (no new RV)
    if req.dry_run:
        return Response(200, new)
    server.persist(res, new, live)
    return Response(200, new)


def update(server: ApiServer, req: Request, route: Route, obj: Obj) -> Response:
    res = route.resource
    assert res is not None
    check_body_identity(res, route, obj, name_required=True)
    server.warn(field_validation(req, res, obj))
    with server.store.lock:
        live = server.store.get(res.group, res.plural, route.namespace, route.name)
        if live is None:
            namespace_must_exist(server.store, res, route.namespace, creating=False)
            raise not_found(res.group, res.plural, route.name)
        if (
            not obj["metadata"].get("resourceVersion")
            and res.kind in UNCONDITIONAL_UPDATE_FORBIDDEN
        ):
            # genericregistry.Store.Update names the resource, not the kind, here.
            raise invalid(
                res.group,
                res.plural,
                route.name,
                [
                    Cause(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "must be specified for an update",
                        GoLiteral("0x0"),
                    )
                ],
            )
        resp = commit_update(server, req, route, live, obj)
    return resp


def patch(server: ApiServer, req: Request, route: Route) -> Response:
    res = route.resource
    assert res is not None
    ctype = req.content_type
    if ctype == "application/apply-patch+yaml":
        return apply(server, req, route)
    if req.param("force"):
        raise ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: force: '
            "Forbidden: may not be specified for non-apply patch",
            {
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueForbidden",
                        "message": "Forbidden: may not be specified for non-apply patch",
                        "field": "force",
                    }
                ],
            },
        )
    if ctype not in (
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
    ):
        raise unsupported_media_type(ctype)
    try:
        patch_doc = json.loads(req.body or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from None
    with server.store.lock:
        live = server.store.get(res.group, res.plural, route.namespace, route.name)
        if live is None:
            namespace_must_exist(server.store, res, route.namespace, creating=False)
            raise not_found(res.group, res.plural, route.name)
        base = copy.deepcopy(live)
        if ctype == "application/merge-patch+json":
            new = json_merge_patch(base, patch_doc)
        elif ctype == "application/json-patch+json":
            new = json_patch(base, patch_doc)
        else:
            if res.crd:
                raise unsupported_media_type(ctype)
            new = strategic_merge_patch(base, patch_doc, schema_root(res))
        check_body_identity(res, route, new, name_required=True)
        server.warn(field_validation(req, res, new))
        if new["metadata"].get("resourceVersion") == live["metadata"].get("resourceVersion"):
            new["metadata"].pop("resourceVersion", None)
        resp = commit_update(server, req, route, live, new)
    return resp


def apply(server: ApiServer, req: Request, route: Route) -> Response:
    res = route.resource
    assert res is not None
    manager = req.param("fieldManager")
    if not manager:
        raise ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: '
            "fieldManager: Required value: is required for apply patch",
            {
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                ],
            },
        )
    config = parse_body(req)
    if not isinstance(config, dict):
        raise bad_request("apply patch must be an object")
    if config.get("apiVersion") is None or config.get("kind") is None:
        raise bad_request("invalid object type: /, Kind=")
    check_body_identity(res, route, config, name_required=True)
    server.warn(field_validation(req, res, config, apply=True))
    force = req.param("force") in ("true", "1")
    now = now_iso()
    with server.store.lock:
        live = server.store.get(res.group, res.plural, route.namespace, route.name)
        namespace_must_exist(server.store, res, route.namespace, creating=live is None)
        rv = config["metadata"].get("resourceVersion")
        if rv and (live is None or rv != live["metadata"]["resourceVersion"]):
            raise conflict(res.group, res.plural, route.name, STALE)
        config["metadata"].pop("resourceVersion", None)
        config["metadata"].pop("managedFields", None)
        if route.subresource == "status":
            config = {
                "apiVersion": config["apiVersion"],
                "kind": config["kind"],
                "metadata": config["metadata"],
                "status": config.get("status"),
            }
        elif res.status:
            config.pop("status", None)
        result = ssa.apply(
            live,
            config,
            schema_root(res),
            manager=manager,
            api_version=res.api_version,
            force=force,
            status_subresource=res.status,
            subresource=route.subresource,
            now=now,
        )
        new = result.obj
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = new.setdefault("metadata", {})
        if res.namespaced:
            meta["namespace"] = route.namespace
        meta["name"] = route.name
        if live is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now
            if res.generation:
                meta["generation"] = 1
            default_and_validate(server.store, res, new, None)
        else:
            new = prepare_update(res, route, live, new)
            default_and_validate(server.store, res, new, live)
            bump_generation(res, live, new)
        before = ssa._without_meta(live)
        after = ssa._without_meta(new)
        if live is not None:
            after["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        order_metadata(after)
        order_metadata(before)
        entries = ssa.stamp(result, before != after, now)
        meta = new["metadata"]
        meta["managedFields"] = ssa.write_entries(entries)
        if live is not None:
            meta["resourceVersion"] = live["metadata"]["resourceVersion"]
        order_metadata(new)
        if live is not None and new == live:
            resp = Response(200, live)
        elif req.dry_run:
            resp = Response(201 if live is None else 200, new)
        else:
            server.persist(res, new, live)
            resp = Response(201 if live is None else 200, new)
    return resp
