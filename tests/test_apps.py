"""Apps, namespaces, external services and env-backed Secrets, as rendered objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.compile.model import Cluster, build_cluster
from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.compile.render.apps import (
    render_app,
    render_external_service,
    render_namespaces,
    render_secret,
)
from compiler.core.sources import DirectoryTree


def make_cluster(
    *,
    apps: list[dict[str, Any]] | None = None,
    external: list[dict[str, Any]] | None = None,
    secrets: list[dict[str, Any]] | None = None,
    version: str = "1.31.4",
    ingress: dict[str, Any] | None = None,
) -> Cluster:
    spec: dict[str, Any] = {
        "kubernetes": {"version": version},
        "nodes": [{"name": "cp", "address": "192.168.10.10", "role": "control-plane"}],
        "apps": apps or [],
        "externalServices": external or [],
        "secrets": secrets or [],
    }
    if ingress is not None:
        spec["ingress"] = {"nginx": ingress}
    return build_cluster({"metadata": {"name": "lab"}, "spec": spec})


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [o["kind"] for o in objects]
    assert len(kinds) == len(set(kinds)), kinds
    return {o["kind"]: o for o in objects}


# --- the field notes' examples, from the bundled cluster.yaml ------------------------------


@pytest.fixture(scope="module")
def bundled() -> dict[str, list[dict[str, Any]]]:
    """The objects of out/ compiled from the bundled cluster.yaml, by out/ file."""
    root = Path(__file__).resolve().parent.parent
    compiled = compile_tree(DirectoryTree(root), CompileOptions())
    return {
        path: [d for d in yaml.safe_load_all(data) if d]
        for path, data in compiled.files.items()
        if path.endswith(".yaml") and path.startswith("manifests/")
    }


def test_bundled_nginx_deployment_is_the_field_notes_one(bundled):
    deployment = by_kind(bundled["manifests/apps/web/nginx.yaml"])["Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 3
    assert [c["image"] for c in pod["containers"]] == ["nginx:1.14.2"]
    assert pod["initContainers"] == [
        {
            "name": "init",
            "image": "busybox:1.28",
            "command": ["sh", "-c", "echo The init containers is running!"],
        }
    ]
    assert pod["hostAliases"] == [
        {"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]},
        {"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]},
    ]


def test_bundled_my_service_has_endpoint_10_10_10_10_port_8080(bundled):
    objects = bundled["manifests/external/prod/my-service.yaml"]
    service = next(o for o in objects if o["kind"] == "Service")
    assert "selector" not in service["spec"]
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    endpoint_slice = next(o for o in objects if o["kind"] == "EndpointSlice")
    assert [e["addresses"] for e in endpoint_slice["endpoints"]] == [["10.10.10.10"]]
    assert [p["port"] for p in endpoint_slice["ports"]] == [8080]
    endpoints = next(o for o in objects if o["kind"] == "Endpoints")  # 1.31 < 1.33
    assert endpoints["subsets"] == [
        {
            "addresses": [{"ip": "10.10.10.10"}],
            "ports": [
                {"name": service["spec"]["ports"][0]["name"], "port": 8080, "protocol": "TCP"}
            ],
        }
    ]


def test_bundled_legacy_db_is_an_external_name_service(bundled):
    (service,) = bundled["manifests/external/prod/legacy-db.yaml"]
    assert service["spec"] == {"type": "ExternalName", "externalName": "db.corp.example"}


def test_bundled_namespaces_are_emitted_once(bundled):
    names = [o["metadata"]["name"] for o in bundled["manifests/namespaces.yaml"]]
    assert names == ["prod", "web"]


# --- Deployment, Service, Ingress ---------------------------------------------------------

NGINX = {"name": "nginx", "namespace": "web", "image": "nginx:1.14.2", "replicas": 3, "ports": [80]}


def test_deployment_selector_uses_only_immutable_labels():
    objects = by_kind(render_app(make_cluster(apps=[NGINX]), make_cluster(apps=[NGINX]).apps[0]))
    deployment = objects["Deployment"]
    assert deployment["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "nginx", "app.kubernetes.io/instance": "nginx"}
    }
    assert deployment["spec"]["template"]["metadata"]["labels"] == {
        "app.kubernetes.io/name": "nginx",
        "app.kubernetes.io/instance": "nginx",
        "app.kubernetes.io/managed-by": "kgit",
    }


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"image": "nginx:1.16.1"}, id="image"),
        pytest.param({"replicas": 7}, id="replicas"),
        pytest.param({"ports": [8080]}, id="ports"),
        pytest.param({"env": [{"name": "A", "value": "1"}]}, id="env"),
    ],
)
def test_selector_never_changes_with_the_spec(change):
    def selector(app: dict[str, Any]) -> Any:
        cluster = make_cluster(apps=[app])
        return by_kind(render_app(cluster, cluster.apps[0]))["Deployment"]["spec"]["selector"]

    assert selector({**NGINX, **change}) == selector(NGINX)


def test_container_has_ports_env_and_resources():
    app = {
        **NGINX,
        "ports": [80, {"containerPort": 53, "protocol": "UDP", "name": "dns"}],
        "env": [
            {"name": "MODE", "value": "prod"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        ],
        "resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "128Mi"}},
    }
    cluster = make_cluster(apps=[app])
    (container,) = by_kind(render_app(cluster, cluster.apps[0]))["Deployment"]["spec"]["template"][
        "spec"
    ]["containers"]
    assert container == {
        "name": "nginx",
        "image": "nginx:1.14.2",
        "ports": [
            {"containerPort": 80, "name": "http-80", "protocol": "TCP"},
            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
        ],
        "env": [
            {"name": "MODE", "value": "prod"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        ],
        "resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "128Mi"}},
    }


def test_service_targets_named_ports_and_uses_service_port():
    app = {
        **NGINX,
        "ports": [{"containerPort": 8080, "servicePort": 80, "name": "web"}],
        "serviceType": "NodePort",
    }
    cluster = make_cluster(apps=[app])
    service = by_kind(render_app(cluster, cluster.apps[0]))["Service"]
    assert service["spec"] == {
        "type": "NodePort",
        "selector": {"app.kubernetes.io/name": "nginx", "app.kubernetes.io/instance": "nginx"},
        "ports": [{"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}],
    }


def test_app_without_ports_has_no_service():
    app = {"name": "worker", "image": "busybox:1.36"}
    cluster = make_cluster(apps=[app])
    assert [o["kind"] for o in render_app(cluster, cluster.apps[0])] == ["Deployment"]


@pytest.mark.parametrize(
    ("ingress_controller", "expected_class"),
    [
        pytest.param({"ingressClass": {"name": "public"}}, "public", id="cluster-class"),
        pytest.param(None, "nginx", id="no-controller-defaults-to-nginx"),
    ],
)
def test_ingress_routes_host_and_path_to_the_service(ingress_controller, expected_class):
    app = {
        **NGINX,
        "ingress": {
            "host": "nginx.lab.example",
            "path": "/app",
            "pathType": "Exact",
            "tlsSecret": "nginx-tls",
        },
    }
    cluster = make_cluster(apps=[app], ingress=ingress_controller)
    ingress = by_kind(render_app(cluster, cluster.apps[0]))["Ingress"]
    assert ingress["spec"] == {
        "ingressClassName": expected_class,
        "rules": [
            {
                "host": "nginx.lab.example",
                "http": {
                    "paths": [
                        {
                            "path": "/app",
                            "pathType": "Exact",
                            "backend": {"service": {"name": "nginx", "port": {"name": "http-80"}}},
                        }
                    ]
                },
            }
        ],
        "tls": [{"hosts": ["nginx.lab.example"], "secretName": "nginx-tls"}],
    }


# --- namespaces and secrets -----------------------------------------------------------------


def test_namespaces_skip_the_built_in_ones_and_are_emitted_once():
    cluster = make_cluster(
        apps=[
            {"name": "a", "image": "x:1", "namespace": "web"},
            {"name": "b", "image": "x:1"},
            {"name": "c", "image": "x:1", "namespace": "kube-system"},
        ],
        external=[{"name": "db", "namespace": "web", "externalName": "db.example"}],
        secrets=[{"name": "s", "namespace": "vault", "fromEnv": {"k": "K"}}],
    )
    assert [n["metadata"]["name"] for n in render_namespaces(cluster)] == ["vault", "web"]


def test_secret_holds_no_values_only_the_env_var_names():
    cluster = make_cluster(
        secrets=[
            {
                "name": "db",
                "namespace": "prod",
                "type": "kubernetes.io/basic-auth",
                "fromEnv": {"username": "DB_USER", "password": "DB_PASSWORD"},
            }
        ]
    )
    (secret,) = render_secret(cluster.secrets[0])
    assert "data" not in secret and "stringData" not in secret
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["metadata"]["annotations"] == {
        "kgit.dev/from-env": '{"password": "DB_PASSWORD", "username": "DB_USER"}'
    }
    assert json.loads(secret["metadata"]["annotations"]["kgit.dev/from-env"]) == {
        "username": "DB_USER",
        "password": "DB_PASSWORD",
    }


# --- external services --------------------------------------------------------------------


def test_external_service_port_names_match_across_service_and_endpoints():
    cluster = make_cluster(
        external=[
            {
                "name": "pg",
                "namespace": "prod",
                "addresses": ["10.0.0.5", "10.0.0.6"],
                "ports": [{"name": "postgres", "port": 5432, "targetPort": 15432}, 9187],
            }
        ]
    )
    objects = by_kind(render_external_service(cluster, cluster.external_services[0]))
    service_ports = objects["Service"]["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in service_ports] == [
        ("postgres", 5432, 15432),
        ("tcp-9187", 9187, 9187),
    ]
    expected = [("postgres", 15432), ("tcp-9187", 9187)]
    assert [(p["name"], p["port"]) for p in objects["EndpointSlice"]["ports"]] == expected
    assert [(p["name"], p["port"]) for p in objects["Endpoints"]["subsets"][0]["ports"]] == (
        expected
    )


def test_endpoint_slice_is_owned_by_kgit_not_the_builtin_controller():
    cluster = make_cluster(external=[{"name": "pg", "addresses": ["10.0.0.5"], "ports": [5432]}])
    objects = by_kind(render_external_service(cluster, cluster.external_services[0]))
    labels = objects["EndpointSlice"]["metadata"]["labels"]
    assert labels["kubernetes.io/service-name"] == "pg"
    assert labels["endpointslice.kubernetes.io/managed-by"] == "kgit.dev"
    assert objects["EndpointSlice"]["metadata"]["name"] == "pg-kgit-ipv4"
    assert (
        objects["Endpoints"]["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"]
        == "true"
    )


def test_mixed_address_families_get_one_endpoint_slice_each():
    cluster = make_cluster(
        external=[{"name": "pg", "addresses": ["10.0.0.5", "fd00::5", "10.0.0.6"], "ports": [5432]}]
    )
    slices = [
        o
        for o in render_external_service(cluster, cluster.external_services[0])
        if o["kind"] == "EndpointSlice"
    ]
    assert [
        (s["metadata"]["name"], s["addressType"], [e["addresses"][0] for e in s["endpoints"]])
        for s in slices
    ] == [
        ("pg-kgit-ipv4", "IPv4", ["10.0.0.5", "10.0.0.6"]),
        ("pg-kgit-ipv6", "IPv6", ["fd00::5"]),
    ]


@pytest.mark.parametrize(
    ("version", "has_endpoints"),
    [
        pytest.param("1.32.3", True, id="1.32-still-gets-endpoints"),
        pytest.param("1.33.0", False, id="1.33-endpoints-deprecated"),
        pytest.param("1.35.0", False, id="1.35"),
    ],
)
def test_legacy_endpoints_only_before_1_33(version, has_endpoints):
    cluster = make_cluster(
        version=version, external=[{"name": "pg", "addresses": ["10.0.0.5"], "ports": [5432]}]
    )
    kinds = [o["kind"] for o in render_external_service(cluster, cluster.external_services[0])]
    assert kinds == ["Service", "EndpointSlice"] + (["Endpoints"] if has_endpoints else [])


def test_external_name_with_an_ip_address_is_refused_clearly():
    from compiler.core.errors import SpecError
    from compiler.core.sources import MemoryTree

    spec = (
        "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata: {name: lab}\nspec:\n"
        '  kubernetes: {version: "1.31.4"}\n'
        "  nodes:\n    - {name: cp, address: 192.168.10.10, role: control-plane}\n"
        "  externalServices:\n    - {name: db, externalName: 10.0.0.1}\n"
    )
    with pytest.raises(SpecError) as caught:
        compile_tree(MemoryTree({"cluster.yaml": spec.encode()}), CompileOptions())
    assert str(caught.value) == (
        "cluster.yaml:9:32: spec.externalServices[0].externalName: must be a DNS name, not the "
        "IP address 10.0.0.1; use addresses and ports for an IP"
    )
