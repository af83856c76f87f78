"""Facts: what each node is now (over SSH) and what its Node object says (from the API).

Read-only: the facts program queries and runs ``provision.sh --dry-run`` in a temporary
directory it removes. Nodes are read in parallel, at most ``parallelism`` at a time; an
unreachable node is a fact too (its error), so one dead host does not hide the others.
``HostFacts.digest()`` is what a saved plan pins: apply reads the facts again and refuses
the plan when they differ.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from compiler.core.versions import KubeVersion
from compiler.hosts import remote
from compiler.hosts.inventory import HostNode, Inventory
from compiler.hosts.ssh import HostKeyTrust, SshError, bounded, connect

KUBE_PACKAGES = ("kubelet", "kubeadm", "kubectl")
_PHASE_START = re.compile(r"^\[kgit (\w+)\] phase (\w+) on ")
_WOULD = re.compile(r"^\[kgit (\w+)\] would (.*)$")
_VERSION = re.compile(r"(\d+\.\d+\.\d+)")


@dataclass(frozen=True)
class NodeObject:
    """The parts of a Node object that kgit reconciles or reads."""

    labels: Mapping[str, str]
    taints: tuple[tuple[str, str, str], ...]
    unschedulable: bool
    kubelet_version: str
    annotations: Mapping[str, str]  # kgit's own (kgit.dev/...) only


@dataclass(frozen=True)
class NodeFacts:
    name: str
    error: str | None = None  # could not connect or the facts program failed
    os_id: str = ""
    os_version: str = ""
    packages: Mapping[str, str] = field(default_factory=dict)  # name -> version ("" absent)
    admin_conf: bool = False
    kubelet_conf: bool = False
    apiserver_version: str = ""  # from the kube-apiserver static pod's image tag
    dry_run_status: int = 0
    dry_run_error: str = ""
    changes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # phase -> lines

    @property
    def joined(self) -> bool:
        return self.kubelet_conf

    def package_version(self, name: str) -> KubeVersion | None:
        return parse_version(self.packages.get(name, ""))


@dataclass(frozen=True)
class HostFacts:
    nodes: Mapping[str, NodeFacts]
    api_nodes: Mapping[str, NodeObject] | None  # None: the API server was not read
    api_error: str | None = None

    def digest(self) -> str:
        """sha256 of the facts that decide the plan (canonical JSON)."""
        body = {
            "nodes": {name: asdict(f) for name, f in sorted(self.nodes.items())},
            "api_nodes": None
            if self.api_nodes is None
            else {name: asdict(n) for name, n in sorted(self.api_nodes.items())},
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=list)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse_version(text: str) -> KubeVersion | None:
    match = _VERSION.search(text or "")
    return KubeVersion.parse(match.group(1)) if match else None


def parse_dry_run(output: str) -> dict[str, tuple[str, ...]]:
    """Phase -> what provision.sh --dry-run says it would do ("+ cmd", "would write ...")."""
    changes: dict[str, list[str]] = {}
    phase = ""
    for line in output.splitlines():
        start = _PHASE_START.match(line)
        if start:
            phase = start.group(2)
            continue
        would = _WOULD.match(line)
        if phase and line.startswith("+ "):
            changes.setdefault(phase, []).append(line[2:])
        elif phase and would and would.group(1) == phase:
            changes.setdefault(phase, []).append("would " + would.group(2).rstrip(":"))
    return {p: tuple(lines) for p, lines in changes.items()}


def parse_facts(name: str, stdout: str) -> NodeFacts:
    head, _, dry_run = stdout.partition(remote.DRY_RUN_MARKER + "\n")
    values: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    packages = {k[4:]: v for k, v in values.items() if k.startswith("pkg.")}
    status = int(values.get("dry_run_status", "1") or 1)
    image = values.get("apiserver_image", "")
    error_lines = [line for line in dry_run.splitlines() if "] error: " in line]
    return NodeFacts(
        name=name,
        os_id=values.get("os_id", ""),
        os_version=values.get("os_version", ""),
        packages=dict(sorted(packages.items())),
        admin_conf=values.get("admin.conf") == "1",
        kubelet_conf=values.get("kubelet.conf") == "1",
        apiserver_version=image.rpartition(":")[2] if ":" in image else "",
        dry_run_status=status,
        dry_run_error=error_lines[-1] if status and error_lines else "",
        changes=parse_dry_run(dry_run),
    )


async def node_facts(node: HostNode, trust: HostKeyTrust) -> NodeFacts:
    try:
        conn = await connect(node.name, node.ssh, trust)
    except SshError as exc:
        return NodeFacts(name=node.name, error=str(exc))
    try:
        program = remote.facts_program(node.script, node.os, (*KUBE_PACKAGES, node.runtime_package))
        result = await conn.run(program, timeout=300)
    except SshError as exc:
        return NodeFacts(name=node.name, error=str(exc))
    finally:
        await conn.close()
    if result.exit_status != 0 or remote.DRY_RUN_MARKER not in result.stdout:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return NodeFacts(name=node.name, error=f"the facts program failed: {detail}")
    return parse_facts(node.name, result.stdout)


async def gather_host_facts(
    inventory: Inventory, trust: HostKeyTrust, parallelism: int
) -> dict[str, NodeFacts]:
    results = await bounded(parallelism, [node_facts(n, trust) for n in inventory.nodes])
    return {f.name: f for f in results}


def node_object(body: Mapping[str, Any]) -> NodeObject:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    taints = tuple(
        (t.get("key", ""), t.get("value") or "", t.get("effect", ""))
        for t in spec.get("taints") or []
    )
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k.startswith("kgit.dev/")
    }
    return NodeObject(
        labels=dict(sorted((metadata.get("labels") or {}).items())),
        taints=taints,
        unschedulable=bool(spec.get("unschedulable")),
        kubelet_version=((body.get("status") or {}).get("nodeInfo") or {}).get(
            "kubeletVersion", ""
        ),
        annotations=dict(sorted(annotations.items())),
    )
