"""kube-vip as a static pod on every control-plane node: the control-plane VIP.

ARP mode with leader election (a Lease in kube-system): one control-plane node holds the
address and answers ARP for it; when it fails, another takes it over. It is the common
kubeadm HA setup without an external load balancer (https://kube-vip.io/docs/installation/static/).

kubeadm's order matters. On the first control-plane node the manifest is installed before
``kubeadm init``, so the VIP is up when kubeadm waits for the API server through
controlPlaneEndpoint; from Kubernetes 1.29, admin.conf gets its rights through a
ClusterRoleBinding that only exists after init, so kube-vip uses super-admin.conf there.
On the other control-plane nodes it is installed after ``kubeadm join`` (its admin.conf is
written by the join), as kube-vip's guide says.
"""

from __future__ import annotations

from typing import Any

from compiler.compile.model import API_SERVER_PORT, Cluster, Node

MANIFEST_PATH = "/etc/kubernetes/manifests/kube-vip.yaml"
SUPER_ADMIN_SINCE_MINOR = 29


def kubeconfig_path(cluster: Cluster, node: Node) -> str:
    if node.is_init and cluster.kubernetes.version.minor >= SUPER_ADMIN_SINCE_MINOR:
        return "/etc/kubernetes/super-admin.conf"
    return "/etc/kubernetes/admin.conf"


def kube_vip_pod(cluster: Cluster, node: Node) -> dict[str, Any]:
    vip = cluster.vip
    assert vip is not None and node.role == "control-plane"
    env = {
        "vip_arp": "true",
        "port": str(API_SERVER_PORT),
        "vip_interface": vip.interface,
        "vip_cidr": "128" if ":" in vip.address else "32",
        "cp_enable": "true",
        "cp_namespace": "kube-system",
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "5",
        "vip_renewdeadline": "3",
        "vip_retryperiod": "1",
        "address": vip.address,
    }
    kubeconfig = kubeconfig_path(cluster, node)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [
                {
                    "name": "kube-vip",
                    "image": vip.image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["manager"],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                    "volumeMounts": [
                        {"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}
                    ],
                }
            ],
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "hostNetwork": True,
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}],
        },
    }
