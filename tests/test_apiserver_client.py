"""The test API server against the official Python client, pinned to upstream behaviour.

Each test cites the page that documents the behaviour it pins.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import config, dynamic
from kubernetes.client import api_client
from kubernetes.dynamic.exceptions import ApiException, ConflictError, NotFoundError

from tests.apiserver.server import ApiServer


@pytest.fixture
def client(apiserver: ApiServer) -> dynamic.DynamicClient:
    cfg = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    return dynamic.DynamicClient(api_client.ApiClient(configuration=cfg.configuration))


def deployment(name: str = "web", image: str = "nginx:1.27", **labels: str) -> dict[str, Any]:
    labels = {"app": name, **labels}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def raw(
    server: ApiServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    req = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


# https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api
def test_discovery_lists_groups_and_resources(client: dynamic.DynamicClient) -> None:
    lease = client.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert lease.namespaced and lease.name == "leases"
    crd = client.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    assert not crd.namespaced and "crd" in crd.short_names
    deploy = client.resources.get(api_version="apps/v1", kind="Deployment")
    # What a real apps/v1 discovery document lists for deployments/status.
    status = deploy.subresources["status"]
    assert (status.name, status.kind, status.namespaced, sorted(status.verbs)) == (
        "deployments/status",
        "Deployment",
        True,
        ["get", "patch", "update"],
    )


# https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
def test_apply_records_managed_fields_in_fieldsv1(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    obj = deps.server_side_apply(
        body=deployment(), name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    (entry,) = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == (
        "kgit",
        "Apply",
        "FieldsV1",
    )
    container = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"web"}'
    ]
    assert container["f:ports"] == {
        'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
    }
    assert entry["fieldsV1"]["f:spec"]["f:selector"] == {}  # atomic LabelSelector


# https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
def test_dry_run_apply_of_unchanged_object_equals_live(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    deps.server_side_apply(body=deployment(), name="web", namespace="default", field_manager="kgit")
    live = deps.get(name="web", namespace="default").to_dict()
    dry = deps.server_side_apply(
        body=deployment(), name="web", namespace="default", field_manager="kgit", dry_run="All"
    ).to_dict()
    assert dry == live


def test_dry_run_does_not_store_or_bump_resource_version(
    apiserver: ApiServer, client: dynamic.DynamicClient
) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    before = apiserver.store.resource_version
    dry = deps.server_side_apply(
        body=deployment(), name="web", namespace="default", field_manager="kgit", dry_run="All"
    ).to_dict()
    assert dry["spec"]["replicas"] == 1  # defaulted in the dry-run answer
    assert apiserver.store.resource_version == before
    with pytest.raises(NotFoundError):
        deps.get(name="web", namespace="default")


# https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
def test_deployment_defaults(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    spec = deps.server_side_apply(
        body=deployment(image="nginx"), name="web", namespace="default", field_manager="kgit"
    ).to_dict()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    pod = spec["template"]["spec"]
    assert (
        pod["restartPolicy"],
        pod["dnsPolicy"],
        pod["schedulerName"],
        pod["securityContext"],
        pod["terminationGracePeriodSeconds"],
    ) == ("Always", "ClusterFirst", "default-scheduler", {}, 30)
    container = pod["containers"][0]
    assert container["imagePullPolicy"] == "Always"  # no tag means :latest
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["ports"][0]["protocol"] == "TCP"


# https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/
def test_service_defaults_and_clusterip_kept_on_reapply(client: dynamic.DynamicClient) -> None:
    svcs = client.resources.get(api_version="v1", kind="Service")
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    first = svcs.server_side_apply(
        body=body, name="web", namespace="default", field_manager="kgit"
    ).to_dict()["spec"]
    assert first["clusterIP"].startswith("10.") and first["clusterIPs"] == [first["clusterIP"]]
    assert (
        first["ipFamilies"],
        first["ipFamilyPolicy"],
        first["sessionAffinity"],
        first["internalTrafficPolicy"],
        first["externalTrafficPolicy"],
    ) == (["IPv4"], "SingleStack", "None", "Cluster", "Cluster")
    port = first["ports"][0]
    assert (port["protocol"], port["targetPort"]) == ("TCP", 80)
    assert 30000 <= port["nodePort"] <= 32767
    again = svcs.server_side_apply(
        body=body, name="web", namespace="default", field_manager="kgit"
    ).to_dict()["spec"]
    assert again == first


# https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
def test_apply_conflict_then_force(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    deps.server_side_apply(body=deployment(), name="web", namespace="default", field_manager="kgit")
    changed = deployment(image="nginx:1.28")
    with pytest.raises(ConflictError) as caught:
        deps.server_side_apply(body=changed, name="web", namespace="default", field_manager="other")
    status = json.loads(caught.value.body)
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "kgit": '
        '.spec.template.spec.containers[name="web"].image'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kgit"',
            "field": '.spec.template.spec.containers[name="web"].image',
        }
    ]
    forced = deps.server_side_apply(
        body=changed, name="web", namespace="default", field_manager="other", force_conflicts=True
    ).to_dict()
    assert forced["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


# https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
def test_apply_removes_fields_the_manager_stopped_applying(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    deps.server_side_apply(
        body=deployment(tier="front"), name="web", namespace="default", field_manager="kgit"
    )
    obj = deps.server_side_apply(
        body=deployment(), name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    assert obj["metadata"]["labels"] == {"app": "web"}


def test_apply_keeps_fields_another_manager_also_owns(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    deps.server_side_apply(
        body=deployment(tier="front"), name="web", namespace="default", field_manager="kgit"
    )
    deps.server_side_apply(
        body=deployment(tier="front"), name="web", namespace="default", field_manager="other"
    )
    obj = deps.server_side_apply(
        body=deployment(), name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    assert obj["metadata"]["labels"]["tier"] == "front"


# https://kubernetes.io/docs/reference/using-api/server-side-apply/ ("fieldManager ... is
# required for apply"); upstream answers with PatchOptions validation (422 Invalid).
def test_apply_without_field_manager_is_invalid(apiserver: ApiServer) -> None:
    code, status = raw(
        apiserver,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web",
        deployment(),
        "application/apply-patch+yaml",
    )
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
        "Required value: is required for apply patch"
    )


# https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
def test_label_selected_and_paginated_list(client: dynamic.DynamicClient) -> None:
    cms = client.resources.get(api_version="v1", kind="ConfigMap")
    for i in range(7):
        cms.create(
            body={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}", "labels": {"app": "kgit", "n": str(i % 2)}},
            },
            namespace="default",
        )
    selected = cms.get(namespace="default", label_selector="app=kgit,n in (1)").to_dict()
    assert [o["metadata"]["name"] for o in selected["items"]] == ["cm-1", "cm-3", "cm-5"]
    assert selected["kind"] == "ConfigMapList"
    names, token = [], None
    while True:
        page = cms.get(
            namespace="default", label_selector="app", limit=3, _continue=token
        ).to_dict()
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == [f"cm-{i}" for i in range(7)]


# https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("tier=front", ["a"], id="equality"),
        pytest.param("tier==front", ["a"], id="double-equals"),
        pytest.param("tier!=front", ["b", "c"], id="inequality-includes-missing"),
        pytest.param("tier in (front,back)", ["a", "b"], id="in"),
        pytest.param("tier notin (front)", ["b", "c"], id="notin"),
        pytest.param("tier", ["a", "b"], id="exists"),
        pytest.param("!tier", ["c"], id="not-exists"),
        pytest.param("tier,app=x", ["a"], id="and"),
    ],
)
def test_label_selector_operators(apiserver: ApiServer, selector: str, expected: list[str]) -> None:
    for name, labels in (("a", {"tier": "front", "app": "x"}), ("b", {"tier": "back"}), ("c", {})):
        apiserver.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}
        )
    query = urllib.request.quote(selector)
    code, body = raw(
        apiserver, "GET", f"/api/v1/namespaces/default/configmaps?labelSelector={query}"
    )
    assert code == 200
    assert [o["metadata"]["name"] for o in body["items"]] == expected


def test_invalid_continue_token_is_bad_request(apiserver: ApiServer) -> None:
    code, body = raw(apiserver, "GET", "/api/v1/namespaces?limit=1&continue=garbage")
    assert (code, body["reason"]) == (400, "BadRequest")


def test_expired_continue_token_is_gone(apiserver: ApiServer) -> None:
    _, page = raw(apiserver, "GET", "/api/v1/namespaces?limit=1")
    apiserver.store.compacted_rv = apiserver.store.resource_version + 1
    code, body = raw(
        apiserver, "GET", "/api/v1/namespaces?limit=1&continue=" + page["metadata"]["continue"]
    )
    assert (code, body["reason"]) == (410, "Expired")


# https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
def test_stale_update_is_conflict(client: dynamic.DynamicClient) -> None:
    leases = client.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    lease = leases.create(
        body={
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "kgit-lock"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 30},
        },
        namespace="default",
    ).to_dict()
    stale = json.loads(json.dumps(lease))
    lease["spec"]["holderIdentity"] = "b"
    leases.replace(body=lease, namespace="default")
    stale["spec"]["holderIdentity"] = "c"
    with pytest.raises(ConflictError) as caught:
        leases.replace(body=stale, namespace="default")
    status = json.loads(caught.value.body)
    assert status["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "kgit-lock": the object '
        "has been modified; please apply your changes to the latest version and try again"
    )


# https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
def test_errors_are_status_objects(apiserver: ApiServer) -> None:
    code, body = raw(apiserver, "GET", "/apis/apps/v1/namespaces/default/deployments/nope")
    assert code == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
        "code": 404,
    }


def test_create_in_missing_namespace_is_namespace_not_found(apiserver: ApiServer) -> None:
    code, body = raw(
        apiserver,
        "POST",
        "/api/v1/namespaces/ghost/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    )
    assert (code, body["message"], body["details"]) == (
        404,
        'namespaces "ghost" not found',
        {"name": "ghost", "kind": "namespaces"},
    )


def test_create_twice_is_already_exists(apiserver: ApiServer) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    assert raw(apiserver, "POST", "/api/v1/namespaces/default/configmaps", cm)[0] == 201
    code, body = raw(apiserver, "POST", "/api/v1/namespaces/default/configmaps", cm)
    assert (code, body["reason"], body["message"]) == (
        409,
        "AlreadyExists",
        'configmaps "x" already exists',
    )


# https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable
def test_immutable_configmap_rejects_changes(apiserver: ApiServer) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {"a": "1"},
        "immutable": True,
    }
    raw(apiserver, "POST", "/api/v1/namespaces/default/configmaps", cm)
    code, body = raw(
        apiserver,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x",
        {"data": {"a": "2"}},
        "application/merge-patch+json",
    )
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'ConfigMap "x" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )


# https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates
def test_deployment_selector_is_immutable(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    deps.server_side_apply(body=deployment(), name="web", namespace="default", field_manager="kgit")
    changed = deployment()
    changed["spec"]["selector"]["matchLabels"]["tier"] = "x"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    with pytest.raises(ApiException) as caught:
        deps.server_side_apply(body=changed, name="web", namespace="default", field_manager="kgit")
    status = json.loads(caught.value.body)
    assert caught.value.status == 422
    assert status["details"]["causes"][0]["field"] == "spec.selector"
    assert "field is immutable" in status["message"]


# https://kubernetes.io/docs/reference/kubernetes-api/service-resources/ingress-v1/
# (HTTPIngressPath.pathType is required)
def test_ingress_without_path_type_is_invalid(apiserver: ApiServer) -> None:
    ing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "i"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ]
        },
    }
    code, body = raw(
        apiserver, "POST", "/apis/networking.k8s.io/v1/namespaces/default/ingresses", ing
    )
    assert (code, body["details"]["causes"][0]["field"]) == (
        422,
        "spec.rules[0].http.paths[0].pathType",
    )


# https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
def test_strict_field_validation_rejects_unknown_fields(apiserver: ApiServer) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "bogus": 1},
        "extra": True,
    }
    code, body = raw(
        apiserver, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", cm
    )
    assert (code, body["message"]) == (
        400,
        'strict decoding error: unknown field "metadata.bogus", unknown field "extra"',
    )
    code, body = raw(
        apiserver, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore", cm
    )
    assert code == 201 and "extra" not in body


# https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions and
# metadata.generation in https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/
def test_generation_bumps_only_on_spec_change(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    first = deps.server_side_apply(
        body=deployment(), name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    relabelled = deps.server_side_apply(
        body=deployment(tier="x"), name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    assert relabelled["metadata"]["generation"] == first["metadata"]["generation"] == 1
    assert int(relabelled["metadata"]["resourceVersion"]) > int(
        first["metadata"]["resourceVersion"]
    )
    scaled = deployment(tier="x")
    scaled["spec"]["replicas"] = 3
    bumped = deps.server_side_apply(
        body=scaled, name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    assert bumped["metadata"]["generation"] == 2


# https://kubernetes.io/docs/concepts/architecture/garbage-collection/ and
# https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#delete-delete-a-deployment
def test_delete_returns_status_or_object_and_dry_run_keeps(
    client: dynamic.DynamicClient, apiserver: ApiServer
) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    deps.server_side_apply(body=deployment(), name="web", namespace="default", field_manager="kgit")
    dry = deps.delete(name="web", namespace="default", body={"dryRun": ["All"]})
    # A dry-run delete of an object without finalizers answers as a real delete would
    # (a Status, since Deployments are not returned once deleted) but keeps the object.
    assert (dry.to_dict()["kind"], dry.to_dict()["status"]) == ("Status", "Success")
    assert deps.get(name="web", namespace="default").metadata.name == "web"
    gone = deps.delete(
        name="web", namespace="default", body={"propagationPolicy": "Background"}
    ).to_dict()
    assert gone["kind"] == "Status" and gone["status"] == "Success"
    with pytest.raises(NotFoundError):
        deps.get(name="web", namespace="default")


def test_status_subresource_is_separate(client: dynamic.DynamicClient) -> None:
    deps = client.resources.get(api_version="apps/v1", kind="Deployment")
    body = deployment()
    body["status"] = {"replicas": 99}
    created = deps.server_side_apply(
        body=body, name="web", namespace="default", field_manager="kgit"
    ).to_dict()
    assert created.get("status", {}).get("replicas") != 99
    deps.status.patch(
        body={"status": {"replicas": 5}},
        name="web",
        namespace="default",
        content_type="application/merge-patch+json",
    )
    live = deps.get(name="web", namespace="default").to_dict()
    assert live["status"]["replicas"] == 5


def test_crd_makes_kind_servable(client: dynamic.DynamicClient, apiserver: ApiServer) -> None:
    crds = client.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    created = crds.server_side_apply(
        body=crd, name=crd["metadata"]["name"], field_manager="kgit"
    ).to_dict()
    live = crds.get(name="widgets.example.com").to_dict()
    assert {c["type"] for c in live["status"]["conditions"]} == {"Established", "NamesAccepted"}
    assert created["spec"]["names"]["listKind"] == "WidgetList"
    code, _ = raw(
        apiserver,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
        },
    )
    assert code == 201
    code, listed = raw(apiserver, "GET", "/apis/example.com/v1/widgets")
    assert listed["items"][0]["kind"] == "Widget"
    crds.delete(name="widgets.example.com")
    assert raw(apiserver, "GET", "/apis/example.com/v1/widgets")[0] == 404


# https://kubernetes.io/docs/reference/using-api/api-concepts/ ("Lists ... items" of built-in
# kinds are typed: the items carry no apiVersion/kind)
def test_builtin_list_items_carry_no_type(apiserver: ApiServer) -> None:
    _, body = raw(apiserver, "GET", "/api/v1/namespaces")
    assert body["apiVersion"] == "v1" and body["kind"] == "NamespaceList"
    assert "kind" not in body["items"][0]
    assert body["metadata"]["resourceVersion"].isdigit()
