"""URL -> Route: which resource, namespace, name, subresource and API verb a request is
for.

Paths follow https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris:
``/api/v1/...`` (core) and ``/apis/GROUP/VERSION/...``, optionally
``namespaces/NS/`` then ``PLURAL[/NAME[/SUBRESOURCE]]``.
"""

from __future__ import annotations

from collections.abc import Mapping

from tests.apiserver.discovery import Resource
from tests.apiserver.messages import Request, Route
from tests.apiserver.status import not_found_path

ResourceKey = tuple[str, str, str]  # (group, version, plural)


def route(req: Request, resources: Mapping[ResourceKey, Resource]) -> Route:
    """Raises 404 for a resource URL naming an unknown resource."""
    parts = [p for p in req.path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Route(None, verb=req.method.lower())
    if not rest:
        return Route(None, verb=req.method.lower())
    namespace = ""
    # /api/v1/namespaces/NAME/status and .../finalize address a Namespace, not a scope.
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    res = resources.get((group, version, plural))
    if res is None or len(rest) > 3:
        raise not_found_path()
    if namespace and not res.namespaced:
        raise not_found_path()
    verb = {
        "GET": "get" if name else ("watch" if req.param("watch") in ("true", "1") else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(req.method, req.method.lower())
    return Route(res, namespace, name, sub, verb)
