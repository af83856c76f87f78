"""A test cluster of nodes behind the real sshd, with the test API server as its control
plane's API: compile a spec whose node addresses are the sshd's loopback addresses, and
build the host inventory that reaches them.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compiler.compile.render.hosts import render_hosts
from compiler.hosts.apply import HostOptions, apply_hosts, plan_hosts
from compiler.hosts.inventory import Inventory, build_inventory
from compiler.hosts.ssh import HostKeyTrust
from tests.apiserver import ApiServer
from tests.hosts_helpers import cluster_of
from tests.ssh_nodes import SshNodes

TOKEN_RE = r"[a-z0-9]{6}\.[a-z0-9]{16}"


def node_spec(nodes: list[tuple[str, str]], version: str = "1.31.4", **extra: Any) -> dict:
    """A debian + CRI-O spec; ``nodes`` are (name, role); addresses are filled in later."""
    body: dict[str, Any] = {
        "kubernetes": {
            "version": version,
            "imageRepository": "registry.example/k8s",
            "controlPlaneEndpoint": "10.0.0.5:6443",
        },
        "runtime": {"name": "crio"},
        "network": {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16"},
        "nodes": [
            {"name": n, "address": f"10.0.0.{10 + i}", "role": r} for i, (n, r) in enumerate(nodes)
        ],
    }
    body.update(extra)
    return {
        "apiVersion": "kgit.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "t"},
        "spec": body,
    }


@dataclass
class TestCluster:
    __test__ = False

    """The sshd's nodes, the API server, and the spec the test edits between applies."""

    ssh: SshNodes
    api: ApiServer
    base: Path
    document: dict[str, Any]
    known_hosts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.known_hosts = self.base / "known_hosts"
        self.known_hosts.write_text(self.ssh.known_hosts())

    def spec(self) -> dict[str, Any]:
        """The spec with how to reach each test node: ``ssh.host`` is its loopback address
        on the test sshd. Node addresses (10.0.0.x) are only written into kubeadm.yaml;
        nothing connects to them."""
        document = copy.deepcopy(self.document)
        body = document["spec"]
        body["ssh"] = {
            "user": "root",
            "port": self.ssh.port,
            "identityFile": str(self.ssh.client_key),
            **body.get("ssh", {}),
        }
        for node in body["nodes"]:
            node["ssh"] = {"host": self.ssh.nodes[node["name"]].address, **node.get("ssh", {})}
        return document

    def write_spec(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "cluster.yaml"
        path.write_text(yaml.safe_dump(self.spec(), sort_keys=False))
        return path

    def inventory(self) -> Inventory:
        cluster = cluster_of(self.spec())
        files = {f.path: f.content.encode() for f in render_hosts(cluster)}
        return build_inventory(cluster, files)

    def options(self, **kwargs: Any) -> HostOptions:
        trust = kwargs.pop("trust", HostKeyTrust(known_hosts=(self.known_hosts,)))
        return HostOptions(trust=trust, **kwargs)

    def plan(self, **kwargs: Any):
        return asyncio.run(plan_hosts(self.inventory(), self.options(**kwargs)))[0]

    def apply(self, saved=None, progress=None, **kwargs: Any):
        lines: list[str] = []
        result = asyncio.run(
            apply_hosts(
                self.inventory(),
                self.options(**kwargs),
                saved=saved,
                progress=progress or lines.append,
            )
        )
        return result, lines

    def node_object(self, name: str) -> dict[str, Any] | None:
        return self.api.store.get("", "nodes", "", name)
