"""Behaviour kgit's reconciler depends on, pinned to the upstream documentation (each test
cites its page): ownership moves on Update and force-apply takes it back, dry-run apply
answers what apply stores, Lease optimistic locking, ConfigMap/Secret updates, and what
DELETE answers for each propagationPolicy.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.apiserver.server import ApiServer

APPLY = "application/apply-patch+yaml"
DEPLOY_PATH = "/apis/apps/v1/namespaces/default/deployments/web"
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def call(
    server: ApiServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def deployment(replicas: int = 2, image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", **extra},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def owners(obj: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        m["manager"]: (m["operation"], m["fieldsV1"])
        for m in obj["metadata"].get("managedFields") or []
    }


# https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
# ("Update ... changes ownership"; "overwrite value, become sole manager" with force)
@pytest.mark.parametrize(
    ("method", "edit"),
    [
        pytest.param("PATCH", {"spec": {"replicas": 5}}, id="merge-patch-like-kubectl-edit"),
        pytest.param("PUT", None, id="put-like-kubectl-replace"),
    ],
)
def test_update_by_another_manager_takes_a_field_and_force_apply_takes_it_back(
    apiserver: ApiServer, method: str, edit: dict[str, Any] | None
) -> None:
    assert (
        call(apiserver, "PATCH", DEPLOY_PATH + "?fieldManager=kgit", deployment(), APPLY)[0] == 201
    )
    if edit is None:
        live = apiserver.get("apps/v1", "Deployment", "web", "default")
        assert live is not None
        edit = copy.deepcopy(live)
        edit["spec"]["replicas"] = 5
    status, edited = call(
        apiserver,
        method,
        DEPLOY_PATH + "?fieldManager=kubectl-edit",
        edit,
        "application/merge-patch+json" if method == "PATCH" else "application/json",
    )
    assert status == 200
    assert owners(edited)["kubectl-edit"] == ("Update", {"f:spec": {"f:replicas": {}}})
    assert "f:replicas" not in owners(edited)["kgit"][1]["f:spec"]

    status, refused = call(
        apiserver, "PATCH", DEPLOY_PATH + "?fieldManager=kgit", deployment(), APPLY
    )
    assert (status, refused["message"]) == (
        409,
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
    )
    assert refused["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using apps/v1',
            "field": ".spec.replicas",
        }
    ]

    status, forced = call(
        apiserver, "PATCH", DEPLOY_PATH + "?fieldManager=kgit&force=true", deployment(), APPLY
    )
    assert status == 200 and forced["spec"]["replicas"] == 2
    assert "f:replicas" in owners(forced)["kgit"][1]["f:spec"]
    assert "kubectl-edit" not in owners(forced)  # it owned nothing else


def _comparable(obj: dict[str, Any], created: bool) -> dict[str, Any]:
    """What a dry run and the real write may differ in: write times, the
    resourceVersion, and for a create the uid and creationTimestamp."""
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
    if created:
        meta.pop("uid", None)
        meta.pop("creationTimestamp", None)
    return out


def _edit_replicas(server: ApiServer) -> None:
    call(
        server,
        "PATCH",
        DEPLOY_PATH + "?fieldManager=kubectl-edit",
        {"spec": {"replicas": 7}},
        "application/merge-patch+json",
    )


# https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
# ("the response body ... is as close as possible to a non-dry-run response")
@pytest.mark.parametrize(
    ("setup", "config", "query"),
    [
        pytest.param([], deployment(), "", id="create"),
        pytest.param([deployment()], deployment(image="nginx:1.28"), "", id="change-image"),
        pytest.param([deployment(labels={"tier": "web"})], deployment(), "", id="prune-label"),
        pytest.param([deployment()], deployment(), "", id="no-op"),
        pytest.param(
            [deployment(), _edit_replicas],
            deployment(),
            "&force=true",
            id="force-over-another-manager",
        ),
    ],
)
def test_dry_run_apply_answers_exactly_what_apply_then_stores(
    apiserver: ApiServer, setup: list[Any], config: dict[str, Any], query: str
) -> None:
    apiserver.controllers.set_all("off")  # no status writes after the apply
    for step in setup:
        if callable(step):
            step(apiserver)
        else:
            assert call(apiserver, "PATCH", DEPLOY_PATH + "?fieldManager=kgit", step, APPLY)[0] in (
                200,
                201,
            )
    before = apiserver.get("apps/v1", "Deployment", "web", "default")
    url = DEPLOY_PATH + "?fieldManager=kgit" + query
    dry_status, dry = call(apiserver, "PATCH", url + "&dryRun=All", config, APPLY)
    assert apiserver.get("apps/v1", "Deployment", "web", "default") == before
    status, applied = call(apiserver, "PATCH", url, config, APPLY)
    stored = apiserver.get("apps/v1", "Deployment", "web", "default")
    assert (dry_status, status) == ((201, 201) if before is None else (200, 200))
    assert applied == stored
    assert _comparable(dry, before is None) == _comparable(stored, before is None)


def lease(name: str = "kgit-lock", holder: str = "a", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-system", **meta},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60},
    }


# https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions and
# https://kubernetes.io/docs/concepts/architecture/leases/ (Leases are updated with
# optimistic concurrency; the Lease strategy refuses unconditional updates)
def test_lease_writes_are_guarded_by_resource_version(apiserver: ApiServer) -> None:
    status, created = call(apiserver, "POST", LEASE_PATH, lease())
    assert status == 201
    rv = created["metadata"]["resourceVersion"]

    status, err = call(apiserver, "POST", LEASE_PATH, lease())
    assert (status, err["reason"], err["message"]) == (
        409,
        "AlreadyExists",
        'leases.coordination.k8s.io "kgit-lock" already exists',
    )

    status, err = call(apiserver, "PUT", f"{LEASE_PATH}/kgit-lock", lease(holder="b"))
    assert (status, err["reason"], err["message"]) == (
        422,
        "Invalid",
        'leases.coordination.k8s.io "kgit-lock" is invalid: '
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
    )

    status, taken = call(
        apiserver, "PUT", f"{LEASE_PATH}/kgit-lock", lease(holder="b", resourceVersion=rv)
    )
    assert status == 200 and taken["spec"]["holderIdentity"] == "b"
    assert taken["metadata"]["resourceVersion"] != rv

    status, err = call(
        apiserver, "PUT", f"{LEASE_PATH}/kgit-lock", lease(holder="c", resourceVersion=rv)
    )
    assert (status, err["reason"], err["message"]) == (
        409,
        "Conflict",
        "Operation cannot be fulfilled on leases.coordination.k8s.io "
        '"kgit-lock": the object has been modified; please apply your changes to the latest '
        "version and try again",
    )
    assert (
        apiserver.get("coordination.k8s.io/v1", "Lease", "kgit-lock", "kube-system")["spec"][
            "holderIdentity"
        ]
        == "b"
    )


# https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
# (resourceVersion is set by the server; etcd refuses a create that carries one)
def test_create_with_a_resource_version_fails_but_its_dry_run_does_not(
    apiserver: ApiServer,
) -> None:
    status, err = call(apiserver, "POST", LEASE_PATH, lease("other", resourceVersion="5"))
    assert (status, err["reason"], err["message"]) == (
        500,
        "InternalError",
        "Internal error occurred: resourceVersion should not be set on objects to be created",
    )
    assert apiserver.get("coordination.k8s.io/v1", "Lease", "other", "kube-system") is None
    status, _ = call(
        apiserver, "POST", LEASE_PATH + "?dryRun=All", lease("other", resourceVersion="5")
    )
    assert status == 201


# https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
# (ConfigMap and Secret allow an update without resourceVersion: last write wins)
@pytest.mark.parametrize(
    ("path", "kind", "field", "old", "new"),
    [
        pytest.param(
            "/api/v1/namespaces/default/configmaps",
            "ConfigMap",
            "data",
            {"k": "1"},
            {"k": "2"},
            id="configmap",
        ),
        pytest.param(
            "/api/v1/namespaces/default/secrets",
            "Secret",
            "data",
            {"k": "MQ=="},
            {"k": "Mg=="},
            id="secret",
        ),
    ],
)
def test_configmap_and_secret_update_without_or_with_resource_version(
    apiserver: ApiServer, path: str, kind: str, field: str, old: dict[str, str], new: dict[str, str]
) -> None:
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "c"}, field: old}
    status, created = call(apiserver, "POST", path, body)
    assert status == 201
    status, updated = call(apiserver, "PUT", f"{path}/c", {**body, field: new})
    assert status == 200 and updated[field] == new
    stale = {
        **body,
        "metadata": {"name": "c", "resourceVersion": created["metadata"]["resourceVersion"]},
        field: old,
    }
    status, err = call(apiserver, "PUT", f"{path}/c", stale)
    assert (status, err["reason"]) == (409, "Conflict")
    assert apiserver.get("v1", kind, "c", "default")[field] == new


# https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion
# (the API server sets deletionTimestamp and the foregroundDeletion finalizer; the object
# stays visible until the deletion completes) and
# https://kubernetes.io/docs/reference/using-api/api-concepts/ (a completed delete of a
# ConfigMap answers a Status)
@pytest.mark.parametrize(
    ("policy", "finalizer"),
    [
        pytest.param("Foreground", "foregroundDeletion", id="foreground"),
        pytest.param("Orphan", "orphan", id="orphan"),
    ],
)
def test_foreground_and_orphan_delete_answer_the_object_being_deleted(
    apiserver: ApiServer, policy: str, finalizer: str
) -> None:
    apiserver.create(deployment())
    # Long enough that the object is still there when read back on a loaded machine.
    apiserver.controllers.gc_delay = 1.0
    options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": policy}
    status, body = call(apiserver, "DELETE", DEPLOY_PATH, options)
    assert status == 200 and body["kind"] == "Deployment"
    assert body["metadata"]["finalizers"] == [finalizer]
    assert body["metadata"]["deletionTimestamp"]
    live = apiserver.get("apps/v1", "Deployment", "web", "default")
    assert live is not None and live["metadata"]["deletionTimestamp"]
    deadline = time.monotonic() + 30
    while apiserver.get("apps/v1", "Deployment", "web", "default") is not None:
        assert time.monotonic() < deadline, "the garbage collector never finished"
        time.sleep(0.02)


def test_foreground_delete_completes_before_returning_by_default(apiserver: ApiServer) -> None:
    apiserver.create(deployment())
    status, body = call(apiserver, "DELETE", DEPLOY_PATH + "?propagationPolicy=Foreground")
    assert status == 200 and body["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert apiserver.get("apps/v1", "Deployment", "web", "default") is None


def test_background_delete_of_a_configmap_answers_status(apiserver: ApiServer) -> None:
    created = apiserver.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    status, body = call(
        apiserver,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/c",
        {"propagationPolicy": "Background"},
    )
    assert (status, body) == (
        200,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": "c", "kind": "configmaps", "uid": created["metadata"]["uid"]},
        },
    )


SERVICE_PATH = "/api/v1/namespaces/default/services/web"


def service(*ports: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": p, "name": f"p{p}"} for p in ports],
        },
    }


def test_apply_that_drops_a_list_map_item_removes_the_whole_item(apiserver: ApiServer) -> None:
    # ports is a list-map keyed by port and protocol: the manager that stops applying
    # an item loses the item, keys included (upstream removes it whole; removing its
    # fields one by one left {protocol, targetPort} and a 422 on the missing port).
    query = "?fieldManager=kgit&force=true"
    assert call(apiserver, "PATCH", SERVICE_PATH + query, service(80, 81), APPLY)[0] == 201
    code, body = call(apiserver, "PATCH", SERVICE_PATH + query, service(80), APPLY)
    assert code == 200, body
    assert [p["port"] for p in body["spec"]["ports"]] == [80]


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_built_in_namespaces_cannot_be_deleted(apiserver: ApiServer, name: str) -> None:
    # NamespaceLifecycle admission (k8s.io/apiserver/pkg/admission/plugin/namespace/
    # lifecycle): the immortal namespaces answer 403 Forbidden to a DELETE.
    code, body = call(apiserver, "DELETE", f"/api/v1/namespaces/{name}")
    assert (code, body["reason"], body["message"]) == (
        403,
        "Forbidden",
        f'namespaces "{name}" is forbidden: this namespace may not be deleted',
    )
    assert apiserver.get("v1", "Namespace", name)["status"].get("phase") != "Terminating"
