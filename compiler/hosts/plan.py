"""The host plan: per node, the ordered actions that would make it what cluster.yaml says,
and why. A pure function of the inventory and the facts.

A ``HostPlan`` is frozen, JSON-serialisable data. Its ``base`` pins the digests of the facts
and of the inventory (out/hosts) it was made from: ``kgit hosts apply FILE`` reads both
again and refuses the plan when either changed, as ``kgit apply`` refuses a stale plan.
Fields kept for display (``reason``, ``changes``) never steer apply.

Action kinds, in the order apply runs a node's actions:

- ``provision``: provision.sh phases whose dry run would change something;
- ``init``: ``kubeadm init`` on the first control plane (phases kubeadm, post);
- ``join``: ``kubeadm join`` (phases kubeadm, post) with secrets kgit makes at apply time;
- ``upgrade``: one minor (or patch) step: drain, packages, ``kubeadm upgrade apply|node``,
  kubelet restart, uncordon;
- ``node``: labels and taints set through the API (kubeadm sets them only at join).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from compiler.core.errors import KgitError
from compiler.core.versions import KubeVersion
from compiler.hosts.facts import HostFacts, NodeFacts, NodeObject, parse_version
from compiler.hosts.inventory import HostNode, Inventory
from compiler.hosts.nodes import MANAGED_LABELS, MANAGED_TAINTS, managed

PLAN_FORMAT = "kgit.dev/host-plan/v1"
PHASES = ("preflight", "kernel", "runtime", "packages", "kubeadm", "post")
JOIN_PHASES = ("kubeadm", "post")
Taint = tuple[str, str, str]


class HostPlanError(KgitError):
    """The plan cannot be made (unreachable nodes, a refused upgrade); one line per node."""

    reference = "host-plan"


@dataclass(frozen=True)
class Action:
    kind: str  # provision | init | join | upgrade | node
    reason: str
    phases: tuple[str, ...] = ()  # provision, init, join
    changes: tuple[str, ...] = ()  # display: what the dry run said
    steps: tuple[str, ...] = ()  # upgrade
    version: str = ""  # upgrade: the target version
    labels: Mapping[str, str] = field(default_factory=dict)  # node: labels to set
    remove_labels: tuple[str, ...] = ()  # node: labels to remove
    taints: tuple[Taint, ...] = ()  # node: the taints kgit manages, as they should be
    old_taints: tuple[Taint, ...] = ()  # node: the taints kgit managed before


@dataclass(frozen=True)
class NodePlan:
    name: str
    role: str
    is_init: bool
    actions: tuple[Action, ...]

    def kinds(self) -> tuple[str, ...]:
        return tuple(a.kind for a in self.actions)


@dataclass(frozen=True)
class PlanBase:
    cluster: str
    version: str
    facts_digest: str
    inventory_digest: str
    git_revision: str | None = None


@dataclass(frozen=True)
class HostPlan:
    base: PlanBase
    nodes: tuple[NodePlan, ...]
    orphans: tuple[str, ...] = ()  # Nodes in the cluster that cluster.yaml does not list
    warnings: tuple[str, ...] = ()

    def has_changes(self) -> bool:
        return any(n.actions for n in self.nodes)

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)

    def summary(self) -> str:
        changed = [n for n in self.nodes if n.actions]
        counts: dict[str, int] = {}
        for n in changed:
            for a in n.actions:
                counts[a.kind] = counts.get(a.kind, 0) + 1
        if not changed:
            return f"No changes: {len(self.nodes)} node(s) match cluster.yaml."
        parts = ", ".join(f"{k} {v}" for k, v in counts.items())
        return (
            f"{len(changed)} node(s) to change, {len(self.nodes) - len(changed)} unchanged "
            f"({parts})."
        )

    def to_json(self) -> str:
        body = {"format": PLAN_FORMAT, **asdict(self)}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> HostPlan:
        try:
            raw = json.loads(text)
            if raw.get("format") != PLAN_FORMAT:
                raise ValueError(f"not a host plan (format {raw.get('format')!r})")
            return cls(
                base=PlanBase(**raw["base"]),
                nodes=tuple(
                    NodePlan(
                        name=n["name"],
                        role=n["role"],
                        is_init=n["is_init"],
                        actions=tuple(_action(a) for a in n["actions"]),
                    )
                    for n in raw["nodes"]
                ),
                orphans=tuple(raw.get("orphans", ())),
                warnings=tuple(raw.get("warnings", ())),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HostPlanError(f"cannot read the host plan: {exc}") from None


def _action(raw: Mapping[str, Any]) -> Action:
    return Action(
        kind=str(raw["kind"]),
        reason=str(raw["reason"]),
        phases=tuple(raw.get("phases", ())),
        changes=tuple(raw.get("changes", ())),
        steps=tuple(raw.get("steps", ())),
        version=str(raw.get("version", "")),
        labels=dict(raw.get("labels", {})),
        remove_labels=tuple(raw.get("remove_labels", ())),
        taints=_taints(raw.get("taints", ())),
        old_taints=_taints(raw.get("old_taints", ())),
    )


def _taints(raw: Any) -> tuple[Taint, ...]:
    return tuple((str(k), str(v), str(e)) for k, v, e in raw)


def inventory_digest(inventory: Inventory) -> str:
    """What a saved plan was made for: the nodes, their scripts and connections."""
    body = json.dumps(asdict(inventory), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


# --- deciding ---------------------------------------------------------------------------


def _current_version(
    node: HostNode, facts: NodeFacts, live: NodeObject | None
) -> KubeVersion | None:
    """The version a joined node runs: its kubelet's (from the Node, else the package),
    and for a control plane the older of that and its API server's."""
    kubelet = parse_version(live.kubelet_version) if live else None
    version = kubelet or facts.package_version("kubelet")
    if node.role == "control-plane":
        apiserver = parse_version(facts.apiserver_version)
        if apiserver and (version is None or apiserver < version):
            version = apiserver
    return version


def _upgrade(
    node: HostNode, facts: NodeFacts, live: NodeObject | None, target: KubeVersion
) -> tuple[Action | None, str | None]:
    """The upgrade action for a joined node, or the reason it is refused."""
    current = _current_version(node, facts, live)
    if current is None or current == target:
        return None, None
    if current > target:
        return None, (
            f"node {node.name} runs {current}, newer than spec.kubernetes.version {target}: "
            "kubeadm does not downgrade"
        )
    if target.minor - current.minor > 1 or target.major != current.major:
        step = f"1.{current.minor + 1}"
        return None, (
            f"node {node.name} runs {current}; spec.kubernetes.version {target} skips a minor "
            f"version: kubeadm upgrades one minor at a time, so set {step}.x first, apply, "
            f"then {target}"
        )
    first = node.is_init and parse_version(facts.apiserver_version) != target
    steps = (
        "drain",
        "packages",
        f"kubeadm upgrade apply v{target}" if first else "kubeadm upgrade node",
        "restart kubelet",
        "uncordon",
    )
    return Action("upgrade", f"{current} -> {target}", steps=steps, version=str(target)), None


def _phase_changes(
    facts: NodeFacts, phases: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    chosen = tuple(p for p in phases if facts.changes.get(p))
    lines = tuple(f"{p}: {line}" for p in chosen for line in facts.changes[p])
    return chosen, lines


def _node_action(node: HostNode, live: NodeObject | None, joining: bool) -> Action | None:
    """Labels and taints through the API; after a join, record what kgit manages."""
    desired_labels = dict(node.labels)
    if joining or live is None:
        if not joining:
            return None
        return Action(
            "node",
            "after the join: record the labels and taints kgit manages on the Node",
            labels=desired_labels,
            taints=node.taints,
        )
    was_labels = managed(live.annotations, MANAGED_LABELS)
    was_taints = tuple(tuple(t) for t in managed(live.annotations, MANAGED_TAINTS))
    set_labels = {k: v for k, v in desired_labels.items() if live.labels.get(k) != v}
    remove = tuple(sorted(k for k in was_labels if k not in desired_labels and k in live.labels))
    live_taints = set(live.taints)
    taints_differ = any(t not in live_taints for t in node.taints) or any(
        t in live_taints and t not in node.taints for t in was_taints
    )
    recorded = sorted(was_labels) == sorted(desired_labels) and set(was_taints) == set(node.taints)
    if not set_labels and not remove and not taints_differ and recorded:
        return None
    reasons = [f"label {k}={v}" for k, v in sorted(set_labels.items())]
    reasons += [f"remove label {k}" for k in remove]
    if taints_differ:
        shown = ", ".join(f"{k}{'=' + v if v else ''}:{e}" for k, v, e in node.taints) or "none"
        reasons.append(f"taints: {shown}")
    if not reasons:
        reasons.append("record the labels and taints kgit manages on the Node")
    return Action(
        "node",
        "; ".join(reasons),
        labels=set_labels,
        remove_labels=remove,
        taints=node.taints,
        old_taints=was_taints,
    )


def plan_node(
    node: HostNode, facts: NodeFacts, live: NodeObject | None, target: KubeVersion
) -> tuple[NodePlan, str | None]:
    actions: list[Action] = []
    if not facts.joined:
        phases, lines = _phase_changes(facts, PHASES[:4])
        if phases:
            actions.append(Action("provision", "provision.sh --dry-run", phases, lines))
        if node.is_init:
            actions.append(
                Action("init", "kubeadm init: /etc/kubernetes/admin.conf is missing", JOIN_PHASES)
            )
        else:
            actions.append(
                Action(
                    "join",
                    f"kubeadm join as {node.role}: not joined yet "
                    "(/etc/kubernetes/kubelet.conf is missing)",
                    JOIN_PHASES,
                )
            )
        node_action = _node_action(node, live, joining=True)
        if node_action:
            actions.append(node_action)
        return NodePlan(node.name, node.role, node.is_init, tuple(actions)), None
    upgrade, refused = _upgrade(node, facts, live, target)
    phases_wanted = [p for p in PHASES if not (upgrade and p == "packages")]
    phases, lines = _phase_changes(facts, phases_wanted)
    if phases:
        actions.append(Action("provision", "provision.sh --dry-run", phases, lines))
    if upgrade:
        actions.append(upgrade)
    node_action = _node_action(node, live, joining=False)
    if node_action:
        actions.append(node_action)
    return NodePlan(node.name, node.role, node.is_init, tuple(actions)), refused


def make_host_plan(
    inventory: Inventory, facts: HostFacts, git_revision: str | None = None
) -> HostPlan:
    """The plan, or HostPlanError naming every node that cannot be planned and why."""
    problems: list[str] = []
    plans: list[NodePlan] = []
    warnings: list[str] = []
    if facts.api_error:
        warnings.append(f"Node objects not read: {facts.api_error}")
    for node in inventory.nodes:
        node_facts = facts.nodes[node.name]
        if node_facts.error:
            problems.append(node_facts.error)
            continue
        if node_facts.dry_run_status != 0:
            problems.append(
                f"node {node.name}: provision.sh --dry-run failed"
                + (f": {node_facts.dry_run_error}" if node_facts.dry_run_error else "")
            )
            continue
        live = (facts.api_nodes or {}).get(node.name)
        if node_facts.joined and facts.api_nodes is not None and live is None:
            warnings.append(f"node {node.name} has joined but the cluster has no Node for it")
        plan, refused = plan_node(node, node_facts, live, inventory.version)
        if refused:
            problems.append(refused)
        plans.append(plan)
    if problems:
        raise HostPlanError("\n".join(problems))
    names = {n.name for n in inventory.nodes}
    orphans = tuple(sorted(set(facts.api_nodes or {}) - names))
    base = PlanBase(
        cluster=inventory.cluster,
        version=str(inventory.version),
        facts_digest=facts.digest(),
        inventory_digest=inventory_digest(inventory),
        git_revision=git_revision,
    )
    return HostPlan(base, tuple(plans), orphans, tuple(warnings))
