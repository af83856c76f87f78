"""A repository for the gateway tests: cluster.yaml at each step of the migration from
ingress-nginx to the Gateway API (docs/migrate-to-gateway.md), and the vendored upstream
CRD files (copied from ../shared/upstream/gateway into the test's own directory and pinned
in its kgit.lock, as `kgit vendor url` would)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from compiler.compile.lockfile import LockEntry, dump_lock
from tests.apiserver.messages import Request

# The upstream files and where they are published (../shared/upstream/SOURCES.md).
CRD_FILES = {
    "vendor/gateway-api-v1.5.1-standard-install.yaml": (
        "gateway-api-v1.5.1-standard-install.yaml",
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/"
        "standard-install.yaml",
    ),
    "vendor/nginx-gateway-fabric-v2.6.7-crds.yaml": (
        "nginx-gateway-fabric-v2.6.7-crds.yaml",
        "https://raw.githubusercontent.com/nginx/nginx-gateway-fabric/v2.6.7/deploy/crds.yaml",
    ),
}

HEAD = """\
apiVersion: kgit.dev/v1alpha1
kind: Cluster
metadata:
  name: lab
spec:
  kubernetes:
    version: "1.32.2"
  nodes:
    - {name: cp-1, address: 192.168.10.10, role: control-plane, schedulable: true}
    - {name: worker-1, address: 192.168.10.11, role: worker, labels: {ingress: "true"}}
"""
NGINX = """\
    nginx:
      kind: DaemonSet
      exposure: NodePort
      nodePorts: {http: 30080, https: 30443}
      nodeSelector: {ingress: "true"}
"""
GATEWAY = """\
    gateway:
      kind: DaemonSet
      exposure: NodePort
      nodePorts: {http: 31080, https: 31443}
      nodeSelector: {ingress: "true"}
"""
ADDONS = """\
  addons:
    - name: gateway-api
      source: vendor/gateway-api-v1.5.1-standard-install.yaml
    - name: nginx-gateway-fabric-crds
      source: vendor/nginx-gateway-fabric-v2.6.7-crds.yaml
"""
APPS = """\
  apps:
    - name: web
      namespace: web
      image: nginx:1.27.0
      replicas: 2
      ports: [80]
      ingress: {host: web.lab.example, path: /}
    - name: shop
      namespace: shop
      image: nginx:1.27.0
      ports: [8080]
      ingress: {host: shop.lab.example, path: /api, pathType: Exact, tlsSecret: shop-tls}
"""

# The three states of the migration: the seed's ingress-nginx, both (cut-over), gateway only.
STEPS = {
    "nginx": HEAD + "  ingress:\n" + NGINX + APPS,
    "both": HEAD + "  ingress:\n" + NGINX + GATEWAY + ADDONS + APPS,
    "gateway": HEAD + "  ingress:\n" + GATEWAY + ADDONS + APPS,
}


def write_repo(root: Path, upstream: Path, step: str) -> Path:
    """cluster.yaml at ``step``, the vendored CRD files and kgit.lock; returns the spec."""
    entries = {}
    for target, (name, url) in CRD_FILES.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upstream / "gateway" / name, path)
        entries[target] = LockEntry("url", "", url, hashlib.sha256(path.read_bytes()).hexdigest())
    (root / "kgit.lock").write_text(dump_lock(entries))
    spec = root / "cluster.yaml"
    spec.write_text(STEPS[step])
    return spec


def apply_in_process(apiserver: Any, body: dict[str, Any], manager: str = "other-tool") -> int:
    """Server-side apply of ``body`` through the server's handler (as another tool would);
    returns the HTTP status."""
    resource = apiserver.resource_for(body["apiVersion"], body["kind"])
    prefix = f"/apis/{body['apiVersion']}" if "/" in body["apiVersion"] else "/api/v1"
    namespace = body["metadata"].get("namespace")
    where = f"/namespaces/{namespace}" if resource.namespaced and namespace else ""
    response = apiserver.handle(
        Request(
            "PATCH",
            f"{prefix}{where}/{resource.plural}/{body['metadata']['name']}",
            {"fieldManager": [manager], "force": ["true"]},
            {"content-type": "application/apply-patch+yaml"},
            json.dumps(body).encode(),
        )
    )
    return int(response.status)
