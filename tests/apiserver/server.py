"""The test API server: state (store, resources, faults, controllers, request log), the
request entry point (``handle``: faults, dispatch to the verb handlers, logging) and the
in-process helpers tests use.

Where the rest lives: ``routing.py`` (URL -> Route), ``reads.py`` (GET, LIST, discovery),
``writes.py`` (create, update, patch, apply), ``deletes.py``, ``admission.py`` (what every
write shares), ``listener.py`` (HTTP). API semantics follow
https://kubernetes.io/docs/reference/using-api/api-concepts/.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.apiserver import deletes, discovery, evictions, reads, routing, ssa, writes
from tests.apiserver.admission import schema_root
from tests.apiserver.controllers import Controllers
from tests.apiserver.discovery import Resource
from tests.apiserver.faults import Faults, fault_error
from tests.apiserver.kubeconfig import write_kubeconfig
from tests.apiserver.listener import listen
from tests.apiserver.messages import (
    Request,
    Response,
    Route,
    now_iso,
    parse_body,
)
from tests.apiserver.requestlog import RequestLog, RequestRecord
from tests.apiserver.status import (
    ApiError,
    method_not_allowed,
    not_found_path,
)
from tests.apiserver.store import Obj, Store

# Request/Response/Route are re-exported: callers build requests for ``handle`` from here.
__all__ = ["ApiServer", "Request", "RequestRecord", "Response", "Route", "start_server"]


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
        self._httpd = listen(self.handle, port)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
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
            self.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                manager="kube-apiserver",
            )
        self.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                },
            },
            manager="kube-apiserver",
        )
        self.create(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
            },
            manager="kubelet",
        )

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
        body = copy.deepcopy(obj)
        # Lenient where HTTP is not: tests may re-create an object they read back.
        body.get("metadata", {}).pop("resourceVersion", None)
        return writes.create(self, req, Route(res, ns, "", "", "create"), body)

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        res = self.resource_for(api_version, kind)
        if res is None:
            return None
        found = self.store.get(res.group, res.plural, namespace if res.namespaced else "", name)
        return copy.deepcopy(found) if found else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(o)
            for _, _, o in self.store
            if (kind is None or o.get("kind") == kind)
            and (namespace is None or o["metadata"].get("namespace", "") == namespace)
        ]

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
                    err = fault_error(fault.status)
                    resp = Response(fault.status, err.to_status(), headers)
                    self._log(req, route, resp)
                    return resp
            self._tls.warnings = []
            resp = self._dispatch(req, route)
            warnings = getattr(self._tls, "warnings", [])
            if warnings:
                resp.headers["Warning"] = ", ".join("299 - " + json.dumps(w) for w in warnings)
        except ApiError as err:
            resp = Response(err.code, err.to_status(), dict(err.headers))
        except Exception as exc:
            resp = Response(
                500, ApiError(500, "InternalError", f"Internal error occurred: {exc!r}").to_status()
            )
        self._log(req, route, resp)
        return resp

    def _log(self, req: Request, route: Route, resp: Response) -> None:
        self.requests.append(
            RequestRecord(
                req.method,
                req.path,
                req.query,
                resp.status,
                route.verb,
                route.resource.plural if route.resource else "",
                route.subresource,
                route.namespace,
                route.name,
                req.content_type,
            )
        )

    def warn(self, messages: list[str]) -> None:
        """Send ``messages`` as ``Warning: 299`` headers of the current HTTP response
        (in-process helper calls have no response and drop them)."""
        if messages and hasattr(self._tls, "warnings"):
            self._tls.warnings.extend(messages)

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, req: Request, route: Route) -> Response:
        if route.resource is None:
            return reads.non_resource(req, self.resources())
        res = route.resource
        if route.subresource == "eviction" and res.kind == "Pod" and route.verb == "create":
            return evictions.evict(self, req, route)
        if route.subresource and not (
            (route.subresource == "status" and res.status)
            or route.subresource in res.extra_subresources
        ):
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
            return Response(201, writes.create(self, req, route, obj))
        if route.verb == "update":
            return writes.update(self, req, route, parse_body(req))
        if route.verb == "patch":
            return writes.patch(self, req, route)
        if route.verb == "delete":
            return deletes.delete(self, req, route)
        if route.verb == "deletecollection":
            return deletes.delete_collection(self, req, route)
        raise method_not_allowed()

    # -- storage (every write ends here) ----------------------------------------------

    def persist(self, res: Resource, obj: Obj, old: Obj | None) -> None:
        """Store a written object with a new resourceVersion (or remove it when it is
        deleted and has no finalizers left); keeps Service IPs, CRD kinds and the
        controllers in step."""
        obj["metadata"]["resourceVersion"] = self.store.next_rv()
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and res.kind != "Namespace":
            self.remove(res, obj)
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
                self.remove(self._resources[("", "v1", "namespaces")], live)

    def finish_deletion(self, res: Resource, namespace: str, name: str, uid: str) -> None:
        """The garbage collector's part of a Foreground/Orphan deletion: drop its
        finalizer; the object goes once no finalizers are left."""
        with self.store.lock:
            live = self.store.get(res.group, res.plural, namespace, name)
            if live is None or str(live["metadata"].get("uid")) != uid:
                return
            new = copy.deepcopy(live)
            meta = new["metadata"]
            meta["finalizers"] = [
                f for f in meta.get("finalizers") or [] if f not in ("foregroundDeletion", "orphan")
            ]
            if not meta["finalizers"]:
                del meta["finalizers"]
            if new != live:
                self.persist(res, new, live)

    def remove(self, res: Resource, obj: Obj) -> None:
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

    # -- used by controllers ----------------------------------------------------------

    def write_status(
        self,
        res: Resource,
        namespace: str,
        name: str,
        status: Obj,
        manager: str,
        generation: int | None = None,
    ) -> Obj | None:
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
            entries = ssa.update(
                live,
                new,
                schema_root(res),
                manager=manager,
                api_version=res.api_version,
                status_subresource=res.status,
                subresource=sub,
                now=now_iso(),
            )
            new["metadata"]["managedFields"] = ssa.write_entries(entries)
            if new == live:
                return live
            self.persist(res, new, live)
            return new

    def record_event(
        self, involved: Obj, reason: str, message: str, component: str, event_type: str = "Warning"
    ) -> Obj:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        stamp = now_iso()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        return self.create(event, manager=component)


def start_server(*, port: int = 0, kubeconfig: Path | None = None, seed: int = 0) -> ApiServer:
    """Start a server on 127.0.0.1 (``port`` 0 picks a free one)."""
    return ApiServer(seed=seed).start(port, kubeconfig)
