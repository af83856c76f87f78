"""The history of applies, kept on the cluster in the ApplySet parent.

After each apply the parent ConfigMap's ``history.json`` key gets one entry: the Git commit
of out/ that was applied, when (UTC), by whom, against which context, and the plan's
summary; the last ``KEEP`` entries are kept. The entry is written by server-side apply
under its own field manager (``kgit-history``) so that the parent's inventory writes,
which own the other keys, never remove it, and the reverse.

``kgit history`` reads it; ``kgit rollback REV`` is how an entry is applied again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from compiler.core.errors import ClusterError
from compiler.reconcile.applyset import (
    HISTORY_KEY,
    PARENT_API_VERSION,
    PARENT_KIND,
    PARENT_NAMESPACE,
    parent_ref,
)

HISTORY_MANAGER = "kgit-history"
KEEP = 20


@dataclass(frozen=True)
class HistoryEntry:
    revision: str | None  # Git commit of out/ that was applied, when known
    time: str  # UTC, ISO 8601 ("2026-01-02T03:04:05Z")
    user: str  # the lock holder's identity: user@host pid N commit C
    summary: str  # the applied plan's summary
    result: str = "applied"  # "applied" or "failed: <why>"
    out_digest: str = ""
    context: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryEntry:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_history(parent: Mapping[str, Any] | None) -> list[HistoryEntry]:
    """Entries oldest first ([] without a parent or history; unreadable entries skipped)."""
    raw = ((parent or {}).get("data") or {}).get(HISTORY_KEY)
    if not raw:
        return []
    try:
        rows = json.loads(raw).get("entries", [])
    except (ValueError, AttributeError):
        return []
    entries = []
    for row in rows if isinstance(rows, list) else []:
        try:
            entries.append(HistoryEntry.from_dict(row))
        except TypeError:
            continue
    return entries


def with_entry(entries: Sequence[HistoryEntry], entry: HistoryEntry) -> list[HistoryEntry]:
    return [*entries, entry][-KEEP:]


def history_patch(parent_name: str, entries: Sequence[HistoryEntry]) -> dict[str, Any]:
    """The server-side apply body that sets the parent's history key (and only that)."""
    text = json.dumps({"entries": [asdict(e) for e in entries]}, indent=1, sort_keys=True)
    return {
        "apiVersion": PARENT_API_VERSION,
        "kind": PARENT_KIND,
        "metadata": {"name": parent_name, "namespace": PARENT_NAMESPACE},
        "data": {HISTORY_KEY: text + "\n"},
    }


class HistoryStore(Protocol):
    """What writing the history needs of a cluster (compiler.reconcile.calls.ApplyCluster)."""

    def get(self, ref: Any) -> dict[str, Any] | None: ...

    def apply(self, body: dict[str, Any], *, field_manager: str = ...) -> dict[str, Any]: ...


def record(cluster: HistoryStore, cluster_name: str, entry: HistoryEntry) -> None:
    """Add ``entry`` to the history kept in the ApplySet parent (the last KEEP entries).

    Never creates the parent: a server that lost its state mid-apply has none, and a
    parent holding only a history (no ApplySet label, tooling or inventory) would not be
    recognised as kgit's. ClusterError then; the apply's own error is the one to report."""
    parent_at = parent_ref(cluster_name)
    parent = cluster.get(parent_at)
    if parent is None:
        raise ClusterError(
            f"the ApplySet parent {parent_at} does not exist (did the cluster lose its "
            "state?), so there is no history to add this apply to"
        )
    entries = with_entry(read_history(parent), entry)
    cluster.apply(history_patch(parent_at.name, entries), field_manager=HISTORY_MANAGER)
