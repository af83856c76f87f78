"""The HTTP front: routing, verbs and the write pipeline.

API semantics follow https://kubernetes.io/docs/reference/using-api/api-concepts/.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.apiserver import discovery, reads, routing, schema, ssa, validation
from tests.apiserver.controllers import Controllers
from tests.apiserver.defaults import apply_defaults
from tests.apiserver.discovery import Resource
from tests.apiserver.faults import Faults
from tests.apiserver.kubeconfig import write_kubeconfig
from tests.apiserver.merge import json_merge_patch, json_patch, strategic_merge_patch
from tests.apiserver.messages import (
    Request,
    Response,
    Route,
    default_manager,
    now_iso,
    parse_body,
)
from tests.apiserver.requestlog import RequestLog, RequestRecord
from tests.apiserver.selectors import labels_match, parse_field_selector, parse_label_selector
from tests.apiserver.status import (
    STALE,
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    method_not_allowed,
    not_found,
    not_found_path,
    unsupported_media_type,
)
from tests.apiserver.store import Obj, Store

# Kinds whose registry returns the deleted object; the others answer a Status Success
# (genericregistry.Store.ReturnDeletedObject upstream).
RETURNS_DELETED = {"Pod", "ServiceAccount", "PersistentVolumeClaim", "Service", "Namespace",
                   "CustomResourceDefinition", "Node"}


class ApiServer:
    """The server state plus the HTTP listener. Use ``start_server()``."""

    def __init__(self, *, seed: int = 0) -> None:
        self.store = Store()
        self.faults = Faults(seed)
        self.requests = RequestLog()
        self.controllers = Controllers(self)
        self._tls = threading.local()
        self._resources: dict[tuple[str, str, str], Resource] = {}
        self._crd_resources: dict[str, list[Resource]] = {}
        for r in discovery.BUILTIN:
            self._resources[(r.group, r.version, r.plural)] = r
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.kubeconfig: Path | None = None
        self._bootstrap()

    # -- lifecycle --------------------------------------------------------------------

    def start(self, port: int = 0, kubeconfig: Path | None = None) -> ApiServer:
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = _Server(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        if kubeconfig is not None:
            self.kubeconfig = write_kubeconfig(kubeconfig, self.url)
        return self

    def stop(self) -> None:
        self.controllers.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def _bootstrap(self) -> None:
        """What a fresh kubeadm cluster has: the four namespaces, the kubernetes Service
        and a node."""
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                        manager="kube-apiserver")
        self.create({"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "kubernetes", "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [
                {"name": "https", "port": 443, "targetPort": 6443}]}},
            manager="kube-apiserver")
        self.create({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}}},
            manager="kubelet")

    # -- resources --------------------------------------------------------------------

    def resources(self) -> list[Resource]:
        return list(self._resources.values())

    def resource_for(self, api_version: str, kind: str) -> Resource | None:
        group, _, version = api_version.rpartition("/")
        for r in self._resources.values():
            if r.group == group and r.version == version and r.kind == kind:
                return r
        return None

    def _register_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        self._unregister_crd(name, keep_objects=True)
        new = discovery.resource_from_crd(crd)
        self._crd_resources[name] = new
        for r in new:
            self._resources[(r.group, r.version, r.plural)] = r

    def _unregister_crd(self, name: str, keep_objects: bool = False) -> None:
        for r in self._crd_resources.pop(name, []):
            self._resources.pop((r.group, r.version, r.plural), None)
            if not keep_objects:
                self.store.drop_resource(r.group, r.plural)

    # -- in-process helpers for tests --------------------------------------------------

    def create(self, obj: Obj, *, manager: str = "test") -> Obj:
        """Create an object through the normal pipeline (defaults, validation)."""
        res = self._resource_of(obj)
        ns = obj.get("metadata", {}).get("namespace", "") if res.namespaced else ""
        if res.namespaced and not ns:
            ns = "default"
        req = Request("POST", "", {"fieldManager": [manager]}, {}, b"")
        return self._create(req, Route(res, ns, "", "", "create"), copy.deepcopy(obj))

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        res = self.resource_for(api_version, kind)
        if res is None:
            return None
        found = self.store.get(res.group, res.plural, namespace if res.namespaced else "",
                               name)
        return copy.deepcopy(found) if found else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Obj]:
        return [copy.deepcopy(o) for _, _, o in self.store
                if (kind is None or o.get("kind") == kind)
                and (namespace is None or o["metadata"].get("namespace", "") == namespace)]

    def _resource_of(self, obj: Obj) -> Resource:
        res = self.resource_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if res is None:
            raise KeyError(f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")
        return res

    # -- HTTP entry point -------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        route = Route(None)
        try:
            route = routing.route(req, self._resources)
            for fault in self.faults.pick(req.method, route.verb, req.path):
                if fault.action == "latency":
                    time.sleep(fault.latency)
                elif fault.action == "drop":
                    resp = Response(0, None, drop=True)
                    self._log(req, route, resp)
                    return resp
                else:
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(fault.retry_after)
                    err = _fault_error(fault.status)
                    resp = Response(fault.status, err.to_status(), headers)
                    self._log(req, route, resp)
                    return resp
            self._tls.warnings = []
            resp = self._dispatch(req, route)
            warnings = getattr(self._tls, "warnings", [])
            if warnings:
                resp.headers["Warning"] = ", ".join(
                    "299 - " + json.dumps(w) for w in warnings)
        except ApiError as err:
            resp = Response(err.code, err.to_status(), dict(err.headers))
        except Exception as exc:
            resp = Response(500, ApiError(500, "InternalError",
                                          f"Internal error occurred: {exc!r}").to_status())
        self._log(req, route, resp)
        return resp

    def _log(self, req: Request, route: Route, resp: Response) -> None:
        self.requests.append(RequestRecord(
            req.method, req.path, req.query, resp.status, route.verb,
            route.resource.plural if route.resource else "", route.subresource,
            route.namespace, route.name, req.content_type))

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, req: Request, route: Route) -> Response:
        if route.resource is None:
            return reads.non_resource(req, self.resources())
        res = route.resource
        if route.subresource and not (
                (route.subresource == "status" and res.status)
                or route.subresource in res.extra_subresources):
            raise not_found_path()
        if route.subresource in ("scale", "finalize"):
            raise method_not_allowed()
        if route.verb == "get":
            return Response(200, reads.get_or_404(self.store, route))
        if route.verb == "list":
            return reads.list_objects(self.store, req, route)
        if route.verb == "watch":
            return reads.watch(req, route)
        if route.verb == "create":
            if route.name:
                raise method_not_allowed()
            obj = parse_body(req)
            return Response(201, self._create(req, route, obj))
        if route.verb == "update":
            return self._update(req, route, parse_body(req))
        if route.verb == "patch":
            return self._patch(req, route)
        if route.verb == "delete":
            return self._delete(req, route)
        if route.verb == "deletecollection":
            return self._delete_collection(req, route)
        raise method_not_allowed()

    # -- writes -----------------------------------------------------------------------

    def _check_body_identity(self, res: Resource, route: Route, obj: Obj,
                             name_required: bool) -> None:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was not a JSON object")
        api_version = obj.get("apiVersion")
        if api_version is not None and api_version != res.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match "
                              f"the expected API version ({res.api_version})")
        kind = obj.get("kind")
        if kind is not None and kind != res.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected "
                              f"kind ({res.kind})")
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        body_ns = meta.get("namespace")
        if res.namespaced:
            if body_ns and route.namespace and body_ns != route.namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = route.namespace or body_ns or ""
        else:
            meta.pop("namespace", None)
        if name_required and meta.get("name") and meta["name"] != route.name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the "
                              f"name on the URL ({route.name})")
        if name_required and not meta.get("name"):
            meta["name"] = route.name

    def _field_validation(self, req: Request, res: Resource, obj: Obj,
                          apply: bool = False) -> list[str]:
        """Unknown fields are dropped; Strict rejects them (400), Warn warns."""
        mode = req.param("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f'fieldValidation parameter unsupported: "{mode}", '
                              'supported values are "Strict", "Warn", "Ignore"')
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
                    f" .{unknown[0]}: field not declared in schema")
            raise bad_request("strict decoding error: " + ", ".join(
                f'unknown field "{u}"' for u in unknown))
        found = [f'unknown field "{u}"' for u in unknown]
        if hasattr(self._tls, "warnings"):
            self._tls.warnings.extend(found)
        return found

    def _namespace_must_exist(self, res: Resource, namespace: str, creating: bool) -> None:
        if not res.namespaced:
            return
        ns = self.store.get("", "namespaces", "", namespace)
        if ns is None:
            raise not_found("", "namespaces", namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f'{res.plural}{"." + res.group if res.group else ""}'
                           f' "{res.kind.lower()}" is forbidden: unable to create new content '
                           f"in namespace {namespace} because it is being terminated",
                           {"kind": res.plural})

    def _finish(self, res: Resource, obj: Obj, old: Obj | None, subresource: str) -> None:
        """Defaults and validation shared by every write (so dry-run == real)."""
        apply_defaults(obj, old, self.store.alloc, builtin=not res.crd)
        name = obj["metadata"].get("name", "")
        causes = validation.validate(obj)
        if old is not None:
            causes += validation.validate_update(old, obj)
        if causes:
            raise invalid(res.group, res.kind, name, causes)

    def _create(self, req: Request, route: Route, obj: Obj) -> Obj:
        res = route.resource
        assert res is not None
        self._check_body_identity(res, route, obj, name_required=False)
        self._field_validation(req, res, obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        for key in ("uid", "resourceVersion", "creationTimestamp", "generation",
                    "managedFields", "deletionTimestamp", "selfLink"):
            meta.pop(key, None)
        if res.status:
            obj.pop("status", None)
        with self.store.lock:
            self._namespace_must_exist(res, meta.get("namespace", ""), creating=True)
            if self.store.get(res.group, res.plural, meta.get("namespace", ""),
                              meta.get("name", "")) is not None:
                raise already_exists(res.group, res.plural, meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            if res.generation:
                meta["generation"] = 1
            self._finish(res, obj, None, "")
            manager = req.param("fieldManager") or default_manager(req)
            entries = ssa.update(None, obj, _root(res), manager=manager,
                                 api_version=res.api_version, status_subresource=res.status,
                                 subresource="", now=meta["creationTimestamp"])
            meta["managedFields"] = ssa.write_entries(entries)
            _order_metadata(obj)
            if req.dry_run:
                return obj
            self._store(res, obj, None)
        return obj

    def _store(self, res: Resource, obj: Obj, old: Obj | None) -> None:
        obj["metadata"]["resourceVersion"] = self.store.next_rv()
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                res.kind != "Namespace":
            self._remove(res, obj)
            return
        if res.kind == "Service":
            if old is not None:
                self.store.alloc.release(old)
            self.store.alloc.reserve(obj)
        self.store.put(res.group, res.plural, obj)
        if res.kind == "CustomResourceDefinition":
            self._register_crd(obj)
        self.controllers.observe(res, obj, old)

    def finish_namespace(self, name: str) -> None:
        """The namespace controller's work: delete the contents, then the namespace."""
        with self.store.lock:
            live = self.store.get("", "namespaces", "", name)
            if live is not None and live["metadata"].get("deletionTimestamp"):
                self._remove(self._resources[("", "v1", "namespaces")], live)

    def _remove(self, res: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        self.store.remove(res.group, res.plural, meta.get("namespace", ""), meta["name"])
        if res.kind == "Service":
            self.store.alloc.release(obj)
        if res.kind == "Namespace":
            for _, plural, child in self.store.drop_namespace(meta["name"]):
                if plural == "services":
                    self.store.alloc.release(child)
        if res.kind == "CustomResourceDefinition":
            self._unregister_crd(meta["name"])

    def _prepare_update(self, res: Resource, route: Route, live: Obj, new: Obj) -> Obj:
        """Carry over what a client cannot change: system metadata, and status (main
        resource) or everything but status (/status)."""
        meta = new["metadata"]
        live_meta = live["metadata"]
        for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "selfLink"):
            if key in live_meta:
                meta[key] = live_meta[key]
            else:
                meta.pop(key, None)
        if route.subresource == "status":
            status = new.get("status")
            new = {k: copy.deepcopy(v) for k, v in live.items() if k != "status"}
            new["metadata"] = {**copy.deepcopy(live_meta),
                               "managedFields": live_meta.get("managedFields")}
            if status is not None:
                new["status"] = status
        elif res.status:
            if "status" in live:
                new["status"] = copy.deepcopy(live["status"])
            else:
                new.pop("status", None)
        if res.kind == "Namespace":
            new.setdefault("spec", {})["finalizers"] = list(
                (live.get("spec") or {}).get("finalizers") or ["kubernetes"])
        return new

    def _bump_generation(self, res: Resource, old: Obj, new: Obj) -> None:
        if not res.generation:
            return
        generation = old["metadata"].get("generation", 1)
        if "spec" in old or "spec" in new:
            changed = old.get("spec") != new.get("spec")
        else:
            changed = any(old.get(k) != new.get(k) for k in set(old) | set(new)
                          if k not in ("metadata", "status", "apiVersion", "kind"))
        new["metadata"]["generation"] = generation + 1 if changed else generation

    def _commit_update(self, req: Request, route: Route, live: Obj, new: Obj,
                       entries: list[ssa.Entry] | None = None) -> Response:
        """Shared tail of PUT and non-apply PATCH."""
        res = route.resource
        assert res is not None
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != live["metadata"].get("resourceVersion"):
            raise conflict(res.group, res.plural, route.name, STALE)
        new = self._prepare_update(res, route, live, new)
        self._finish(res, new, live, route.subresource)
        self._bump_generation(res, live, new)
        manager = req.param("fieldManager") or default_manager(req)
        if entries is None:
            entries = ssa.update(live, new, _root(res), manager=manager,
                                 api_version=res.api_version, status_subresource=res.status,
                                 subresource=route.subresource, now=now_iso())
        new["metadata"]["managedFields"] = ssa.write_entries(entries)
        new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        _order_metadata(new)
        if new == live:
            return Response(200, live)  # a no-op write is not persisted (no new RV)
        if req.dry_run:
            return Response(200, new)
        self._store(res, new, live)
        return Response(200, new)

    def _update(self, req: Request, route: Route, obj: Obj) -> Response:
        res = route.resource
        assert res is not None
        self._check_body_identity(res, route, obj, name_required=True)
        self._field_validation(req, res, obj)
        with self.store.lock:
            live = self.store.get(res.group, res.plural, route.namespace, route.name)
            if live is None:
                self._namespace_must_exist(res, route.namespace, creating=False)
                raise not_found(res.group, res.plural, route.name)
            if not obj["metadata"].get("resourceVersion") and res.kind in ("Lease",):
                pass
            resp = self._commit_update(req, route, live, obj)
        return resp

    def _patch(self, req: Request, route: Route) -> Response:
        res = route.resource
        assert res is not None
        ctype = req.content_type
        if ctype == "application/apply-patch+yaml":
            return self._apply(req, route)
        if req.param("force"):
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: '
                           "Forbidden: may not be specified for non-apply patch",
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                               {"reason": "FieldValueForbidden", "message":
                                "Forbidden: may not be specified for non-apply patch",
                                "field": "force"}]})
        if ctype not in ("application/merge-patch+json", "application/json-patch+json",
                         "application/strategic-merge-patch+json"):
            raise unsupported_media_type(ctype)
        try:
            patch = json.loads(req.body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding patch: {exc}") from None
        with self.store.lock:
            live = self.store.get(res.group, res.plural, route.namespace, route.name)
            if live is None:
                self._namespace_must_exist(res, route.namespace, creating=False)
                raise not_found(res.group, res.plural, route.name)
            base = copy.deepcopy(live)
            if ctype == "application/merge-patch+json":
                new = json_merge_patch(base, patch)
            elif ctype == "application/json-patch+json":
                new = json_patch(base, patch)
            else:
                if res.crd:
                    raise unsupported_media_type(ctype)
                new = strategic_merge_patch(base, patch, _root(res))
            self._check_body_identity(res, route, new, name_required=True)
            self._field_validation(req, res, new)
            if new["metadata"].get("resourceVersion") == live["metadata"].get(
                    "resourceVersion"):
                new["metadata"].pop("resourceVersion", None)
            resp = self._commit_update(req, route, live, new)
        return resp

    def _apply(self, req: Request, route: Route) -> Response:
        res = route.resource
        assert res is not None
        manager = req.param("fieldManager")
        if not manager:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                           "fieldManager: Required value: is required for apply patch",
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                               {"reason": "FieldValueRequired",
                                "message": "Required value: is required for apply patch",
                                "field": "fieldManager"}]})
        config = parse_body(req)
        if not isinstance(config, dict):
            raise bad_request("apply patch must be an object")
        if config.get("apiVersion") is None or config.get("kind") is None:
            raise bad_request("invalid object type: /, Kind=")
        self._check_body_identity(res, route, config, name_required=True)
        self._field_validation(req, res, config, apply=True)
        force = req.param("force") in ("true", "1")
        now = now_iso()
        with self.store.lock:
            live = self.store.get(res.group, res.plural, route.namespace, route.name)
            self._namespace_must_exist(res, route.namespace, creating=live is None)
            rv = config["metadata"].get("resourceVersion")
            if rv and (live is None or rv != live["metadata"]["resourceVersion"]):
                raise conflict(res.group, res.plural, route.name, STALE)
            config["metadata"].pop("resourceVersion", None)
            config["metadata"].pop("managedFields", None)
            if route.subresource == "status":
                config = {"apiVersion": config["apiVersion"], "kind": config["kind"],
                          "metadata": config["metadata"], "status": config.get("status")}
            elif res.status:
                config.pop("status", None)
            result = ssa.apply(live, config, _root(res), manager=manager,
                               api_version=res.api_version, force=force,
                               status_subresource=res.status, subresource=route.subresource,
                               now=now)
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
                self._finish(res, new, None, route.subresource)
            else:
                new = self._prepare_update(res, route, live, new)
                self._finish(res, new, live, route.subresource)
                self._bump_generation(res, live, new)
            before = ssa._without_meta(live)
            after = ssa._without_meta(new)
            if live is not None:
                after["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            _order_metadata(after)
            _order_metadata(before)
            entries = ssa.stamp(result, before != after, now)
            meta = new["metadata"]
            meta["managedFields"] = ssa.write_entries(entries)
            if live is not None:
                meta["resourceVersion"] = live["metadata"]["resourceVersion"]
            _order_metadata(new)
            if live is not None and new == live:
                resp = Response(200, live)
            elif req.dry_run:
                resp = Response(201 if live is None else 200, new)
            else:
                self._store(res, new, live)
                resp = Response(201 if live is None else 200, new)
        return resp

    def _delete(self, req: Request, route: Route) -> Response:
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
            raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: '
                           f'propagationPolicy: Unsupported value: "{policy}": supported '
                           'values: "Foreground", "Background", "Orphan", "nil"', {})
        with self.store.lock:
            live = reads.get_or_404(self.store, route)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != live["metadata"].get("uid"):
                raise conflict(res.group, res.plural, route.name,
                               f"Precondition failed: UID in precondition: {pre['uid']}, "
                               f"UID in object meta: {live['metadata'].get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != \
                    live["metadata"].get("resourceVersion"):
                raise conflict(res.group, res.plural, route.name,
                               "Precondition failed: ResourceVersion in precondition: "
                               f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                               f"{live['metadata'].get('resourceVersion')}")
            obj = copy.deepcopy(live)
            meta = obj["metadata"]
            finalizers = list(meta.get("finalizers") or [])
            if policy == "Foreground" and res.kind != "Namespace":
                finalizers.append("foregroundDeletion")
            elif policy == "Orphan":
                finalizers.append("orphan")
            if res.kind == "Namespace":
                # The namespace turns Terminating; the namespace controller empties and
                # removes it shortly after (controllers.namespace_delay seconds).
                meta.setdefault("deletionTimestamp", now_iso())
                meta.setdefault("deletionGracePeriodSeconds", 0)
                obj.setdefault("status", {})["phase"] = "Terminating"
                if not dry_run:
                    if obj != live:
                        self._store(res, obj, live)
                    self.controllers.finalize_namespace(route.name)
                return Response(200, obj)
            if finalizers and policy in ("Foreground", "Orphan") and not dry_run:
                # The garbage collector finishes these at once here (no dependents kept).
                finalizers = [f for f in finalizers
                              if f not in ("foregroundDeletion", "orphan")]
            if finalizers:
                meta.setdefault("deletionTimestamp", now_iso())
                meta.setdefault("deletionGracePeriodSeconds", 0)
                meta["finalizers"] = finalizers
                if not dry_run and meta != live["metadata"]:
                    self._store(res, obj, live)
                return Response(200, obj)
            if not dry_run:
                self._remove(res, live)
        if res.kind in RETURNS_DELETED or res.crd:
            return Response(200, obj)
        return Response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Success", "details": {
                                  "name": route.name, **({"group": res.group} if res.group
                                                         else {}),
                                  "kind": res.plural, "uid": meta.get("uid")}})

    def _delete_collection(self, req: Request, route: Route) -> Response:
        res = route.resource
        assert res is not None
        if "deletecollection" not in res.verbs:
            raise method_not_allowed()
        requirements = parse_label_selector(req.param("labelSelector"))
        field_match = parse_field_selector(req.param("fieldSelector"), res.kind)
        deleted = []
        with self.store.lock:
            for obj in self.store.list(res.group, res.plural, route.namespace or None):
                if labels_match(requirements, obj) and field_match(obj):
                    deleted.append(obj)
                    if not req.dry_run:
                        self._remove(res, obj)
        body = {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted}
        return Response(200, body)

    # -- used by controllers ----------------------------------------------------------

    def write_status(self, res: Resource, namespace: str, name: str, status: Obj,
                     manager: str, generation: int | None = None) -> Obj | None:
        """Update an object's status as a controller does (Update on /status)."""
        with self.store.lock:
            live = self.store.get(res.group, res.plural, namespace, name)
            if live is None:
                return None
            if generation is not None and live["metadata"].get("generation") != generation:
                return None
            new = copy.deepcopy(live)
            new["status"] = status
            sub = "status" if res.status else ""
            entries = ssa.update(live, new, _root(res), manager=manager,
                                 api_version=res.api_version, status_subresource=res.status,
                                 subresource=sub, now=now_iso())
            new["metadata"]["managedFields"] = ssa.write_entries(entries)
            if new == live:
                return live
            self._store(res, new, live)
            return new

    def record_event(self, involved: Obj, reason: str, message: str, component: str,
                     event_type: str = "Warning") -> Obj:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        stamp = now_iso()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                         "namespace": namespace},
            "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                               "name": meta["name"], "namespace": namespace,
                               "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": event_type,
            "source": {"component": component}, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "reportingComponent": component, "reportingInstance": "",
        }
        return self.create(event, manager=component)


def _fault_error(code: int) -> ApiError:
    reasons = {429: ("TooManyRequests", "the server has received too many requests and has "
                     "asked us to try again later"),
               500: ("InternalError", "Internal error occurred: injected fault"),
               503: ("ServiceUnavailable", "the server is currently unable to handle the "
                     "request"),
               504: ("Timeout", "the server was unable to return a response in the time "
                     "allotted, but may still be processing the request")}
    reason, message = reasons.get(code, ("InternalError", f"injected fault {code}"))
    return ApiError(code, reason, message, {"retryAfterSeconds": 1} if code in (429, 503)
                    else {})


def _root(res: Resource) -> schema.Node:
    node = schema.kind_schema(res.group, res.version, res.kind)
    return node if node is not None else schema.ANY


_META_ORDER = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
               "labels", "annotations", "ownerReferences", "finalizers", "managedFields")


def _order_metadata(obj: Obj) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        ordered = {k: meta[k] for k in _META_ORDER if k in meta}
        ordered.update({k: v for k, v in meta.items() if k not in ordered})
        obj["metadata"] = ordered


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    app: ApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True),
                      headers, body)
        resp = self.app.handle(req)
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(resp.body, (dict, list)):
            payload = json.dumps(resp.body, separators=(",", ":")).encode()
        else:
            payload = str(resp.body).encode()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def start_server(*, port: int = 0, kubeconfig: Path | None = None, seed: int = 0) -> ApiServer:
    """Start a server on 127.0.0.1 (``port`` 0 picks a free one)."""
    return ApiServer(seed=seed).start(port, kubeconfig)


Hook = Callable[[Resource, Obj, "Obj | None"], None]
