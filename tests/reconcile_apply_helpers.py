"""Helpers for the apply tests: out/ contents, objects, and plan+apply in one call."""

from __future__ import annotations

import copy
import dataclasses
import io
from typing import Any

from compiler.core.identity import ObjectId
from compiler.reconcile.apply import ApplyOptions, apply_plan
from compiler.reconcile.applyset import read_inventory
from compiler.reconcile.client import ClientOptions, ClusterClient, connect
from compiler.reconcile.client.retry import RetryPolicy, no_jitter
from compiler.reconcile.desired import Desired, desired_from_files
from compiler.reconcile.model import Plan
from compiler.reconcile.plan import PlanOptions, make_plan
from compiler.reconcile.results import ApplyResult
from tests.reconcile_objects import (  # noqa: F401 - the apply tests' imports
    CLUSTER,
    SET_ID,
    configmap,
    deployment,
    ingress,
    namespace,
    out_files,
    service,
    web_app,
    write_out,
)

FAST = ApplyOptions(timeout=5, poll_interval=0.02, lock_timeout=2)
FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.005, max_delay=0.05, jitter=no_jitter)

Body = dict[str, Any]


def desired(objects: list[Body]) -> Desired:
    return desired_from_files(out_files(objects))


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
    """Live objects carrying this cluster's part-of label (the parent excluded), except
    those a real cluster's controllers made from them: Endpoints and EndpointSlices copy
    their Service's labels, and ReplicaSets, Pods and ControllerRevisions their owner's
    template labels."""
    found = set()
    for obj in server.objects():
        labels = obj["metadata"].get("labels") or {}
        if labels.get("applyset.kubernetes.io/part-of") == SET_ID and not made_by_controller(obj):
            found.add(ObjectId.of(obj))
    return found


def made_by_controller(obj: Body) -> bool:
    meta = obj["metadata"]
    if meta.get("ownerReferences"):
        return True
    if obj.get("kind") == "EndpointSlice":
        return "endpointslice.kubernetes.io/managed-by" in (meta.get("labels") or {})
    return obj.get("kind") == "Endpoints" and any(
        m.get("manager") == "kube-controller-manager" for m in meta.get("managedFields") or []
    )


def inventory(server: Any) -> set[ObjectId]:
    return read_inventory(server.get("v1", "ConfigMap", f"kgit-{CLUSTER}", "kube-system"))


def refs(objects: list[Body]) -> set[ObjectId]:
    return {ObjectId.of(o) for o in objects}


def changed(objects: list[Body], index: int, **spec_changes: Any) -> list[Body]:
    out = copy.deepcopy(objects)
    out[index]["spec"].update(spec_changes)
    return out
