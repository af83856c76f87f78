"""The model: every default of a minimal spec, filled in by model.py alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from compiler.compile.load import load_document_text
from compiler.compile.model import build_cluster
from compiler.compile.validate import validate_document
from compiler.core.sources import MemoryTree

MINIMAL = """\
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
    - name: w-1
      address: 192.168.10.11
      role: worker
"""


def _cluster(text: str = MINIMAL):  # type: ignore[no-untyped-def]
    doc = load_document_text(text, "cluster.yaml")
    validate_document(doc, MemoryTree({}))
    return build_cluster(doc.data, "cluster.yaml")


def test_minimal_spec_gets_every_default() -> None:
    cluster = _cluster()
    kube = cluster.kubernetes
    assert (cluster.name, cluster.spec_file) == ("lab", "cluster.yaml")
    assert str(kube.version) == "1.31.4"
    assert kube.image_repository == "registry.k8s.io"
    assert kube.control_plane_endpoint == "192.168.10.10:6443"  # the init node, port 6443
    assert kube.cluster_name == "lab"
    assert dict(kube.feature_gates) == {}
    assert dict(kube.api_server.extra_args) == {}
    runtime = cluster.runtime
    assert runtime.name == "containerd"
    assert runtime.pause_image == "registry.k8s.io/pause:3.10"  # kubeadm 1.31's pause
    assert runtime.cgroup_driver == "systemd"
    assert runtime.registry_mirrors == ()
    assert runtime.containerd_config_version == 3
    assert runtime.cri_socket == "unix:///run/containerd/containerd.sock"
    network = cluster.network
    assert (network.pod_subnet, network.service_subnet) == ("10.244.0.0/16", "10.96.0.0/12")
    assert (network.dns_domain, network.kube_proxy_mode) == ("cluster.local", "iptables")
    flannel = network.flannel
    assert (flannel.backend, dict(flannel.backend_options)) == ("vxlan", {})
    assert (flannel.iface, flannel.source, flannel.image_registry) == (None, None, None)
    cp, worker = cluster.nodes
    assert (cp.os, cp.schedulable, cp.is_init, cp.source) == (
        "debian",
        False,
        True,
        f"nodes/{cp.name}",
    )
    assert (worker.schedulable, worker.is_init) == (True, False)
    assert (dict(cp.labels), cp.taints) == ({}, ())
    assert cluster.init_node is cp
    assert cluster.ingress_nginx is None
    assert (cluster.apps, cluster.external_services, cluster.secrets) == ((), (), ())


def test_app_defaults() -> None:
    cluster = _cluster(
        MINIMAL
        + "  apps:\n    - name: web\n      image: nginx:1.25\n      ports: [80]\n"
        + "      ingress: {host: web.example}\n"
    )
    (app,) = cluster.apps
    assert (app.namespace, app.replicas, app.service_type) == ("default", 1, "ClusterIP")
    (port,) = app.ports
    assert (port.container_port, port.name, port.protocol, port.service_port) == (
        80,
        "http-80",
        "TCP",
        80,
    )
    assert app.ingress is not None
    assert (app.ingress.path, app.ingress.path_type, app.ingress.tls_secret) == (
        "/",
        "Prefix",
        None,
    )
    assert app.source == f"apps/{app.namespace}/{app.name}"  # its identity, not its index


def test_ingress_nginx_defaults() -> None:
    nginx = _cluster(MINIMAL + "  ingress:\n    nginx: {}\n").ingress_nginx
    assert nginx is not None
    assert (nginx.kind, nginx.replicas, nginx.exposure) == ("DaemonSet", None, "NodePort")
    assert nginx.node_ports is not None
    assert (nginx.node_ports.http, nginx.node_ports.https) == (30080, 30443)
    assert nginx.external_traffic_policy == "Cluster"
    assert (nginx.ingress_class.name, nginx.ingress_class.default) == ("nginx", True)


def test_model_is_immutable() -> None:
    cluster = _cluster()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cluster.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cluster.kubernetes.feature_gates["X"] = True  # type: ignore[index]


def test_bundled_spec_builds(repo_root: Path) -> None:
    text = (repo_root / "cluster.yaml").read_text(encoding="utf-8")
    tree = MemoryTree({"overlays/nginx.yaml": b""})
    doc = load_document_text(text, "cluster.yaml")
    validate_document(doc, tree)
    cluster = build_cluster(doc.data, "cluster.yaml")
    assert [n.name for n in cluster.nodes] == ["k8s-master", "k8s-worker-1", "k8s-worker-2"]
    assert cluster.nodes[0].schedulable is True
    assert cluster.runtime.pause_image == (
        "registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.10"
    )
    assert cluster.namespaces == ("prod", "web")
