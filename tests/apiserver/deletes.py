"""Delete handlers: DELETE of one object (preconditions, propagationPolicy, finalizers,
Namespace termination) and DELETE of a collection.

Semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/ and
https://kubernetes.io/docs/concepts/architecture/garbage-collection/.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from tests.apiserver.messages import Request, Response, Route, now_iso
from tests.apiserver.reads import get_or_404
from tests.apiserver.selectors import labels_match, parse_field_selector, parse_label_selector
from tests.apiserver.status import ApiError, bad_request, conflict, method_not_allowed

if TYPE_CHECKING:
    from tests.apiserver.server import ApiServer

# Kinds whose registry returns the deleted object; the others answer a Status Success
# (genericregistry.Store.ReturnDeletedObject upstream).
RETURNS_DELETED = {
    "Pod",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "Service",
    "Namespace",
    "CustomResourceDefinition",
    "Node",
}
# NamespaceLifecycle admission refuses to delete these (immortalNamespaces in
# k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go).
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def delete(server: ApiServer, req: Request, route: Route) -> Response:
    res = route.resource
    assert res is not None
    options: dict[str, Any] = {}
    if req.body.strip():
        try:
            options = json.loads(req.body)
        except ValueError as exc:
            raise bad_request(f"error decoding DeleteOptions: {exc}") from None
    dry_run = req.dry_run or "All" in (options.get("dryRun") or [])
    policy = options.get("propagationPolicy") or req.param("propagationPolicy")
    if policy and policy not in ("Orphan", "Background", "Foreground"):
        raise ApiError(
            422,
            "Invalid",
            f'DeleteOptions.meta.k8s.io "" is invalid: '
            f'propagationPolicy: Unsupported value: "{policy}": supported '
            'values: "Foreground", "Background", "Orphan", "nil"',
            {},
        )
    with server.store.lock:
        live = get_or_404(server.store, route)
        if res.kind == "Namespace" and route.name in IMMORTAL_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{route.name}" is forbidden: this namespace may not be deleted',
                {"name": route.name, "kind": "namespaces"},
            )
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != live["metadata"].get("uid"):
            raise conflict(
                res.group,
                res.plural,
                route.name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {live['metadata'].get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != live["metadata"].get(
            "resourceVersion"
        ):
            raise conflict(
                res.group,
                res.plural,
                route.name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{live['metadata'].get('resourceVersion')}",
            )
        obj = copy.deepcopy(live)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        gc_finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy)
        if gc_finalizer == "foregroundDeletion" and res.kind == "Namespace":
            gc_finalizer = None
        if gc_finalizer and gc_finalizer not in finalizers:
            finalizers.append(gc_finalizer)
        if res.kind == "Namespace":
            # The namespace turns Terminating; the namespace controller empties and
            # removes it shortly after (controllers.namespace_delay seconds).
            meta.setdefault("deletionTimestamp", now_iso())
            meta.setdefault("deletionGracePeriodSeconds", 0)
            obj.setdefault("status", {})["phase"] = "Terminating"
            if not dry_run:
                if obj != live:
                    server.persist(res, obj, live)
                server.controllers.finalize_namespace(route.name)
            return Response(200, obj)
        if finalizers:
            # Not deleted yet: the answer is the object, now carrying deletionTimestamp
            # and its finalizers (with Foreground/Orphan, the garbage collector's
            # foregroundDeletion/orphan), not a Status. The simulated garbage collector
            # then drops its finalizer (after controllers.gc_delay seconds; there are
            # no dependents to wait for), which deletes the object if none are left.
            meta.setdefault("deletionTimestamp", now_iso())
            meta.setdefault("deletionGracePeriodSeconds", 0)
            meta["finalizers"] = finalizers
            if not dry_run:
                if meta != live["metadata"]:
                    server.persist(res, obj, live)
                if gc_finalizer:
                    server.controllers.collect_garbage(
                        res, route.namespace, route.name, str(meta.get("uid"))
                    )
            return Response(200, obj)
        if not dry_run:
            server.remove(res, live)
    if res.kind in RETURNS_DELETED or res.crd:
        return Response(200, obj)
    return Response(
        200,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": route.name,
                **({"group": res.group} if res.group else {}),
                "kind": res.plural,
                "uid": meta.get("uid"),
            },
        },
    )


def delete_collection(server: ApiServer, req: Request, route: Route) -> Response:
    res = route.resource
    assert res is not None
    if "deletecollection" not in res.verbs:
        raise method_not_allowed()
    requirements = parse_label_selector(req.param("labelSelector"))
    field_match = parse_field_selector(req.param("fieldSelector"), res.kind)
    deleted = []
    with server.store.lock:
        for obj in server.store.list(res.group, res.plural, route.namespace or None):
            if labels_match(requirements, obj) and field_match(obj):
                deleted.append(obj)
                if not req.dry_run:
                    server.remove(res, obj)
    body = {
        "kind": f"{res.kind}List",
        "apiVersion": res.api_version,
        "metadata": {"resourceVersion": str(server.store.resource_version)},
        "items": deleted,
    }
    return Response(200, body)
