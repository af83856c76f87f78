"""What an apply did, for people: the Markdown table a pipeline posts (text output is
printed line by line as stages end, by the apply command)."""

from __future__ import annotations

from compiler.reconcile.results import ApplyResult


def format_result(result: ApplyResult, output: str = "markdown") -> str:
    if output != "markdown":
        raise ValueError(f"no {output} form of an apply result")
    lines = ["## Apply result", "", "| object | result |", "|---|---|"]
    lines += [
        f"| `{c.subject}` | {c.action.value} {c.detail} |".replace("  |", " |")
        for c in result.changes
    ]
    return "\n".join([*lines, "", result.summary(), ""])
