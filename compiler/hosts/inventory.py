"""What each node should be: the model's nodes plus their compiled out/hosts/<node>/ files.

Pure: built from the validated Cluster and the bytes of out/ (read by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compiler.compile.model import Cluster, Node, Ssh
from compiler.compile.render import kubeadm
from compiler.core.errors import KgitError
from compiler.core.versions import KubeVersion


@dataclass(frozen=True)
class SshSettings:
    """How to reach one host. None means "as ~/.ssh/config (or OpenSSH's default) says"."""

    host: str
    port: int | None = None  # None: ~/.ssh/config's Port, else 22
    user: str | None = None
    identity_file: str | None = None
    bastion: SshSettings | None = None
    host_key: str | None = None  # pinned "ssh-ed25519 AAAA..." instead of known_hosts


@dataclass(frozen=True)
class UpgradePolicy:
    max_unavailable: int = 1  # workers drained and upgraded at the same time
    drain_timeout: int = 300  # seconds to wait for evictions (PodDisruptionBudgets) per node


@dataclass(frozen=True)
class HostNode:
    name: str
    role: str  # control-plane | worker
    os: str  # debian | rhel
    is_init: bool
    address: str
    ssh: SshSettings
    labels: Mapping[str, str]
    taints: tuple[tuple[str, str, str], ...]  # (key, value, effect); value "" when none
    runtime_package: str
    script: str  # out/hosts/<node>/provision.sh
    kubeadm_config: str  # out/hosts/<node>/kubeadm.yaml


@dataclass(frozen=True)
class Inventory:
    cluster: str
    version: KubeVersion
    nodes: tuple[HostNode, ...]
    policy: UpgradePolicy = field(default_factory=UpgradePolicy)

    @property
    def init_node(self) -> HostNode:
        return next(node for node in self.nodes if node.is_init)

    def node(self, name: str) -> HostNode:
        return next(node for node in self.nodes if node.name == name)


def desired_taints(node: Node) -> tuple[tuple[str, str, str], ...]:
    """The taints kubeadm registers the node with (the control-plane one included)."""
    return tuple((t["key"], t.get("value", ""), t["effect"]) for t in kubeadm.node_taints(node))


def _runtime_package(cluster: Cluster, node: Node) -> str:
    if cluster.runtime.name == "crio":
        return "cri-o"
    return "containerd" if node.os == "debian" else "containerd.io"


def parse_bastion(text: str) -> SshSettings:
    """``[user@]host[:port]`` (OpenSSH's ProxyJump form) as settings."""
    user, at, rest = text.rpartition("@")
    host, colon, port = rest.partition(":")
    return SshSettings(host=host, port=int(port) if colon else None, user=user if at else None)


def ssh_settings(node: Node, ssh: Ssh) -> SshSettings:
    return SshSettings(
        host=ssh.host or node.address,
        port=ssh.port,
        user=ssh.user,
        identity_file=ssh.identity_file,
        bastion=parse_bastion(ssh.bastion) if ssh.bastion else None,
        host_key=ssh.host_key,
    )


def _text(files: Mapping[str, bytes], path: str) -> str:
    try:
        return files[path].decode()
    except KeyError:
        raise KgitError(f"out/{path} is missing: run `kgit compile` first") from None


def build_inventory(
    cluster: Cluster,
    files: Mapping[str, bytes],
    ssh: Mapping[str, SshSettings] | None = None,
    policy: UpgradePolicy | None = None,
) -> Inventory:
    """The inventory of ``cluster`` with its scripts from out/ (``files``: path -> bytes).

    Each node is reached as its ``ssh`` settings in cluster.yaml say, unless ``ssh`` (tests,
    tools) gives its connection here."""
    nodes = tuple(
        HostNode(
            name=node.name,
            role=node.role,
            os=node.os,
            is_init=node.is_init,
            address=node.address,
            ssh=(ssh or {}).get(node.name) or ssh_settings(node, node.ssh),
            labels=dict(node.labels),
            taints=desired_taints(node),
            runtime_package=_runtime_package(cluster, node),
            script=_text(files, f"hosts/{node.name}/provision.sh"),
            kubeadm_config=_text(files, f"hosts/{node.name}/kubeadm.yaml"),
        )
        for node in cluster.nodes
    )
    policy = policy or UpgradePolicy(
        cluster.upgrade.max_unavailable, cluster.upgrade.drain_timeout_seconds
    )
    return Inventory(cluster.name, cluster.kubernetes.version, nodes, policy)
