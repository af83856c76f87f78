"""Helpers for plan tests: a minimal stand-in for `kgit apply` (objects and out/ come from
tests/reconcile_objects.py).

``apply_out`` does what apply does to make live state (server-side apply as field manager
kgit with the ApplySet label, then the parent), so that plan tests do not depend on the
apply engineer's code; it uses the official client's server-side apply directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compiler.reconcile.applyset import parent_manifest, with_member_labels
from compiler.reconcile.client import ClusterClient, connect
from compiler.reconcile.desired import read_desired, with_secret_values
from tests.reconcile_objects import (  # noqa: F401 - the plan tests' imports
    CLUSTER,
    configmap,
    deployment,
    from_env_secret,
    namespace,
    service,
    set_id,
    write_out,
)


def apply_in_process(apiserver: Any, out: Path, environ: dict[str, str] | None = None) -> None:
    """The same as ``apply_out`` through the server's request handler, without HTTP:
    for setting up large live states quickly (the requests are logged; clear the log)."""
    from tests.apiserver.server import Request

    desired = read_desired(out)
    ident = set_id(desired.cluster_name)
    bodies = [
        with_secret_values(with_member_labels(b, ident), environ or {}) for b in desired.objects
    ]
    bodies.sort(key=lambda body: body["kind"] != "Namespace")
    for body in [*bodies, parent_manifest(desired.cluster_name, desired.refs())]:
        resource = apiserver.resource_for(body["apiVersion"], body["kind"])
        prefix = f"/apis/{body['apiVersion']}" if "/" in body["apiVersion"] else "/api/v1"
        ns = body["metadata"].get("namespace")
        where = f"/namespaces/{ns}" if resource.namespaced and ns else ""
        response = apiserver.handle(
            Request(
                "PATCH",
                f"{prefix}{where}/{resource.plural}/{body['metadata']['name']}",
                {"fieldManager": ["kgit"], "force": ["true"]},
                {"content-type": "application/apply-patch+yaml"},
                json.dumps(body).encode(),
            )
        )
        assert response.status in (200, 201), response.body


def apply_out(kubeconfig: Path, out: Path, environ: dict[str, str] | None = None) -> None:
    """Server-side apply every object of out/ as kgit would, then write the parent."""
    client: ClusterClient = connect(str(kubeconfig))
    desired = read_desired(out)
    ident = set_id(desired.cluster_name)
    # Namespaces first, as apply's first stage does.
    ordered = sorted(desired.objects, key=lambda body: body["kind"] != "Namespace")
    for body in ordered:
        client.apply(with_secret_values(with_member_labels(body, ident), environ or {}))
    client.apply(parent_manifest(desired.cluster_name, desired.refs()))
    client.close()
