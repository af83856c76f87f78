"""Host apply: one manager runs the plan's actions in kubeadm's order, in small named steps.

Order (k0sctl's shape): under the host lock, the first control plane (init, or its upgrade
with ``kubeadm upgrade apply``), then the other control planes one at a time, then the
workers in parallel (``parallelism`` at a time; workers being upgraded ``maxUnavailable``
at a time). The first failure stops the apply: nodes already running finish, nothing new
starts, and the result names the failed node and the untouched ones. Re-running plans from
the facts again, so it picks up where it stopped.

Join secrets are made here, when the first join needs them, and exist only in memory: a
bootstrap token (a Secret through the API, deleted when the apply ends), the CA hash (from
the CA certificate, which is public) and, when control planes join, a certificate key that
the first control plane uploads the certificates with. They reach a node only inside the
program on the SSH channel's stdin, as environment variables of provision.sh.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compiler.core.errors import KgitError
from compiler.hosts import remote
from compiler.hosts.facts import HostFacts, gather_host_facts
from compiler.hosts.inventory import HostNode, Inventory
from compiler.hosts.nodes import (
    JoinToken,
    NodeApi,
    NodeApiError,
    ca_cert_hash,
    new_certificate_key,
    new_join_token,
)
from compiler.hosts.plan import (
    JOIN_PHASES,
    Action,
    HostPlan,
    NodePlan,
    make_host_plan,
)
from compiler.hosts.record import HistoryEntry, HostLock, append_history, identity, utc_now
from compiler.hosts.ssh import Connection, HostKeyTrust, connect

DEFAULT_PARALLELISM = 10
NODE_REGISTER_TIMEOUT = 120.0


class StalePlanError(KgitError):
    reference = "stale-plan"


class NodeStepError(KgitError):
    reference = "host-step"


@dataclass(frozen=True)
class HostOptions:
    trust: HostKeyTrust = field(default_factory=HostKeyTrust)
    parallelism: int = DEFAULT_PARALLELISM
    kubeconfig: Mapping[str, Any] | None = None  # else admin.conf of the first control plane
    git_revision: str | None = None


@dataclass(frozen=True)
class NodeOutcome:
    name: str
    status: str  # done | failed | untouched | unchanged
    error: str | None = None


@dataclass(frozen=True)
class ApplyResult:
    plan: HostPlan
    outcomes: tuple[NodeOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.status != "failed" for o in self.outcomes)

    def failure(self) -> NodeOutcome | None:
        return next((o for o in self.outcomes if o.status == "failed"), None)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- facts (with the Node objects) --------------------------------------------------------


async def _read_remote(conn: Connection, path: str) -> bytes:
    result = await conn.run(remote.read_file_program(path), timeout=60)
    if result.exit_status != 0:
        raise NodeStepError(f"node {conn.node}: cannot read {path}: {result.stderr.strip()}")
    return result.stdout.encode()


async def admin_kubeconfig(node: HostNode, trust: HostKeyTrust) -> dict[str, Any]:
    conn = await connect(node.name, node.ssh, trust)
    try:
        return _kubeconfig(await _read_remote(conn, "/etc/kubernetes/admin.conf"), node.name)
    finally:
        await conn.close()


def _kubeconfig(data: bytes, node: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError:
        config = None
    if not isinstance(config, dict):
        raise NodeStepError(f"node {node}: /etc/kubernetes/admin.conf is not a kubeconfig")
    return config


async def gather_facts(inventory: Inventory, options: HostOptions) -> HostFacts:
    """Every node's facts (parallel, bounded), then its Node object when the API answers."""
    nodes = await gather_host_facts(inventory, options.trust, options.parallelism)
    kubeconfig = options.kubeconfig
    init = nodes[inventory.init_node.name]
    if kubeconfig is None:
        if init.error or not init.admin_conf:
            return HostFacts(nodes, None, None)
        try:
            kubeconfig = await admin_kubeconfig(inventory.init_node, options.trust)
        except KgitError as exc:
            return HostFacts(nodes, None, str(exc))
    try:
        api = NodeApi(kubeconfig)
        try:
            api_nodes = await asyncio.to_thread(api.nodes)
        finally:
            api.close()
    except Exception as exc:  # NodeApiError, and a kubeconfig the client cannot use
        return HostFacts(nodes, None, str(exc))
    return HostFacts(nodes, api_nodes, None)


async def plan_hosts(inventory: Inventory, options: HostOptions) -> tuple[HostPlan, HostFacts]:
    facts = await gather_facts(inventory, options)
    return make_host_plan(inventory, facts, options.git_revision), facts


# --- the manager ------------------------------------------------------------------------


@dataclass
class _Secrets:
    token: JoinToken
    ca_hash: str
    certificate_key: str | None = None

    def env(self, control_plane: bool) -> dict[str, str]:
        env = {"KGIT_JOIN_TOKEN": self.token.value, "KGIT_CA_CERT_HASH": self.ca_hash}
        if control_plane:
            assert self.certificate_key is not None
            env["KGIT_CERT_KEY"] = self.certificate_key
        return env


class HostManager:
    """Runs one plan. ``progress`` gets one line per step (no TTY needed)."""

    def __init__(
        self,
        inventory: Inventory,
        options: HostOptions,
        first: Connection,
        *,
        kubeconfig_out: Path | None = None,
        progress: Callable[[str], None] = _stderr,
    ) -> None:
        self.inventory = inventory
        self.options = options
        self.first = first  # the first control plane's connection (lock, admin.conf, certs)
        self.kubeconfig_out = kubeconfig_out
        self.progress = progress
        self.api: NodeApi | None = None
        self.secrets: _Secrets | None = None
        self._secrets_lock = asyncio.Lock()
        self.failed = False
        self.outcomes: dict[str, NodeOutcome] = {}

    # -- shared resources -----------------------------------------------------------------

    async def node_api(self) -> NodeApi:
        if self.api is None:
            kubeconfig = self.options.kubeconfig
            if kubeconfig is None or self.kubeconfig_out is not None:
                admin = await _read_remote(self.first, "/etc/kubernetes/admin.conf")
                if self.kubeconfig_out is not None:
                    _write_private(self.kubeconfig_out, admin)
                    self.progress(f"admin kubeconfig written to {self.kubeconfig_out}")
                kubeconfig = kubeconfig or _kubeconfig(admin, self.first.node)
            self.api = NodeApi(kubeconfig)
        return self.api

    async def join_secrets(self, control_plane: bool) -> _Secrets:
        async with self._secrets_lock:
            if self.secrets is None:
                api = await self.node_api()
                ca = await _read_remote(self.first, "/etc/kubernetes/pki/ca.crt")
                token = new_join_token()
                await asyncio.to_thread(api.create_join_token, token)
                self.secrets = _Secrets(token, ca_cert_hash(ca))
                self.progress("bootstrap token created (expires in 1h; deleted at the end)")
            if control_plane and self.secrets.certificate_key is None:
                key = new_certificate_key()
                config = _with_certificate_key(self.inventory.init_node.kubeadm_config, key)
                result = await self.first.run(remote.upload_certs_program(config), timeout=600)
                if result.exit_status != 0:
                    raise NodeStepError(
                        f"node {self.first.node}: kubeadm init phase upload-certs failed: "
                        + _tail(result.stderr)
                    )
                self.secrets.certificate_key = key
                self.progress(f"{self.first.node}: control-plane certificates uploaded")
            return self.secrets

    async def close(self) -> None:
        if self.secrets is not None and self.api is not None:
            try:
                await asyncio.to_thread(self.api.delete_join_token, self.secrets.token)
            except NodeApiError as exc:
                self.progress(f"warning: the bootstrap token was not deleted: {exc}")
        if self.api is not None:
            self.api.close()

    # -- running ----------------------------------------------------------------------------

    async def run(self, plan: HostPlan) -> ApplyResult:
        init = [n for n in plan.nodes if n.is_init]
        control_planes = [n for n in plan.nodes if n.role == "control-plane" and not n.is_init]
        workers = [n for n in plan.nodes if n.role == "worker"]
        upgrading = [n for n in workers if "upgrade" in n.kinds()]
        others = [n for n in workers if "upgrade" not in n.kinds()]
        waves = [
            (init, 1),
            (control_planes, 1),
            (others, self.options.parallelism),
            (upgrading, min(self.options.parallelism, self.inventory.policy.max_unavailable)),
        ]
        try:
            for nodes, limit in waves:
                await self._wave(nodes, limit)
        finally:
            await self.close()
        return ApplyResult(plan, tuple(self.outcomes[n.name] for n in plan.nodes))

    async def _wave(self, nodes: list[NodePlan], limit: int) -> None:
        semaphore = asyncio.Semaphore(max(1, limit))

        async def one(node_plan: NodePlan) -> None:
            async with semaphore:
                await self._node(node_plan)

        await asyncio.gather(*(one(n) for n in nodes))

    async def _node(self, node_plan: NodePlan) -> None:
        name = node_plan.name
        if not node_plan.actions:
            self.outcomes[name] = NodeOutcome(name, "unchanged")
            return
        if self.failed:
            self.outcomes[name] = NodeOutcome(name, "untouched")
            return
        node = self.inventory.node(name)
        conn: Connection | None = None
        try:
            conn = self.first if node.is_init else await connect(name, node.ssh, self.options.trust)
            for action in node_plan.actions:
                started = time.monotonic()
                self.progress(f"{name}: {describe(action)} ...")
                await self._action(node, conn, action)
                self.progress(f"{name}: {action.kind} ok ({time.monotonic() - started:.1f}s)")
            self.outcomes[name] = NodeOutcome(name, "done")
        except KgitError as exc:
            self.failed = True
            self.outcomes[name] = NodeOutcome(name, "failed", str(exc))
            self.progress(f"{name}: FAILED: {exc}")
        finally:
            if conn is not None and conn is not self.first:
                await conn.close()

    async def _action(self, node: HostNode, conn: Connection, action: Action) -> None:
        if action.kind in ("provision", "init"):
            await self._phases(node, conn, action.phases)
        elif action.kind == "join":
            secrets = await self.join_secrets(node.role == "control-plane")
            await self._phases(node, conn, JOIN_PHASES, secrets.env(node.role == "control-plane"))
            await self._wait_registered(node.name)
        elif action.kind == "upgrade":
            for step in action.steps:
                self.progress(f"{node.name}: upgrade: {step}")
                await self._upgrade_step(node, conn, step, action.version)
        elif action.kind == "node":
            api = await self.node_api()
            await asyncio.to_thread(
                api.set_labels_and_taints,
                node.name,
                action.labels,
                action.remove_labels,
                action.taints,
                action.old_taints,
                sorted(node.labels),
            )
        else:
            raise NodeStepError(f"node {node.name}: unknown action {action.kind!r} in the plan")

    async def _phases(
        self,
        node: HostNode,
        conn: Connection,
        phases: tuple[str, ...],
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        result = await conn.run(remote.phases_program(node.script, phases, secrets))
        if result.exit_status != 0:
            raise NodeStepError(
                f"node {node.name}: provision.sh ({' '.join(phases)}) failed with exit "
                f"status {result.exit_status}: {_tail(result.stderr or result.stdout)}"
            )

    async def _command(self, node: HostNode, conn: Connection, *argv: list[str]) -> None:
        result = await conn.run(remote.command_program(*argv))
        if result.exit_status != 0:
            shown = " && ".join(" ".join(a) for a in argv)
            raise NodeStepError(
                f"node {node.name}: `{shown}` failed with exit status {result.exit_status}: "
                + _tail(result.stderr or result.stdout)
            )

    async def _upgrade_step(
        self, node: HostNode, conn: Connection, step: str, version: str
    ) -> None:
        if step == "drain":
            api = await self.node_api()
            await asyncio.to_thread(api.drain, node.name, self.inventory.policy.drain_timeout)
        elif step == "packages":
            await self._phases(node, conn, ("packages",))
        elif step.startswith("kubeadm upgrade apply"):
            await self._command(node, conn, ["kubeadm", "upgrade", "apply", "--yes", f"v{version}"])
        elif step == "kubeadm upgrade node":
            await self._command(node, conn, ["kubeadm", "upgrade", "node"])
        elif step == "restart kubelet":
            await self._command(
                node, conn, ["systemctl", "daemon-reload"], ["systemctl", "restart", "kubelet"]
            )
        elif step == "uncordon":
            api = await self.node_api()
            await asyncio.to_thread(api.cordon, node.name, False)
        else:
            raise NodeStepError(f"node {node.name}: unknown upgrade step {step!r}")

    async def _wait_registered(self, name: str) -> None:
        api = await self.node_api()
        deadline = time.monotonic() + NODE_REGISTER_TIMEOUT
        while name not in await asyncio.to_thread(api.nodes):
            if time.monotonic() > deadline:
                raise NodeStepError(f"node {name} joined but its Node did not appear")
            await asyncio.sleep(1)


def describe(action: Action) -> str:
    if action.kind == "provision":
        return "provision " + " ".join(action.phases)
    if action.kind == "upgrade":
        return f"upgrade to {action.version}"
    return f"{action.kind}: {action.reason}"


def _tail(text: str, lines: int = 8) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "no output"


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
    except OSError as exc:
        raise KgitError(f"cannot write the kubeconfig to {path}: {exc.strerror or exc}") from None


def _with_certificate_key(kubeadm_config: str, key: str) -> str:
    """The first control plane's kubeadm.yaml with InitConfiguration.certificateKey set."""
    documents = [d for d in yaml.safe_load_all(kubeadm_config) if d]
    for document in documents:
        if document.get("kind") == "InitConfiguration":
            document["certificateKey"] = key
    return yaml.safe_dump_all(documents, sort_keys=False)


# --- the whole apply ----------------------------------------------------------------------


async def apply_hosts(
    inventory: Inventory,
    options: HostOptions,
    *,
    saved: HostPlan | None = None,
    kubeconfig_out: Path | None = None,
    progress: Callable[[str], None] = _stderr,
    show_plan: Callable[[HostPlan], None] | None = None,
    confirm: Callable[[HostPlan], None] | None = None,
) -> ApplyResult:
    """Lock, read the facts again, refuse a stale ``saved`` plan (or plan now), run, record.

    ``confirm`` (for a plan made here, not a saved one) raises to stop before any change."""
    if saved is not None:
        from compiler.hosts.plan import inventory_digest

        if saved.base.inventory_digest != inventory_digest(inventory):
            raise StalePlanError(
                "the saved host plan was made for another out/hosts (cluster.yaml or out/ "
                "changed since): run `kgit hosts plan` again"
            )
    init = inventory.init_node
    first = await connect(init.name, init.ssh, options.trust)
    try:
        async with HostLock(first, identity(options.git_revision)):
            plan, facts = await plan_hosts(inventory, options)
            if saved is not None:
                if saved.base.facts_digest != facts.digest():
                    raise StalePlanError(
                        "the saved host plan is stale: the nodes changed since it was made "
                        f"(facts {saved.base.facts_digest[:19]}, now {facts.digest()[:19]}); "
                        "run `kgit hosts plan` again and review it"
                    )
                plan = saved
            if show_plan is not None:
                show_plan(plan)
            if not plan.has_changes():
                return ApplyResult(
                    plan, tuple(NodeOutcome(n.name, "unchanged") for n in plan.nodes)
                )
            if saved is None and confirm is not None:
                confirm(plan)
            manager = HostManager(
                inventory, options, first, kubeconfig_out=kubeconfig_out, progress=progress
            )
            result = await manager.run(plan)
            failure = result.failure()
            await append_history(
                first,
                HistoryEntry(
                    time=utc_now(),
                    user=identity(options.git_revision),
                    revision=options.git_revision,
                    nodes={o.name: o.status for o in result.outcomes},
                    result="applied" if failure is None else f"failed: node {failure.name}",
                    summary=plan.summary(),
                ),
            )
            return result
    finally:
        await first.close()
