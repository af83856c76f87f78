"""``kgit history``: the applies recorded on a cluster, as a table or as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from compiler.reconcile.history import HistoryEntry


def format_history(entries: Sequence[HistoryEntry], output: str = "text") -> str:
    """Newest first. text: one line per entry; json: a list of objects."""
    newest_first = list(reversed(entries))
    if output == "json":
        return json.dumps([asdict(e) for e in newest_first], indent=2, sort_keys=True) + "\n"
    if not newest_first:
        return "No applies recorded on this cluster yet.\n"
    rows = [("TIME", "REVISION", "RESULT", "USER", "SUMMARY")]
    rows += [(e.time, (e.revision or "-")[:12], e.result, e.user, e.summary) for e in newest_first]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])), row[4]]).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"
