"""Show a host plan and a host apply's result: text and markdown for people, JSON for
programs (the JSON form is the saved plan itself, ``HostPlan.to_json``)."""

from __future__ import annotations

from compiler.hosts.apply import ApplyResult
from compiler.hosts.plan import Action, HostPlan, NodePlan

FORMATS = ("text", "json", "markdown")
_SIGNS = {"provision": "~", "init": "+", "join": "+", "upgrade": "^", "node": "~"}
MAX_CHANGE_LINES = 6


def _title(node: NodePlan) -> str:
    role = "control-plane, first" if node.is_init else node.role
    return f"{node.name} ({role})"


def _action_line(action: Action) -> str:
    if action.kind == "provision":
        return f"provision {', '.join(action.phases)}"
    if action.kind == "upgrade":
        return f"upgrade {action.reason}: {' -> '.join(action.steps)}"
    if action.kind == "node":
        return f"Node: {action.reason}"
    return f"{action.kind}: {action.reason}"


def _changes(action: Action) -> list[str]:
    shown = list(action.changes[:MAX_CHANGE_LINES])
    if len(action.changes) > MAX_CHANGE_LINES:
        shown.append(f"... and {len(action.changes) - MAX_CHANGE_LINES} more")
    return shown


def format_text(plan: HostPlan) -> str:
    lines = [
        f"Host plan for cluster {plan.base.cluster} (Kubernetes {plan.base.version}), "
        f"facts {plan.base.facts_digest[:19]}",
        "",
    ]
    for node in plan.nodes:
        if not node.actions:
            lines.append(f"  {_title(node)}: no changes")
            continue
        lines.append(f"  {_title(node)}:")
        for action in node.actions:
            lines.append(f"    {_SIGNS[action.kind]} {_action_line(action)}")
            lines += [f"        {change}" for change in _changes(action)]
    for name in plan.orphans:
        lines.append(
            f"  {name}: in the cluster but not in cluster.yaml (left alone; remove it by hand: "
            "drain, kubeadm reset, kubectl delete node)"
        )
    lines += [f"warning: {w}" for w in plan.warnings]
    lines += ["", plan.summary()]
    return "\n".join(lines) + "\n"


def format_markdown(plan: HostPlan) -> str:
    lines = [
        f"### Host plan for `{plan.base.cluster}` (Kubernetes {plan.base.version})",
        "",
        plan.summary(),
        "",
        "| node | role | action | why |",
        "| --- | --- | --- | --- |",
    ]
    for node in plan.nodes:
        role = "control-plane (first)" if node.is_init else node.role
        if not node.actions:
            lines.append(f"| `{node.name}` | {role} | none | |")
        for action in node.actions:
            why = "; ".join(_changes(action)) or action.reason
            why = why.replace("|", "\\|")
            lines.append(f"| `{node.name}` | {role} | {_action_line(action)} | {why} |")
    for name in plan.orphans:
        lines.append(f"| `{name}` | ? | not in cluster.yaml (left alone) | |")
    lines += [f"\n> warning: {w}" for w in plan.warnings]
    return "\n".join(lines) + "\n"


def format_host_plan(plan: HostPlan, fmt: str = "text") -> str:
    if fmt == "json":
        return plan.to_json()
    if fmt == "markdown":
        return format_markdown(plan)
    return format_text(plan)


def format_result(result: ApplyResult) -> str:
    lines = []
    for outcome in result.outcomes:
        line = f"  {outcome.name}: {outcome.status}"
        if outcome.error:
            line += f": {outcome.error}"
        lines.append(line)
    failure = result.failure()
    if failure is None:
        lines.append("Host apply complete.")
    else:
        untouched = [o.name for o in result.outcomes if o.status == "untouched"]
        lines.append(
            f"Host apply stopped: node {failure.name} failed"
            + (f"; not started: {', '.join(untouched)}" if untouched else "")
            + ". Fix the cause and run `kgit hosts apply` again: it continues from the facts."
        )
    return "\n".join(lines) + "\n"
