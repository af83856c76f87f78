"""Show sync and health per object (``kgit status``), as ``flux get`` and ``argocd app get``
do: text for people, json for programs, markdown for a pull request or a job summary."""

from __future__ import annotations

import json
from dataclasses import dataclass

from compiler.reconcile.model import ActionKind, Plan

HEALTH_WORDS = {"pending": "Progressing", "failed": "Degraded"}


@dataclass(frozen=True)
class ObjectStatus:
    address: str
    sync: str  # "Synced" or "OutOfSync"
    action: str  # what apply would do: no-op, create, update, replace, delete
    health: str  # Healthy, Progressing, Degraded, Missing, or "-" (to be deleted)
    message: str


def object_statuses(plan: Plan) -> list[ObjectStatus]:
    sick = {item.ref: item for item in plan.unhealthy}
    rows = []
    for action in plan.actions:
        sync = "Synced" if action.kind is ActionKind.NOOP else "OutOfSync"
        if action.kind is ActionKind.CREATE:
            health, message = "Missing", "not on the cluster"
        elif action.kind is ActionKind.DELETE:
            health, message = "-", "no longer in out/manifests"
        elif action.ref in sick:
            item = sick[action.ref]
            health, message = HEALTH_WORDS.get(item.state, "Degraded"), item.message
        else:
            health, message = "Healthy", ""
        rows.append(ObjectStatus(str(action.ref), sync, action.kind.value, health, message))
    return rows


def summary(rows: list[ObjectStatus]) -> str:
    out_of_sync = sum(1 for r in rows if r.sync != "Synced")
    not_ready = sum(1 for r in rows if r.health not in ("Healthy", "-"))
    return (
        f"Status: {len(rows) - out_of_sync} synced, {out_of_sync} out of sync; "
        f"{not_ready} not ready."
    )


def format_status(plan: Plan, fmt: str = "text") -> str:
    rows = object_statuses(plan)
    if fmt == "json":
        document = {
            "context": plan.base.context,
            "server": plan.base.server,
            "in_sync": not plan.has_changes(),
            "healthy": plan.is_healthy(),
            "objects": [row.__dict__ for row in rows],
            "warnings": list(plan.warnings),
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"
    if fmt == "markdown":
        lines = [f"### kgit status: `{plan.base.context}`", ""]
        lines += ["| object | sync | health | message |", "|---|---|---|---|"]
        lines += [
            f"| `{r.address}` | {r.sync}{'' if r.sync == 'Synced' else f' ({r.action})'} "
            f"| {r.health} | {r.message} |"
            for r in rows
        ]
        return "\n".join([*lines, "", f"**{summary(rows)}**"]) + "\n"
    width = max([len("OBJECT"), *(len(r.address) for r in rows)])
    lines = [f"Cluster: {plan.base.context} ({plan.base.server})"]
    lines += [f"Warning: {w}" for w in plan.warnings]
    lines.append(f"{'OBJECT':<{width}}  {'SYNC':<20}  HEALTH")
    for r in rows:
        sync = r.sync if r.sync == "Synced" else f"OutOfSync ({r.action})"
        health = f"{r.health}: {r.message}" if r.health in HEALTH_WORDS.values() else r.health
        lines.append(f"{r.address:<{width}}  {sync:<20}  {health}")
    lines.append(summary(rows))
    return "\n".join(lines) + "\n"
