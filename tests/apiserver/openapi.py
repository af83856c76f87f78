"""A minimal OpenAPI v3 discovery: ``/openapi/v3`` and one document per group-version.

kubectl 1.32 reads it to learn whether the server supports the ``fieldValidation``
query parameter on PATCH (resource.QueryParamVerifierV3 looks for a PATCH operation with
the kind's ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` query
parameter); without it kubectl falls back to client-side validation and fails with
"failed to download openapi". Schemas are not published (components are empty).
Reference: https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.apiserver.discovery import Resource

_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _gv_path(r: Resource) -> str:
    return f"apis/{r.group}/{r.version}" if r.group else "api/v1"


def root(resources: list[Resource]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in resources:
        gv = _gv_path(r)
        digest = hashlib.sha256(gv.encode()).hexdigest()[:16].upper()
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": dict(sorted(paths.items()))}


def document(gv: str, resources: list[Resource]) -> dict[str, Any] | None:
    matching = [r for r in resources if _gv_path(r) == gv]
    if not matching:
        return None
    paths: dict[str, Any] = {}
    for r in matching:
        prefix = f"/{gv}/namespaces/{{namespace}}" if r.namespaced else f"/{gv}"
        params = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _PARAMS]
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        paths[f"{prefix}/{r.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{r.kind}",
                "parameters": params,
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {},
    }
