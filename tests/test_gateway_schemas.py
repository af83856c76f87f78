"""Strict schemas for what the gateway path and the add-ons render.

Custom resources (GatewayClass, Gateway, HTTPRoute, ReferenceGrant, NginxGateway,
NginxProxy) are checked against the openAPIV3Schema of their real upstream CRD with
jsonschema (tests/crd_schema.py: structural schema, strict about unknown fields, required
fields, enums, patterns, bounds); the CEL rules (x-kubernetes-validations) that jsonschema
cannot evaluate are reported as warnings, and the one kgit's patches touch (NginxProxy's
"only one of deployment or daemonSet") is checked by hand. Built-in kinds are checked
against Kubernetes' OpenAPI schema in strict mode (kubernetes-validate), as
tests/test_openapi_addons.py does for flannel and ingress-nginx.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from compiler.cli.app import main
from compiler.compile.addons import baseline_text, parse_manifest
from compiler.compile.model import build_cluster
from compiler.compile.render.apps import render_app
from compiler.compile.render.gateway import render_gateway, render_gateway_controller
from compiler.core import yamlout
from tests.crd_schema import problems, schemas_of, unchecked_rules
from tests.gateway_helpers import write_repo
from tests.test_addons_support import MINIMAL_SPEC, load_objects

VERSION = "1.32.0"  # kubernetes-validate has one schema per minor version
GATEWAY_API = "gateway/gateway-api-v1.5.1-standard-install.yaml"
BASES = [
    pytest.param(("baseline", "2.6.7"), id="baseline"),
    pytest.param(("nginx-gateway-fabric-v2.5.1-default.yaml", "2.5.1"), id="v2.5.1-default"),
    pytest.param(("nginx-gateway-fabric-v2.5.1-nodeport.yaml", "2.5.1"), id="v2.5.1-nodeport"),
    pytest.param(("nginx-gateway-fabric-v2.6.7-default.yaml", "2.6.7"), id="v2.6.7-default"),
    pytest.param(("nginx-gateway-fabric-v2.6.7-nodeport.yaml", "2.6.7"), id="v2.6.7-nodeport"),
]
CONFIGS = {
    "daemonset-nodeport": {
        "kind": "DaemonSet",
        "exposure": "NodePort",
        "nodePorts": {"http": 31080, "https": 31443},
        "externalTrafficPolicy": "Local",
        "nodeSelector": {"ingress": "true"},
        "tolerations": [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}, "limits": {"memory": "1Gi"}},
        "imageRegistry": "harbor.lab/ghcr",
    },
    "deployment-loadbalancer": {"kind": "Deployment", "replicas": 3, "exposure": "LoadBalancer"},
    "daemonset-hostnetwork": {"exposure": "HostNetwork"},
}
APPS = [
    {"name": "web", "namespace": "web", "image": "nginx:1.27.0", "ports": [80]}
    | {"ingress": {"host": "web.lab.example"}},
    {"name": "shop", "namespace": "shop", "image": "nginx:1.27.0", "ports": [8080]}
    | {"ingress": {"host": "shop.lab.example", "path": "/api", "pathType": "Exact"}}
    | {"ingress": {"host": "shop.lab.example", "path": "/api", "tlsSecret": "shop-tls"}},
    {"name": "api", "namespace": "api", "image": "nginx:1.27.0", "ports": [9000]}
    | {"ingress": {"host": "*.api.lab.example", "pathType": "ImplementationSpecific"}},
]
CUSTOM_KINDS = {"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant", "NginxGateway"} | {
    "NginxProxy"
}


@functools.cache
def _crds(upstream: Path, ngf_version: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The schemas of the Gateway API CRDs and NGF's (read once: the files are large)."""
    ngf = f"gateway/nginx-gateway-fabric-v{ngf_version}-crds.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return schemas_of(
        [
            doc
            for name in (GATEWAY_API, ngf)
            for doc in yaml.load_all((upstream / name).read_text(), Loader=loader)
            if doc
        ]
    )


def _render(upstream: Path, base_name: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object of the gateway path, as kgit writes it (through its YAML emitter)."""
    if base_name == "baseline":
        base = parse_manifest(baseline_text("nginx-gateway-fabric"))
    else:
        base = load_objects(upstream / "gateway" / base_name)
    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    spec["spec"]["kubernetes"]["version"] = "1.32.2"
    spec["spec"]["ingress"] = {"gateway": config}
    spec["spec"]["apps"] = APPS
    cluster = build_cluster(spec)
    controller, ref = render_gateway_controller(cluster, base)
    objects = [*controller, *render_gateway(cluster, ref)]
    for app in cluster.apps:
        objects += render_app(cluster, app, ref)
    return list(yaml.safe_load_all(yamlout.dump_all(objects)))


def _builtin_problems(objects: list[dict[str, Any]]) -> list[str]:
    found = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    return found


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("base", BASES)
def test_gateway_path_objects_match_their_schemas(upstream: Path, base, config):
    base_name, ngf_version = base
    crds = _crds(upstream, ngf_version)
    objects = _render(upstream, base_name, CONFIGS[config])
    custom = [o for o in objects if (o["apiVersion"], o["kind"]) in crds]
    builtin = [o for o in objects if (o["apiVersion"], o["kind"]) not in crds]
    # Nothing escapes both checks: every custom kind kgit renders has its CRD here.
    assert {o["kind"] for o in custom} == CUSTOM_KINDS
    assert not [o for o in builtin if o["kind"] in CUSTOM_KINDS]
    found = [p for o in custom for p in problems(o, crds[(o["apiVersion"], o["kind"])])]
    assert found == []
    assert _builtin_problems(builtin) == []


def test_nginx_proxy_rule_only_one_of_deployment_or_daemon_set_holds(upstream: Path):
    # The CEL rule kgit's workload patch is about, checked by hand.
    for config in CONFIGS.values():
        for base_name, _version in (b.values[0] for b in BASES):
            proxy = next(
                o for o in _render(upstream, base_name, config) if o["kind"] == "NginxProxy"
            )
            kube = proxy["spec"]["kubernetes"]
            assert ("deployment" in kube) != ("daemonSet" in kube), (base_name, config)


def test_cel_rules_that_jsonschema_cannot_check_are_reported(upstream: Path):
    crds = _crds(upstream, "2.6.7")
    objects = _render(upstream, "baseline", CONFIGS["daemonset-nodeport"])
    report = sorted(
        {
            f"{o['kind']}: {rule}"
            for o in objects
            if (o["apiVersion"], o["kind"]) in crds
            for rule in unchecked_rules(o, crds[(o["apiVersion"], o["kind"])])
        }
    )
    # The Gateway's listener rules and NginxProxy's one-of rule are among them.
    assert any(line.startswith("Gateway: spec.listeners") for line in report)
    assert "NginxProxy: spec.kubernetes: only one of deployment or daemonSet can be set" in report
    warnings.warn(
        f"{len(report)} CEL rules (x-kubernetes-validations) not checked by jsonschema:\n"
        + "\n".join(report),
        stacklevel=1,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda p: p["spec"]["kubernetes"]["service"].update(type="NodePorts"),
            "spec.kubernetes.service.type: 'NodePorts' is not one of "
            "['ClusterIP', 'LoadBalancer', 'NodePort']",
            id="enum",
        ),
        pytest.param(
            lambda p: p["spec"]["kubernetes"]["service"]["nodePorts"][0].pop("listenerPort"),
            "spec.kubernetes.service.nodePorts.0: 'listenerPort' is a required property",
            id="required",
        ),
        pytest.param(
            lambda p: p["spec"]["kubernetes"].update(hostNetwork=True),
            "spec.kubernetes: Additional properties are not allowed ('hostNetwork' was unexpected)",
            id="unknown-field",
        ),
    ],
)
def test_the_crd_check_has_teeth(upstream: Path, change, expected):
    crds = _crds(upstream, "2.6.7")
    objects = _render(upstream, "baseline", CONFIGS["daemonset-nodeport"])
    proxy = next(o for o in objects if o["kind"] == "NginxProxy")
    change(proxy)
    assert problems(proxy, crds[(proxy["apiVersion"], "NginxProxy")]) == [
        f"NginxProxy/nginx-gateway-proxy-config: {expected}"
    ]


def test_compiled_gateway_cluster_validates_against_its_own_crds_and_kubernetes(
    upstream: Path, tmp_path: Path
):
    # The migration's end state, compiled: every object of out/ is checked, the custom
    # resources against the CRDs that the add-ons put in out/ themselves.
    spec = write_repo(tmp_path, upstream, "gateway")
    assert main(["compile", "-f", str(spec)]) == 0
    objects = [
        doc
        for path in sorted((tmp_path / "out" / "manifests").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    crds = schemas_of(objects)
    custom = [o for o in objects if (o["apiVersion"], o["kind"]) in crds]
    builtin = [o for o in objects if (o["apiVersion"], o["kind"]) not in crds]
    assert {o["kind"] for o in custom} == CUSTOM_KINDS
    assert [p for o in custom for p in problems(o, crds[(o["apiVersion"], o["kind"])])] == []
    assert _builtin_problems(builtin) == []
    assert len(objects) == 51
