# ruff: noqa: E501  (expected messages and specs are asserted exactly, and they are long lines)
"""The Gateway API path: NGINX Gateway Fabric patched through NginxProxy, the Gateway, and
the HTTPRoutes that replace the apps' Ingresses. The bases are kgit's baseline and every
upstream NGF deploy.yaml in ../shared/upstream/gateway (v2.5.1 and v2.6.7, default and
nodeport flavours)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from compiler.cli.app import main
from compiler.compile.addons import baseline_text, parse_manifest
from compiler.compile.model import build_cluster
from compiler.compile.render.apps import render_app
from compiler.compile.render.gateway import (
    GatewayRef,
    gateway_warnings,
    render_gateway,
    render_gateway_controller,
)
from tests.test_addons_support import MINIMAL_SPEC, load_objects, manifest_diff

NGF_FILES = [
    "nginx-gateway-fabric-v2.5.1-default.yaml",
    "nginx-gateway-fabric-v2.5.1-nodeport.yaml",
    "nginx-gateway-fabric-v2.6.7-default.yaml",
    "nginx-gateway-fabric-v2.6.7-nodeport.yaml",
]
JOB_SUFFIX = re.compile(r"-[0-9a-f]{10}$")
REF = GatewayRef("kgit", "nginx-gateway", "nginx")
WEB = {"name": "web", "namespace": "web", "image": "nginx:1.27.0", "ports": [8080]}


def cluster(gateway: dict[str, Any] | None = None, *, apps=(), nginx=None):
    spec = copy.deepcopy(MINIMAL_SPEC)
    ingress: dict[str, Any] = {}
    if gateway is not None:
        ingress["gateway"] = gateway
    if nginx is not None:
        ingress["nginx"] = nginx
    if ingress:
        spec["spec"]["ingress"] = ingress
    if apps:
        spec["spec"]["apps"] = [copy.deepcopy(a) for a in apps]
    return build_cluster(spec)


def _baseline() -> list[dict[str, Any]]:
    return parse_manifest(baseline_text("nginx-gateway-fabric"))


def _pair(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{JOB_SUFFIX.sub('', obj['metadata']['name'])}"


def _one(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, (kind, found)
    return found[0]


def _proxy_kube(gateway: dict[str, Any], base=None) -> dict[str, Any]:
    objects, _ref = render_gateway_controller(cluster(gateway), base or _baseline())
    return _one(objects, "NginxProxy")["spec"]["kubernetes"]


# --- the baseline ---------------------------------------------------------------------------


def test_baseline_is_upstream_v2_6_7_plus_nothing(upstream: Path):
    latest = load_objects(upstream / "gateway" / "nginx-gateway-fabric-v2.6.7-default.yaml")
    assert _baseline() == latest


# --- NginxProxy: exactly the intended changes, on every upstream file -----------------------


@pytest.mark.parametrize("name", NGF_FILES)
def test_patches_change_only_what_the_spec_asks_on_upstream_files(upstream: Path, name: str):
    base = load_objects(upstream / "gateway" / name)
    gateway = {"nodeSelector": {"ingress": "true"}, "resources": {"requests": {"cpu": "100m"}}}
    objects, ref = render_gateway_controller(cluster(gateway), base)
    assert ref == REF
    proxy_changes = {
        "spec.kubernetes.deployment",
        "spec.kubernetes.daemonSet",
        "spec.kubernetes.service.externalTrafficPolicy",
        "spec.kubernetes.service.nodePorts",
    }
    if "default" in name:  # the nodeport flavour is a NodePort Service already
        proxy_changes.add("spec.kubernetes.service.type")
    assert manifest_diff(base, objects, pair=_pair) == {
        "NginxProxy/nginx-gateway-proxy-config": proxy_changes,
        # The cert generator as ingress-nginx's admission Jobs: named after its spec, kept.
        "Job/nginx-gateway-cert-generator": {
            "metadata.name",
            "metadata.annotations",
            "spec.ttlSecondsAfterFinished",
            "spec.template.metadata.annotations",  # upstream's `annotations: null`
        },
    }
    daemon_set = _one(objects, "NginxProxy")["spec"]["kubernetes"]["daemonSet"]
    old = _one(base, "NginxProxy")["spec"]["kubernetes"]["deployment"]
    assert daemon_set == {
        "container": {**old["container"], "resources": {"requests": {"cpu": "100m"}}},
        "pod": {"nodeSelector": {"ingress": "true"}},
    }


def test_base_is_not_changed_and_rendering_twice_changes_nothing():
    base = _baseline()
    before = copy.deepcopy(base)
    spec = cluster({"kind": "Deployment", "replicas": 2, "exposure": "HostNetwork"})
    once, _ = render_gateway_controller(spec, base)
    twice, _ = render_gateway_controller(spec, once)
    assert base == before
    assert once == twice


@pytest.mark.parametrize(
    ("gateway", "service"),
    [
        pytest.param(
            {},
            {
                "externalTrafficPolicy": "Cluster",
                "type": "NodePort",
                "nodePorts": [
                    {"port": 30080, "listenerPort": 80},
                    {"port": 30443, "listenerPort": 443},
                ],
            },
            id="nodeport-default-ports",
        ),
        pytest.param(
            {"nodePorts": {"http": 31080, "https": 31443}, "externalTrafficPolicy": "Local"},
            {
                "externalTrafficPolicy": "Local",
                "type": "NodePort",
                "nodePorts": [
                    {"port": 31080, "listenerPort": 80},
                    {"port": 31443, "listenerPort": 443},
                ],
            },
            id="nodeport-fixed-ports",
        ),
        pytest.param({"exposure": "HostNetwork"}, {"type": "ClusterIP"}, id="host-network"),
        pytest.param(
            {"exposure": "LoadBalancer"},
            {"externalTrafficPolicy": "Cluster", "type": "LoadBalancer"},
            id="load-balancer",
        ),
    ],
)
def test_exposure_shapes_the_data_plane_service(gateway, service):
    assert _proxy_kube(gateway)["service"] == service


def test_host_network_is_a_strategic_merge_patch_of_the_data_plane():
    kube = _proxy_kube({"exposure": "HostNetwork"})
    assert kube["daemonSet"]["patches"] == [
        {
            "type": "StrategicMerge",
            "value": {
                "spec": {
                    "template": {
                        "spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}
                    }
                }
            },
        }
    ]
    assert "patches" not in _proxy_kube({"exposure": "NodePort"})["daemonSet"]


def test_deployment_kind_sets_replicas_and_drops_the_daemon_set():
    kube = _proxy_kube({"kind": "Deployment", "replicas": 3})
    assert "daemonSet" not in kube
    assert kube["deployment"]["replicas"] == 3
    assert kube["deployment"]["container"]["image"]["tag"] == "2.6.7"


def test_tolerations_go_to_the_data_plane_pods():
    toleration = {"key": "edge", "operator": "Exists", "effect": "NoSchedule"}
    kube = _proxy_kube({"tolerations": [toleration]})
    assert kube["daemonSet"]["pod"] == {"tolerations": [toleration]}


def test_image_registry_mirrors_control_plane_job_and_data_plane_images():
    objects, _ = render_gateway_controller(
        cluster({"imageRegistry": "mirror.lab:5000"}), _baseline()
    )
    deployment = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    job = _one(objects, "Job")["spec"]["template"]["spec"]["containers"][0]
    proxy = _one(objects, "NginxProxy")["spec"]["kubernetes"]["daemonSet"]["container"]
    assert deployment["image"] == "mirror.lab:5000/nginx/nginx-gateway-fabric:2.6.7"
    assert job["image"] == "mirror.lab:5000/nginx/nginx-gateway-fabric:2.6.7"
    assert proxy["image"]["repository"] == "mirror.lab:5000/nginx/nginx-gateway-fabric/nginx"


# --- the Gateway and the HTTPRoutes ---------------------------------------------------------


def test_gateway_has_an_http_listener_and_one_https_listener_per_tls_host():
    apps = [
        {**WEB, "ingress": {"host": "web.lab.example"}},
        {
            **WEB,
            "name": "shop",
            "namespace": "shop",
            "ingress": {"host": "shop.lab.example", "tlsSecret": "shop-tls"},
        },
    ]
    gateway, grant = render_gateway(cluster({}, apps=apps), REF)
    assert gateway["spec"]["gatewayClassName"] == "nginx"
    assert [(x["name"], x["port"], x["protocol"]) for x in gateway["spec"]["listeners"]] == [
        ("http", 80, "HTTP"),
        ("https-shop.lab.example", 443, "HTTPS"),
    ]
    https = gateway["spec"]["listeners"][1]
    assert https["hostname"] == "shop.lab.example"
    assert https["tls"]["certificateRefs"] == [
        {"group": "", "kind": "Secret", "name": "shop-tls", "namespace": "shop"}
    ]
    assert grant["kind"] == "ReferenceGrant"
    assert grant["metadata"]["namespace"] == "shop"
    assert grant["spec"]["to"] == [{"group": "", "kind": "Secret", "name": "shop-tls"}]


@pytest.mark.parametrize(
    ("path_type", "expected"),
    [
        pytest.param("Prefix", "PathPrefix", id="prefix"),
        pytest.param("Exact", "Exact", id="exact"),
        pytest.param("ImplementationSpecific", "PathPrefix", id="implementation-specific"),
    ],
)
def test_route_keeps_the_ingress_host_and_path(path_type, expected):
    app_spec = {
        **WEB,
        "ingress": {"host": "web.lab.example", "path": "/api", "pathType": path_type},
    }
    spec = cluster({}, apps=[app_spec])
    objects = render_app(spec, spec.apps[0], REF)
    assert [o["kind"] for o in objects] == ["Deployment", "Service", "HTTPRoute"]
    route = objects[2]["spec"]
    assert route["hostnames"] == ["web.lab.example"]
    assert route["parentRefs"][0]["sectionName"] == "http"
    assert route["rules"] == [
        {
            "matches": [{"path": {"type": expected, "value": "/api"}}],
            "backendRefs": [{"name": "web", "port": 8080}],
        }
    ]


def test_tls_app_is_served_on_https_and_redirected_from_http():
    app_spec = {**WEB, "ingress": {"host": "web.lab.example", "tlsSecret": "web-tls"}}
    spec = cluster({}, apps=[app_spec])
    routes = [o for o in render_app(spec, spec.apps[0], REF) if o["kind"] == "HTTPRoute"]
    assert [(r["metadata"]["name"], r["spec"]["parentRefs"][0]["sectionName"]) for r in routes] == [
        ("web", "https-web.lab.example"),
        ("web-https-redirect", "http"),
    ]
    assert routes[1]["spec"]["rules"][0]["filters"] == [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 308}}
    ]


@pytest.mark.parametrize(
    ("gateway", "nginx", "kinds"),
    [
        pytest.param(None, None, ["Ingress"], id="neither-controller-keeps-the-ingress"),
        pytest.param(None, {}, ["Ingress"], id="nginx"),
        pytest.param({}, {}, ["Ingress", "HTTPRoute"], id="cut-over-serves-both"),
        pytest.param({}, None, ["HTTPRoute"], id="gateway-only"),
    ],
)
def test_app_gets_an_ingress_an_httproute_or_both(gateway, nginx, kinds):
    app_spec = {**WEB, "ingress": {"host": "web.lab.example"}}
    spec = cluster(gateway, nginx=nginx, apps=[app_spec])
    ref = REF if gateway is not None else None
    objects = render_app(spec, spec.apps[0], ref)
    assert [o["kind"] for o in objects][2:] == kinds


def test_implementation_specific_path_is_a_warning_with_the_app():
    ingress = {"host": "web.lab.example", "path": "/api", "pathType": "ImplementationSpecific"}
    warnings = gateway_warnings(
        cluster({}, apps=[{**WEB, "ingress": ingress}]), _baseline(), "kgit:baseline"
    )
    assert warnings == [
        "spec.apps[0].ingress.pathType: ImplementationSpecific becomes PathPrefix in the "
        "HTTPRoute web/web: '/api' matches whole path elements only (ingress-nginx also "
        "matched longer names such as /apix); set pathType: Prefix or Exact to say which"
    ]


def test_implementation_specific_root_path_needs_no_warning():
    # "/" matches every path in both: nothing changes.
    ingress = {"host": "web.lab.example", "path": "/", "pathType": "ImplementationSpecific"}
    spec = cluster({}, apps=[{**WEB, "ingress": ingress}])
    assert gateway_warnings(spec, _baseline(), "kgit:baseline") == []


# --- validation -----------------------------------------------------------------------------

SPEC = """\
apiVersion: kgit.dev/v1alpha1
kind: Cluster
metadata:
  name: lab
spec:
  kubernetes:
    version: "1.31.4"
  nodes:
    - name: cp-1
      address: 192.168.10.10
      role: control-plane
"""


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        pytest.param(
            "  ingress:\n    nginx: {}\n    gateway: {}\n",
            [
                "cluster.yaml:14:5: spec.ingress.gateway: node port 30080 (http) is already "
                "ingress-nginx's http node port; during a cut-over give the gateway its own "
                "nodePorts (docs/migrate-to-gateway.md)",
                "cluster.yaml:14:5: spec.ingress.gateway: node port 30443 (https) is already "
                "ingress-nginx's https node port; during a cut-over give the gateway its own "
                "nodePorts (docs/migrate-to-gateway.md)",
            ],
            id="cut-over-default-ports-collide",
        ),
        pytest.param(
            "  ingress:\n    nginx: {}\n    gateway:\n      nodePorts: {http: 31080, https: 30443}\n",
            [
                "cluster.yaml:15:39: spec.ingress.gateway.nodePorts.https: node port 30443 "
                "(https) is already ingress-nginx's https node port; during a cut-over give "
                "the gateway its own nodePorts (docs/migrate-to-gateway.md)",
            ],
            id="cut-over-one-port-collides",
        ),
        pytest.param(
            "  ingress:\n    gateway:\n      replicas: 2\n",
            [
                "cluster.yaml:14:7: spec.ingress.gateway.replicas: is only valid with kind: Deployment"
            ],
            id="gateway-replicas-with-daemonset",
        ),
        pytest.param(
            "  ingress:\n    gateway:\n      exposure: HostNetwork\n      nodePorts: {http: 31080}\n",
            [
                "cluster.yaml:15:7: spec.ingress.gateway.nodePorts: is only valid with exposure: NodePort"
            ],
            id="gateway-node-ports-without-nodeport",
        ),
        pytest.param(
            "  ingress:\n    gateway: {}\n  apps:\n"
            "    - {name: a, image: nginx:1.27.0, ports: [80], ingress: {host: x.example, tlsSecret: a}}\n"
            "    - {name: b, image: nginx:1.27.0, ports: [80], ingress: {host: x.example, path: /b, tlsSecret: b}}\n",
            [
                "cluster.yaml:16:99: spec.apps[1].ingress.tlsSecret: host x.example already has "
                "the certificate default/a (apps[0]); the Gateway serves one certificate per host"
            ],
            id="gateway-two-certificates-for-one-host",
        ),
    ],
)
def test_invalid_gateway_specs_are_reported_with_positions(tmp_path, capsys, fragment, expected):
    (tmp_path / "cluster.yaml").write_text(SPEC + fragment)
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 1
    err = capsys.readouterr().err
    lines = [
        line.replace(str(tmp_path) + "/", "").removeprefix("error: ") for line in err.splitlines()
    ]
    assert [line for line in lines if line.startswith("cluster.yaml:")] == expected


def test_more_tls_hosts_than_a_gateway_has_listeners_is_an_error(tmp_path, capsys):
    apps = "".join(
        f"    - {{name: a{i}, image: nginx:1.27.0, ports: [80], "
        f"ingress: {{host: h{i}.example, tlsSecret: s{i}}}}}\n"
        for i in range(64)
    )
    (tmp_path / "cluster.yaml").write_text(SPEC + "  ingress:\n    gateway: {}\n  apps:\n" + apps)
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 1
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert err.splitlines() == [
        "error: cluster.yaml:13:5: spec.ingress.gateway: the apps have 64 TLS hosts, but a "
        "Gateway has at most 64 listeners (one for HTTP and one per TLS host: at most 63 TLS "
        "hosts)",
        "1 error found",
    ]


def test_cut_over_with_distinct_ports_is_valid(tmp_path, capsys):
    fragment = (
        "  ingress:\n    nginx: {}\n    gateway:\n      nodePorts: {http: 31080, https: 31443}\n"
    )
    (tmp_path / "cluster.yaml").write_text(SPEC + fragment)
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 0
