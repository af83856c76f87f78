"""`kgit hosts plan` for 100 nodes behind a real sshd (tests/ssh_nodes.py), on loopback.

Every node is fresh (nothing installed), so each one's facts include a full
`provision.sh --dry-run`: the most work a plan does per node. Measured at several
```--parallelism`` values; the ratio to parallelism 1 is what reading the nodes in parallel
buys. Wall-clock time depends on how busy the machine is, so CPU seconds are printed too:
kgit's own (this process) per run, and the nodes' side (sshd, bash, provision.sh --dry-run
and the shims: the sshd processes' children, counted when they exit) per node.
Needs root and Debian's openssh-server (as the host tests do).
"""

from __future__ import annotations

import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

from compiler.compile.render.hosts import render_hosts
from compiler.hosts.apply import HostOptions, plan_hosts
from compiler.hosts.inventory import build_inventory
from compiler.hosts.ssh import HostKeyTrust
from tests.hosts_helpers import cluster_of
from tests.hosts_ssh_helpers import node_spec
from tests.ssh_nodes import SshNodes, sshd_available


def _spec(ssh: SshNodes, names: list[str]) -> dict:
    roles = [(n, "control-plane" if i < 3 else "worker") for i, n in enumerate(names)]
    document = node_spec(roles)
    body = document["spec"]
    for i, node in enumerate(body["nodes"]):
        node["address"] = f"10.0.{i // 200}.{10 + i % 200}"
        node["ssh"] = {"host": ssh.nodes[node["name"]].address}
    body["ssh"] = {"user": "root", "port": ssh.port, "identityFile": str(ssh.client_key)}
    return document


def bench_hosts_plan(nodes: int = 100, parallelisms=(1, 10, 32, 100)) -> list[str]:
    reason = sshd_available()
    if reason:
        return [f"## Hosts plan: skipped ({reason})"]
    names = [f"n{i:03d}" for i in range(nodes)]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="kgit-hosts-bench-") as tmp:
        base = Path(tmp)
        ssh = SshNodes(base / "sshd", names, admin_kubeconfig="{}\n").start()
        try:
            known = base / "known_hosts"
            known.write_text(ssh.known_hosts())
            cluster = cluster_of(_spec(ssh, names))
            files = {f.path: f.content.encode() for f in render_hosts(cluster)}
            inventory = build_inventory(cluster, files)
            lines = [
                f"## Hosts plan: {nodes} fresh nodes behind sshd on loopback "
                f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            ]
            first = None
            for parallelism in parallelisms:
                options = HostOptions(HostKeyTrust((known,)), parallelism=parallelism)
                cpu = time.process_time()
                started = time.perf_counter()
                plan, _ = asyncio.run(plan_hosts(inventory, options))
                took = time.perf_counter() - started
                cpu = time.process_time() - cpu
                first = first or took
                actions = sum(len(n.actions) for n in plan.nodes)
                lines.append(
                    f"parallelism {parallelism:>3}: {took:6.2f} s wall, kgit {cpu:5.2f} s CPU "
                    f"({actions} actions; {first / took:4.1f}x parallelism 1)"
                )
        finally:
            ssh.cleanup()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    node_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    per_node = node_cpu / (len(parallelisms) * nodes)
    lines.append(f"node side: {per_node * 1000:.0f} ms CPU per node and plan (sshd, bash, dry run)")
    return lines


if __name__ == "__main__":
    print("\n".join(bench_hosts_plan()))
