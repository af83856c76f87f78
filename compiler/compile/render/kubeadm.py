"""kubeadm configuration per node: what `kubeadm init --config` / `kubeadm join --config` read.

The first control-plane node gets InitConfiguration + ClusterConfiguration +
KubeletConfiguration + KubeProxyConfiguration; every other node gets a JoinConfiguration.
Field names and semantics follow ../shared/upstream/kubeadm-api-reference.md.

Secrets never appear here: the join token, CA certificate hash and certificate key are
written as ``${KGIT_...}`` placeholders that provision.sh fills in on the node, at run time,
from its environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler.compile.model import API_SERVER_PORT, Cluster, Node, Taint, cri_socket
from compiler.core.versions import NFTABLES_BETA_MINOR, KubeVersion

KUBELET_API_VERSION = "kubelet.config.k8s.io/v1beta1"
KUBE_PROXY_API_VERSION = "kubeproxy.config.k8s.io/v1alpha1"

# Placeholders, never values: provision.sh substitutes them from its environment.
JOIN_TOKEN_PLACEHOLDER = "${KGIT_JOIN_TOKEN}"
CA_CERT_HASH_PLACEHOLDER = "${KGIT_CA_CERT_HASH}"
CERT_KEY_PLACEHOLDER = "${KGIT_CERT_KEY}"

CONTROL_PLANE_TAINT: Mapping[str, str] = {
    "key": "node-role.kubernetes.io/control-plane",
    "effect": "NoSchedule",
}

# KubeletConfiguration.containerRuntimeEndpoint exists from kubelet 1.27; before that the
# endpoint was a kubelet flag that kubeadm set from nodeRegistration.criSocket.
_KUBELET_RUNTIME_ENDPOINT_SINCE = 27


def uses_v1beta4(version: KubeVersion) -> bool:
    return version.kubeadm_api_version.endswith("/v1beta4")


def extra_args(args: Mapping[str, str], version: KubeVersion) -> Any:
    """Flags as the kubeadm API wants them: a list of {name, value} in v1beta4, a map before."""
    ordered = sorted(args.items())
    if uses_v1beta4(version):
        return [{"name": name, "value": value} for name, value in ordered]
    return dict(ordered)


def _taint(taint: Taint) -> dict[str, str]:
    body = {"key": taint.key, "effect": taint.effect}
    if taint.value is not None:
        body["value"] = taint.value
    return body


def node_taints(node: Node) -> list[dict[str, str]]:
    """The taints a node registers with, always as an explicit list.

    An absent ``taints`` key makes kubeadm add the control-plane NoSchedule taint while an
    empty list means "no taints", so kgit always writes the list it means.
    """
    taints = [_taint(t) for t in node.taints]
    if node.role == "control-plane" and not node.schedulable:
        taints.insert(0, dict(CONTROL_PLANE_TAINT))
    return taints


def kubelet_extra_args(node: Node) -> dict[str, str]:
    # Node labels cannot be set through the kubeadm API; the kubelet's --node-labels flag
    # registers the node with them.
    if not node.labels:
        return {}
    return {"node-labels": ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))}


def _node_registration(cluster: Cluster, node: Node) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": node.name,
        "criSocket": cri_socket(node.runtime),
        "taints": node_taints(node),
    }
    args = kubelet_extra_args(node)
    if args:
        body["kubeletExtraArgs"] = extra_args(args, cluster.kubernetes.version)
    return body


def _api_endpoint(node: Node) -> dict[str, Any]:
    return {"advertiseAddress": node.address, "bindPort": API_SERVER_PORT}


def _component(args: Mapping[str, str], cluster: Cluster) -> dict[str, Any]:
    merged = dict(args)
    gates = cluster.kubernetes.feature_gates
    # spec.kubernetes.featureGates are the Kubernetes components' gates: passed to the
    # control plane as --feature-gates and to the kubelet and kube-proxy configurations.
    # ClusterConfiguration.featureGates is a different thing (kubeadm's own gates).
    if gates and "feature-gates" not in merged:
        merged["feature-gates"] = ",".join(
            f"{name}={'true' if on else 'false'}" for name, on in sorted(gates.items())
        )
    return {"extraArgs": extra_args(merged, cluster.kubernetes.version)} if merged else {}


def init_configuration(cluster: Cluster, node: Node) -> dict[str, Any]:
    # No bootstrapTokens: kubeadm generates a random token at run time, so none is in Git.
    return {
        "apiVersion": cluster.kubernetes.version.kubeadm_api_version,
        "kind": "InitConfiguration",
        "localAPIEndpoint": _api_endpoint(node),
        "nodeRegistration": _node_registration(cluster, node),
    }


def cluster_configuration(cluster: Cluster) -> dict[str, Any]:
    kube = cluster.kubernetes
    body: dict[str, Any] = {
        "apiVersion": kube.version.kubeadm_api_version,
        "kind": "ClusterConfiguration",
        "kubernetesVersion": f"v{kube.version}",
        "clusterName": kube.cluster_name,
        "controlPlaneEndpoint": kube.control_plane_endpoint,
        "imageRepository": kube.image_repository,
        "networking": {
            "podSubnet": cluster.network.pod_subnet,
            "serviceSubnet": cluster.network.service_subnet,
            "dnsDomain": cluster.network.dns_domain,
        },
    }
    if kube.cert_sans:
        body["apiServer"] = {"certSANs": list(kube.cert_sans)}
    for key, component in (
        ("apiServer", kube.api_server),
        ("controllerManager", kube.controller_manager),
        ("scheduler", kube.scheduler),
    ):
        section = _component(component.extra_args, cluster)
        if section:
            body[key] = {**body.get(key, {}), **section}
    return body


def kubelet_configuration(cluster: Cluster) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": KUBELET_API_VERSION,
        "kind": "KubeletConfiguration",
        # Must match the runtime's cgroup manager, or pods fail to start.
        "cgroupDriver": cluster.runtime.cgroup_driver,
    }
    if cluster.kubernetes.version.minor >= _KUBELET_RUNTIME_ENDPOINT_SINCE:
        # kubeadm replaces it on each node with that node's nodeRegistration.criSocket.
        body["containerRuntimeEndpoint"] = cri_socket(cluster.init_node.runtime)
    if cluster.kubernetes.feature_gates:
        body["featureGates"] = dict(cluster.kubernetes.feature_gates)
    return body


def _uses_load_balancer(cluster: Cluster) -> bool:
    nginx = cluster.ingress_nginx
    if nginx is not None and nginx.exposure == "LoadBalancer":
        return True
    return any(app.service_type == "LoadBalancer" for app in cluster.apps)


def kube_proxy_configuration(cluster: Cluster) -> dict[str, Any]:
    mode = cluster.network.kube_proxy_mode
    minor = cluster.kubernetes.version.minor
    body: dict[str, Any] = {
        "apiVersion": KUBE_PROXY_API_VERSION,
        "kind": "KubeProxyConfiguration",
        "mode": mode,
        "clusterCIDR": cluster.network.pod_subnet,
    }
    if mode == "ipvs" and _uses_load_balancer(cluster):
        # A bare-metal load balancer (MetalLB in L2 mode) needs strict ARP under ipvs, or
        # every node answers ARP for every Service address bound to kube-ipvs0.
        body["ipvs"] = {"strictARP": True}
    gates = dict(cluster.kubernetes.feature_gates)
    # Validation refuses nftables before 1.29 and asks for the gate before 1.31; set it
    # anyway, so that a kubeadm.yaml never depends on the spec having it.
    if mode == "nftables" and minor < NFTABLES_BETA_MINOR:
        gates["NFTablesProxyMode"] = True
    if gates:
        body["featureGates"] = dict(sorted(gates.items()))
    return body


def join_configuration(cluster: Cluster, node: Node) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": cluster.kubernetes.version.kubeadm_api_version,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": cluster.kubernetes.control_plane_endpoint,
                "token": JOIN_TOKEN_PLACEHOLDER,
                "caCertHashes": [CA_CERT_HASH_PLACEHOLDER],
            }
        },
        "nodeRegistration": _node_registration(cluster, node),
    }
    if node.role == "control-plane":
        body["controlPlane"] = {
            "localAPIEndpoint": _api_endpoint(node),
            "certificateKey": CERT_KEY_PLACEHOLDER,
        }
    return body


def kubeadm_documents(cluster: Cluster, node: Node) -> list[dict[str, Any]]:
    """The documents of the node's kubeadm.yaml, in the order kubeadm prints them."""
    if node.is_init:
        return [
            init_configuration(cluster, node),
            cluster_configuration(cluster),
            kubelet_configuration(cluster),
            kube_proxy_configuration(cluster),
        ]
    return [join_configuration(cluster, node)]
