"""Showing ``OutputChanges`` to people and programs: text, JSON, or markdown for a PR comment.

Renderers only format: the changes they get are already masked (see ``compiler.repo.changes``).
Annotations that kgit writes by itself (change-cause, source) are shown but marked, so a
reviewer can tell them from what a person changed.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from compiler.repo.changes import HostFileChange, ObjectChange, OutputChanges, is_kgit_annotation

SYMBOL = {"added": "+", "removed": "-", "changed": "~"}
KGIT_MARK = "(set by kgit)"
# GitHub refuses comments over 65536 characters; stay well below with room for the summary.
MARKDOWN_LIMIT = 60000


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    text = text.replace("\n", "\\n")
    return text if len(text) <= 100 else text[:97] + "..."


def field_lines(change: ObjectChange) -> list[str]:
    lines = []
    for field in change.fields:
        mark = f"  {KGIT_MARK}" if is_kgit_annotation(field.path) else ""
        lines.append(f"{field.path}: {_value(field.before)} -> {_value(field.after)}{mark}")
    return lines


def render_text(changes: OutputChanges, *, before: str, after: str, color: bool = False) -> str:
    """A terminal view: a summary, then each object's fields and YAML diff, then host files."""
    lines: list[tuple[str, str]] = []  # (style, text)
    lines.append(("bold", f"kgit diff {before} -> {after}: {changes.summary()}"))
    if not changes.has_changes():
        lines.append(("", "no changes to the compiled output"))
    for change in changes.objects:
        lines.append(("", ""))
        lines.append(("bold", f"{SYMBOL[change.action]} {change.title}  ({change.file})"))
        lines.extend(("cyan", f"    {line}") for line in field_lines(change))
        lines.extend(_diff_lines(change.diff()))
    for host in changes.host_files:
        lines.append(("", ""))
        lines.append(("bold", f"{SYMBOL[host.action]} host file {host.path}"))
        lines.extend(_diff_lines(host.diff))
    if not color:
        return "".join(text + "\n" for _style, text in lines)
    from rich.console import Console  # only when colour is wanted
    from rich.text import Text

    buffer = io.StringIO()
    # The caller decided (use_color: TTY and no NO_COLOR); rich must not second-guess it.
    console = Console(
        file=buffer, force_terminal=True, no_color=False, color_system="standard", width=10000
    )
    for style, text in lines:
        console.print(Text(text, style=style), highlight=False, soft_wrap=True)
    return buffer.getvalue()


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    styled = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        styled.append((style, f"  {line}"))
    return styled


def _object_json(change: ObjectChange) -> dict[str, Any]:
    return {
        "action": change.action,
        "apiVersion": change.api_version,
        "kind": change.key.kind,
        "namespace": change.key.namespace or None,
        "name": change.key.name,
        "file": change.file,
        "fields": [
            {
                "path": f.path,
                "before": f.before,
                "after": f.after,
                "setByKgit": is_kgit_annotation(f.path),
            }
            for f in change.fields
        ],
        "diff": change.diff(),
    }


def _host_json(change: HostFileChange) -> dict[str, Any]:
    return {"action": change.action, "path": change.path, "diff": change.diff}


def render_json(changes: OutputChanges, *, before: str, after: str) -> str:
    document = {
        "before": before,
        "after": after,
        "changes": changes.has_changes(),
        "summary": {
            "changed": changes.count("changed"),
            "added": changes.count("added"),
            "removed": changes.count("removed"),
            "hostFiles": len(changes.host_files),
        },
        "objects": [_object_json(c) for c in changes.objects],
        "hostFiles": [_host_json(c) for c in changes.host_files],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fenced(body: str, language: str) -> str:
    """A code block whose fence is longer than any backtick run inside (so it cannot break)."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip(chr(10))}\n{fence}\n"


def _details(summary: str, body: str) -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{_fenced(body, 'diff')}\n</details>\n"


def render_markdown(
    changes: OutputChanges, *, before: str, after: str, limit: int = MARKDOWN_LIMIT
) -> str:
    """A pull-request comment: a summary table, then one collapsible diff per object."""
    head = [f"### kgit diff: `{before}` → `{after}`", ""]
    if not changes.has_changes():
        head.append("No changes to the compiled output.")
        return "\n".join(head) + "\n"
    head += [
        "| change | count |",
        "| --- | ---: |",
        f"| objects changed | {changes.count('changed')} |",
        f"| objects added | {changes.count('added')} |",
        f"| objects removed | {changes.count('removed')} |",
        f"| host files changed | {len(changes.host_files)} |",
        "",
        "| | object | file |",
        "| --- | --- | --- |",
    ]
    for change in changes.objects:
        head.append(
            f"| {SYMBOL[change.action]} | `{_cell(change.title)}` | `{_cell(change.file)}` |"
        )
    for host in changes.host_files:
        head.append(f"| {SYMBOL[host.action]} | host file | `{_cell(host.path)}` |")
    text = "\n".join(head) + "\n\n"
    sections = []
    for change in changes.objects:
        body = change.diff()
        if change.fields:
            notes = "\n".join(f"# {line}" for line in field_lines(change))
            body = f"{notes}\n{body}"
        sections.append(_details(f"{change.action}: <code>{change.title}</code>", body))
    for host in changes.host_files:
        sections.append(_details(f"{host.action}: <code>{host.path}</code>", host.diff))
    shown = 0
    for section in sections:
        if len(text) + len(section) > limit:
            break
        text += section + "\n"
        shown += 1
    if shown < len(sections):
        text += (
            f"_{len(sections) - shown} more diff(s) left out to fit a comment; "
            "run `kgit diff` locally to see them all._\n"
        )
    return text
