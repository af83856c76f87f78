"""Read handlers: GET, LIST (selectors and pagination), WATCH and the non-resource
endpoints (discovery, OpenAPI, health).

Semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/
(#retrieving-large-results-sets-in-chunks for ``limit``/``continue``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.apiserver import discovery, openapi
from tests.apiserver.discovery import Resource
from tests.apiserver.messages import JSON, Request, Response, Route
from tests.apiserver.selectors import parse_field_selector, parse_label_selector
from tests.apiserver.status import bad_request, gone, method_not_allowed, not_found, not_found_path
from tests.apiserver.store import Obj, Store

EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You "
    "can start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def get_or_404(store: Store, route: Route) -> Obj:
    res = route.resource
    assert res is not None
    obj = store.get(res.group, res.plural, route.namespace, route.name)
    if obj is None:
        raise not_found(res.group, res.plural, route.name)
    return obj


def list_objects(store: Store, req: Request, route: Route) -> Response:
    res = route.resource
    assert res is not None
    requirements = parse_label_selector(req.param("labelSelector"))
    field_match = parse_field_selector(req.param("fieldSelector"), res.kind)
    limit_text = req.param("limit")
    limit = int(limit_text) if limit_text.isdigit() else 0
    token = req.param("continue")
    list_rv = str(store.resource_version)
    start_after: tuple[str, str] | None = None
    if token:
        list_rv, start_after = decode_continue(store, token)
    items = store.select(
        res.group, res.plural, route.namespace or None, requirements, after=start_after
    )
    selected = [o for o in items if field_match(o)]
    meta: dict[str, Any] = {"resourceVersion": list_rv}
    if limit and len(selected) > limit:
        page = selected[:limit]
        last = page[-1]["metadata"]
        meta["continue"] = encode_continue(list_rv, last.get("namespace", ""), last["name"])
        if not requirements and not req.param("fieldSelector"):
            meta["remainingItemCount"] = len(selected) - limit
        selected = page
    body = {
        "kind": f"{res.kind}List",
        "apiVersion": res.api_version,
        "metadata": meta,
        "items": selected if res.crd else [strip_type(o) for o in selected],
    }
    # The envelope is encoded as usual; the items come from the store's per-object cache.
    envelope = json.dumps({**body, "items": []}, separators=(",", ":")).encode()
    items = b",".join(store.encoded_item(res.group, res.plural, o, typed=res.crd) for o in selected)
    assert envelope.endswith(b'"items":[]}')
    return Response(200, body, encoded=envelope[:-3] + b"[" + items + b"]}")


def strip_type(obj: Obj) -> Obj:
    """Built-in list items carry no apiVersion/kind on the wire (typed lists)."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def encode_continue(rv: str, namespace: str, name: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "ns": namespace, "start": name})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(store: Store, token: str) -> tuple[str, tuple[str, str]]:
    """(list resourceVersion, (namespace, name) to start after)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"==").decode())
        rv, ns, name = str(data["rv"]), str(data["ns"]), str(data["start"])
        int(rv)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from None
    if int(rv) < store.compacted_rv:
        raise gone(EXPIRED_CONTINUE)
    return rv, (ns, name)


def watch(req: Request, route: Route) -> Response:
    """Watches are not streamed: the server ends the watch at once (clients re-list),
    as a server does when ``timeoutSeconds`` elapses."""
    return Response(200, "", content_type=JSON)


def non_resource(req: Request, resources: list[Resource]) -> Response:
    """/version, health, discovery (legacy and aggregated v2) and /openapi/v3."""
    if req.method != "GET":
        raise method_not_allowed()
    path = req.path.rstrip("/") or "/"
    accept = req.headers.get("accept", "")
    if path == "/version":
        return Response(200, discovery.version_info())
    if path in ("/healthz", "/livez", "/readyz"):
        return Response(200, "ok", content_type="text/plain")
    if (
        path in ("/api", "/apis")
        and "as=APIGroupDiscoveryList" in accept
        and "v=v2;" in accept + ";"
    ):
        body = discovery.aggregated(resources, core=path == "/api")
        return Response(200, body, content_type=discovery.AGGREGATED_CONTENT_TYPE)
    if path == "/api":
        return Response(200, discovery.api_versions())
    if path == "/apis":
        return Response(200, discovery.api_group_list(resources))
    parts = path.strip("/").split("/")
    if parts == ["api", "v1"]:
        return Response(200, discovery.resource_list("v1", [r for r in resources if r.group == ""]))
    if parts[0] == "apis" and len(parts) == 2:
        versions = discovery.group_versions(resources).get(parts[1])
        if versions:
            return Response(200, discovery.api_group(parts[1], versions))
    if parts[0] == "apis" and len(parts) == 3:
        matching = [r for r in resources if r.group == parts[1] and r.version == parts[2]]
        if matching:
            return Response(200, discovery.resource_list(f"{parts[1]}/{parts[2]}", matching))
    if path == "/openapi/v3":
        return Response(200, openapi.root(resources))
    if path.startswith("/openapi/v3/"):
        doc = openapi.document(path[len("/openapi/v3/") :], resources)
        if doc is not None:
            return Response(200, doc)
    # /openapi/v2 is not served (kubectl only needs it without v3).
    raise not_found_path()
