"""Every object kgit emits for apps, external services, namespaces and secrets validates
against the Kubernetes OpenAPI schema of the cluster's version, in strict mode (no field the
API server would drop or reject)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.core.sources import DirectoryTree, MemoryTree

kubernetes_validate = pytest.importorskip("kubernetes_validate")

APP_FILES = (
    "manifests/apps/",
    "manifests/external/",
    "manifests/secrets/",
    "manifests/namespaces.yaml",
)


def _validate(obj: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} is invalid for {version}: {exc}")


def _app_objects(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [
        doc
        for path, data in files.items()
        if path.startswith(APP_FILES)
        for doc in yaml.safe_load_all(data)
        if doc
    ]


def test_bundled_cluster_objects_validate_strictly():
    root = Path(__file__).resolve().parent.parent
    compiled = compile_tree(DirectoryTree(root), CompileOptions())
    objects = _app_objects(compiled.files)
    kinds = {o["kind"] for o in objects}
    assert {
        "Namespace",
        "Deployment",
        "Service",
        "Ingress",
        "EndpointSlice",
        "Endpoints",
        "PodDisruptionBudget",
    } <= kinds
    version = str(compiled.cluster.kubernetes.version)
    for obj in objects:
        _validate(obj, version)


EVERYTHING = """\
apiVersion: kgit.dev/v1alpha1
kind: Cluster
metadata: {name: lab}
spec:
  kubernetes: {version: "VERSION"}
  nodes:
    - {name: cp, address: 192.168.10.10, role: control-plane}
  apps:
    - name: api
      namespace: shop
      image: registry.example/shop/api:2.3.1
      replicas: 2
      serviceType: NodePort
      ports:
        - {containerPort: 8080, name: http, servicePort: 80}
        - {containerPort: 9090, name: grpc}
        - {containerPort: 5353, protocol: UDP}
      env:
        - {name: MODE, value: prod}
        - {name: DEBUG, value: false}
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: api-token, key: token}}
      resources:
        requests: {cpu: 100m, memory: 64Mi, ephemeral-storage: 1Gi}
        limits: {memory: 128Mi}
      initContainers:
        - name: wait
          image: busybox:1.36
          command: [sh, -c]
          args: [until nslookup db; do sleep 1; done]
          env: [{name: A, value: "1"}]
      hostAliases:
        - {ip: 10.1.2.3, hostnames: [db.internal]}
        - {ip: "fd00::3", hostnames: [db6.internal]}
      ingress: {host: api.shop.example, path: /v1, pathType: Prefix, tlsSecret: api-tls}
  externalServices:
    - name: pg
      namespace: shop
      ports: [{name: pg, port: 5432, targetPort: 15432}, {port: 53, protocol: UDP}]
      addresses: [10.0.0.5, "fd00::5"]
    - name: mail
      namespace: shop
      externalName: smtp.corp.example
  secrets:
    - name: api-token
      namespace: shop
      fromEnv: {token: API_TOKEN}
    - name: registry
      namespace: shop
      type: kubernetes.io/dockerconfigjson
      fromEnv: {.dockerconfigjson: REGISTRY_AUTH}
"""


@pytest.mark.parametrize("version", ["1.25.16", "1.31.4", "1.33.1", "1.36.0"])
def test_every_kind_of_app_object_validates_strictly(version):
    tree = MemoryTree({"cluster.yaml": EVERYTHING.replace("VERSION", version).encode()})
    compiled = compile_tree(tree, CompileOptions())
    objects = _app_objects(compiled.files)
    assert len(objects) >= 10
    for obj in objects:
        _validate(obj, version)
