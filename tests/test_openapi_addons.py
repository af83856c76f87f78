"""Every add-on object kgit emits is valid for the cluster's Kubernetes version.

The oracle is Kubernetes' own OpenAPI schema, in strict mode (unknown fields rejected), as
packaged by kubernetes-validate (schemas for 1.25 and newer). Objects are checked as they are
written: through kgit's YAML emitter and back. PodSecurityPolicy objects of the PSP flannel
file are never emitted for 1.25+ (kgit leaves them out; see docs/addons.md), and there is no
1.24 schema to check them against.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from compiler.compile.addons import baseline_text, parse_manifest
from compiler.compile.render.flannel import render_flannel
from compiler.compile.render.ingress_nginx import render_ingress_nginx
from compiler.core import yamlout
from tests.test_addons_support import load_objects, make_cluster, schema_version

VERSIONS = ["1.25.3", "1.31.4", "1.36.1"]
FLANNEL_BASES = [
    "baseline",
    "kube-flannel-v0.22.3.yml",
    "kube-flannel-v0.26.7.yml",
    "kube-flannel-v0.28.9.yml",
    "kube-flannel-psp-v0.28.1.yml",
]
INGRESS_BASES = [
    "baseline",
    "ingress-nginx-baremetal-controller-v1.12.1.yaml",
    "ingress-nginx-baremetal-controller-v1.15.1.yaml",
    "ingress-nginx-cloud-controller-v1.12.1.yaml",
    "ingress-nginx-cloud-controller-v1.15.1.yaml",
]
FLANNEL_NETWORK = {
    "podSubnet": "10.32.0.0/12",
    "kubeProxyMode": "nftables",
    "flannel": {
        "backend": "vxlan",
        "backendOptions": {"VNI": 4096, "Port": 4789},
        "iface": "ens3",
        "imageRegistry": "mirror.lab:5000/ghcr",
    },
}
NGINX_CONFIGS = {
    "daemonset-nodeport": {
        "kind": "DaemonSet",
        "exposure": "NodePort",
        "nodePorts": {"http": 30080, "https": 30443},
        "externalTrafficPolicy": "Local",
        "nodeSelector": {"ingress": "true"},
        "tolerations": [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}, "limits": {"memory": "1Gi"}},
        "imageRegistry": "harbor.lab/k8s",
    },
    "deployment-loadbalancer": {"kind": "Deployment", "replicas": 2, "exposure": "LoadBalancer"},
    "daemonset-hostnetwork": {"exposure": "HostNetwork", "ingressClass": {"name": "edge"}},
}


def _base(addon: str, name: str, upstream_dir) -> list[dict]:
    if name == "baseline":
        return parse_manifest(baseline_text(addon))
    return load_objects(upstream_dir() / name)


def _assert_valid(objects: list[dict], version: str) -> None:
    problems = []
    for obj in yaml.safe_load_all(yamlout.dump_all(objects)):
        try:
            kubernetes_validate.validate(obj, schema_version(version), strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert problems == []


def _names(objects):
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


@pytest.fixture
def upstream_dir(request):
    """The upstream folder, asked for only by upstream cases (the baseline needs none)."""
    return lambda: request.getfixturevalue("upstream")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", FLANNEL_BASES)
def test_flannel_objects_validate_strictly(name, version, upstream_dir):
    base = _base("flannel", name, upstream_dir)
    result = render_flannel(make_cluster(network=FLANNEL_NETWORK, version=version), base)
    # Every object of the base is validated, none silently dropped: only the
    # PodSecurityPolicy goes (no such API since 1.25, see the PSP test below).
    assert sorted(_names(result)) == sorted(
        _names(o for o in base if o["kind"] != "PodSecurityPolicy")
    )
    _assert_valid(result, version)


@pytest.mark.parametrize(
    ("config", "version"),
    [
        *((config, "1.31.4") for config in NGINX_CONFIGS),
        ("daemonset-nodeport", "1.25.3"),
        ("daemonset-nodeport", "1.36.1"),
    ],
)
@pytest.mark.parametrize("name", INGRESS_BASES)
def test_ingress_nginx_objects_validate_strictly(name, config, version, upstream_dir):
    base = _base("ingress-nginx", name, upstream_dir)
    cluster = make_cluster(nginx=NGINX_CONFIGS[config], version=version)
    result = render_ingress_nginx(cluster, base)
    assert len(result) == len(base)
    _assert_valid(result, version)


def test_the_validator_rejects_an_unknown_field():
    """The oracle has teeth: strict mode rejects what the API server would not accept."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"f": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, "1.31.0", strict=True)


def test_psp_objects_would_not_validate_on_125(upstream: Path):
    """Why kgit leaves them out: 1.25+ has no schema (no API) for policy/v1beta1 PSPs."""
    psp = next(
        o
        for o in load_objects(upstream / "kube-flannel-psp-v0.28.1.yml")
        if o["kind"] == "PodSecurityPolicy"
    )
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(psp, "1.25.0", strict=True)
