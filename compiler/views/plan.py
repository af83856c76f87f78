"""Show a plan to people (text, markdown) and programs (json).

The plan's before/after/diff are masked when the plan is made; every object is passed
through ``mask_secrets`` once more here, so no format can show a Secret value even if a
plan was built by other code. The JSON form follows Terraform's machine-readable plan
(``format_version``, ``resource_changes[].change.actions``; replace is
``["delete", "create"]``), https://developer.hashicorp.com/terraform/internals/json-format.
"""

from __future__ import annotations

import json
from typing import Any

from compiler.core.masking import mask_secrets
from compiler.reconcile.model import PLAN_FORMAT_VERSION, Action, ActionKind, Plan

FORMATS = ("text", "json", "markdown")
_JSON_ACTIONS = {
    ActionKind.CREATE: ["create"],
    ActionKind.UPDATE: ["update"],
    ActionKind.REPLACE: ["delete", "create"],
    ActionKind.DELETE: ["delete"],
    ActionKind.NOOP: ["no-op"],
}


def _masked(body: dict[str, Any] | None) -> dict[str, Any] | None:
    return mask_secrets(body) if body else body


def _objects(count: int) -> str:
    return f"{count} object" if count == 1 else f"{count} objects"


def _changes(plan: Plan) -> list[Action]:
    return [a for a in plan.actions if a.kind is not ActionKind.NOOP]


def _indent(text: str, prefix: str = "    ") -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))


def _not_ready(plan: Plan) -> str:
    count = len(plan.unhealthy)
    return f"{_objects(count)} {'is' if count == 1 else 'are'} not ready"


def _unhealthy_lines(plan: Plan, prefix: str = "  ") -> list[str]:
    return [f"{prefix}{item.ref}: {item.state}: {item.message}" for item in plan.unhealthy]


def format_text(plan: Plan) -> str:
    lines = [f"Cluster: {plan.base.context} ({plan.base.server})"]
    changes = _changes(plan)
    for warning in plan.warnings:
        lines.append(f"Warning: {warning}")
    if not changes:
        unchanged = len(plan.actions)
        if plan.unhealthy:
            lines.append(f"No changes, but {_not_ready(plan)}:")
            lines += _unhealthy_lines(plan)
            return "\n".join(lines) + "\n"
        lines.append(f"No changes. The cluster matches out/manifests ({_objects(unchanged)}).")
        return "\n".join(lines) + "\n"
    lines.append("")
    for action in changes:
        header = f"{action.kind.symbol} {action.kind.value} {action.ref}"
        if action.reason and action.kind in (ActionKind.UPDATE, ActionKind.REPLACE):
            header += f" ({action.reason})"
        lines.append(header)
        if action.diff:
            lines.append(_indent(action.diff).rstrip("\n"))
        lines.append("")
    lines.append(plan.summary())
    if plan.unhealthy:
        lines.append(f"Health: {_not_ready(plan)}:")
        lines += _unhealthy_lines(plan)
    return "\n".join(lines) + "\n"


def _address(action: Action) -> str:
    return str(action.ref)


def format_json(plan: Plan) -> str:
    changes = []
    for action in plan.actions:
        changes.append(
            {
                "address": _address(action),
                "mode": "managed",
                "type": f"{action.ref.api_version}/{action.ref.kind}",
                "namespace": action.ref.namespace or None,
                "name": action.ref.name,
                "change": {
                    "actions": _JSON_ACTIONS[action.kind],
                    "before": _masked(action.before),
                    "after": _masked(action.after),
                    "reason": action.reason or None,
                    "diff": action.diff or None,
                },
            }
        )
    document = {
        "format_version": PLAN_FORMAT_VERSION,
        "applyset_id": plan.base.applyset_id,
        "context": plan.base.context,
        "server": plan.base.server,
        "out_digest": plan.base.out_digest,
        "git_revision": plan.base.git_revision,
        "resource_changes": changes,
        "summary": {
            "create": plan.count(ActionKind.CREATE),
            "update": plan.count(ActionKind.UPDATE),
            "replace": plan.count(ActionKind.REPLACE),
            "delete": plan.count(ActionKind.DELETE),
            "no-op": plan.count(ActionKind.NOOP),
        },
        "has_changes": plan.has_changes(),
        "healthy": plan.is_healthy(),
        "adopted": list(plan.adopted),
        "unhealthy": [
            {
                "address": str(item.ref),
                "type": f"{item.ref.api_version}/{item.ref.kind}",
                "namespace": item.ref.namespace or None,
                "name": item.ref.name,
                "state": item.state,
                "message": item.message,
            }
            for item in plan.unhealthy
        ],
        "warnings": list(plan.warnings),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def format_markdown(plan: Plan) -> str:
    changes = _changes(plan)
    lines = [f"### kgit plan: `{plan.base.context}`", ""]
    for warning in plan.warnings:
        lines.append(f"> **Warning:** {warning}")
    if plan.warnings:
        lines.append("")
    health = []
    if plan.unhealthy:
        health = ["", f"**Health: {_not_ready(plan)}:**", ""]
        health += [f"- `{item.ref}`: {item.state}: {item.message}" for item in plan.unhealthy]
    if not changes:
        if plan.unhealthy:
            lines.append(f"No changes, but {_not_ready(plan)}.")
            return "\n".join(lines + health) + "\n"
        lines.append(
            f"No changes. The cluster matches out/manifests ({_objects(len(plan.actions))})."
        )
        return "\n".join(lines) + "\n"
    lines += [
        "| action | create | update | replace | delete |",
        "|---|---:|---:|---:|---:|",
        f"| count | {plan.count(ActionKind.CREATE)} | {plan.count(ActionKind.UPDATE)} "
        f"| {plan.count(ActionKind.REPLACE)} | {plan.count(ActionKind.DELETE)} |",
        "",
    ]
    for action in changes:
        summary = f"<code>{action.kind.symbol} {action.kind.value}</code> {action.ref}"
        lines += ["<details>", f"<summary>{summary}</summary>", ""]
        if action.reason:
            lines += [action.reason, ""]
        if action.diff:
            fence = "````" if "```" in action.diff else "```"
            lines += [f"{fence}diff", action.diff.rstrip("\n"), fence, ""]
        lines += ["</details>", ""]
    lines.append(f"**{plan.summary()}**")
    return "\n".join(lines + health) + "\n"


def format_plan(plan: Plan, fmt: str = "text") -> str:
    """The plan as ``text`` (Terraform-like), ``json`` or ``markdown`` (for pull requests)."""
    if fmt == "text":
        return format_text(plan)
    if fmt == "json":
        return format_json(plan)
    if fmt == "markdown":
        return format_markdown(plan)
    raise ValueError(f"unknown plan format {fmt!r} (expected one of {', '.join(FORMATS)})")
