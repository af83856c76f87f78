"""Helpers for the apply tests: out/ contents, objects, and plan+apply in one call."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import yaml

from compiler.core.identity import ObjectId
from compiler.reconcile.apply import ApplyOptions, apply_plan
from compiler.reconcile.applyset import applyset_id, parent_ref, read_inventory
from compiler.reconcile.client import ClientOptions, ClusterClient, connect
from compiler.reconcile.client.retry import RetryPolicy, no_jitter
from compiler.reconcile.desired import Desired, desired_from_files
from compiler.reconcile.model import Plan
from compiler.reconcile.plan import PlanOptions, make_plan
from compiler.reconcile.results import ApplyResult

CLUSTER = "lab"
SET_ID = applyset_id(parent_ref(CLUSTER))
FAST = ApplyOptions(timeout=5, poll_interval=0.02, lock_timeout=2)
FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.005, max_delay=0.05, jitter=no_jitter)

Body = dict[str, Any]


def out_files(objects: list[Body], cluster: str = CLUSTER) -> dict[str, bytes]:
    return {
        "index.json": json.dumps({"cluster": cluster}).encode(),
        "manifests/all.yaml": yaml.safe_dump_all(objects, sort_keys=True).encode(),
    }


def write_out(out_dir: Path, objects: list[Body], cluster: str = CLUSTER) -> None:
    for rel, data in out_files(objects, cluster).items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def desired(objects: list[Body]) -> Desired:
    return desired_from_files(out_files(objects))


def namespace(name: str) -> Body:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(name: str, ns: str = "web", image: str = "nginx:1.14.2") -> Body:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def service(name: str, ns: str = "web") -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]},
    }


def configmap(name: str, ns: str = "web", data: dict[str, str] | None = None) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data or {"key": "value"},
    }


def ingress(name: str, ns: str = "web") -> Body:
    backend = {"service": {"name": name, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "rules": [
                {
                    "host": f"{name}.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }


def web_app() -> list[Body]:
    return [namespace("web"), deployment("nginx"), service("nginx"), ingress("nginx")]


def with_retry(client: ClusterClient, retry: RetryPolicy) -> ClusterClient:
    """The same connection (discovery included) with another retry policy."""
    return dataclasses.replace(client, options=dataclasses.replace(client.options, retry=retry))


def client_for(server: Any) -> ClusterClient:
    client = connect(str(server.kubeconfig), options=ClientOptions(retry=FAST_RETRY))
    return client


def plan(client: ClusterClient, objects: list[Body], **options: Any) -> tuple[Desired, Plan]:
    wanted = desired(objects)
    return wanted, make_plan(client, wanted, PlanOptions(**options))


def converge(
    client: ClusterClient, objects: list[Body], options: ApplyOptions = FAST, **kw: Any
) -> ApplyResult:
    wanted, made = plan(client, objects)
    return apply_plan(client, made, wanted, options, out=io.StringIO(), **kw)


def members(server: Any) -> set[ObjectId]:
    """Live objects carrying this cluster's part-of label (the parent excluded)."""
    found = set()
    for obj in server.objects():
        labels = obj["metadata"].get("labels") or {}
        if labels.get("applyset.kubernetes.io/part-of") == SET_ID:
            found.add(ObjectId.of(obj))
    return found


def inventory(server: Any) -> set[ObjectId]:
    return read_inventory(server.get("v1", "ConfigMap", f"kgit-{CLUSTER}", "kube-system"))


def refs(objects: list[Body]) -> set[ObjectId]:
    return {ObjectId.of(o) for o in objects}


def changed(objects: list[Body], index: int, **spec_changes: Any) -> list[Body]:
    out = copy.deepcopy(objects)
    out[index]["spec"].update(spec_changes)
    return out
