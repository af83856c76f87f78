"""Objects the cluster's controllers make for kgit's objects inherit kgit's ApplySet label
(the endpoints and EndpointSlice controllers copy a Service's labels; ReplicaSets and
ControllerRevisions carry an owner): no warning, no prune (issue 14 item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.core.identity import ObjectId
from compiler.reconcile.inherited import made_by_controller
from tests.reconcile_apply_helpers import (
    SET_ID,
    client_for,
    configmap,
    converge,
    namespace,
    plan,
    service,
)

PART_OF = "applyset.kubernetes.io/part-of"


def selectorless_service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"ports": [{"port": 5432, "protocol": "TCP"}]},
    }


def endpoints(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": "web", "labels": labels or {}},
        "subsets": [{"addresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 5432}]}],
    }


def endpoint_slice(
    name: str, labels: dict[str, str], owners: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "web", "labels": labels}
    if owners:
        metadata["ownerReferences"] = owners
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.9"]}],
        "ports": [{"port": 5432}],
    }


def desired() -> list[dict[str, Any]]:
    # kgit renders an external database's Service with its own Endpoints and
    # EndpointSlice, so both kinds are listed by the plan, as in a real out/.
    slice_labels = {"kubernetes.io/service-name": "db"}
    return [
        namespace("web"),
        service("nginx"),
        selectorless_service("db"),
        endpoints("db"),
        endpoint_slice("db-1", slice_labels),
        configmap("settings"),
    ]


def as_controllers_make_them(apiserver: Any) -> None:
    """What the endpoints and EndpointSlice controllers create for Service web/nginx,
    with the Service's labels copied (kgit's part-of label among them)."""
    svc = apiserver.get("v1", "Service", "nginx", "web")
    labels = dict(svc["metadata"]["labels"])
    assert labels[PART_OF] == SET_ID
    apiserver.create(endpoints("nginx", labels), manager="kube-controller-manager")
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": "nginx",
        "uid": svc["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    slice_labels = {
        **labels,
        "kubernetes.io/service-name": "nginx",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    apiserver.create(endpoint_slice("nginx-x7k2p", slice_labels, [owner]))
    # the mirroring controller's slice of a selector-less Service: a label, no owner
    mirrored = {**slice_labels, "endpointslice.kubernetes.io/managed-by": "mirroring"}
    apiserver.create(endpoint_slice("db-mirror", mirrored))


def test_plan_after_apply_has_no_warning_for_objects_controllers_made(apiserver):
    client = client_for(apiserver)
    converge(client, desired())
    as_controllers_make_them(apiserver)
    _, made = plan(client, desired())
    assert not made.has_changes()
    assert made.warnings == ()


def test_a_hand_labelled_object_is_still_warned_about_and_controller_objects_not_pruned(
    apiserver,
):
    client = client_for(apiserver)
    converge(client, desired())
    as_controllers_make_them(apiserver)
    apiserver.create(
        configmap("copied")
        | {"metadata": {"name": "copied", "namespace": "web", "labels": {PART_OF: SET_ID}}}
    )
    without_nginx = [o for o in desired() if o["metadata"]["name"] != "nginx"]
    _, made = plan(client, without_nginx)
    assert made.warnings == (
        "ConfigMap/web/copied carries kgit's ApplySet label but is not in its inventory; "
        "kgit leaves it alone",
    )
    deleted = [str(a.ref) for a in made.actions if a.kind.value == "delete"]
    assert deleted == ["Service/web/nginx"]


def _obj(api_version: str, kind: str, name: str, **metadata: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "web", "labels": {PART_OF: SET_ID}, **metadata}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def _owner(kind: str, controller: bool = True) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "apps/v1", "kind": kind, "name": "x", "uid": "u", "controller": controller}
    ]


@pytest.mark.parametrize(
    ("obj", "made"),
    [
        # a Deployment's ReplicaSet, its Pods, a DaemonSet's ControllerRevision
        (_obj("apps/v1", "ReplicaSet", "web-5d8f", ownerReferences=_owner("Deployment")), True),
        (_obj("v1", "Pod", "web-5d8f-abcde", ownerReferences=_owner("ReplicaSet")), True),
        (_obj("apps/v1", "ControllerRevision", "ds-1", ownerReferences=_owner("DaemonSet")), True),
        # an owner that is not the controller (someone's bookkeeping) proves nothing
        (_obj("v1", "ConfigMap", "c", ownerReferences=_owner("Deployment", False)), False),
        # the Endpoints of a labelled Service (the endpoints controller sets no owner)
        (_obj("v1", "Endpoints", "nginx"), True),
        # an Endpoints with no such Service: someone's, labelled by hand
        (_obj("v1", "Endpoints", "other"), False),
        (_obj("v1", "ConfigMap", "copied"), False),
    ],
)
def test_made_by_controller(obj: dict[str, Any], made: bool) -> None:
    members = {ObjectId("v1", "Service", "web", "nginx")}
    assert made_by_controller(ObjectId.of(obj), obj, members) is made
