"""The host lock and the history of host applies, kept on the first control-plane node.

Both live under /var/lib/kgit on that node, so every operator (and CI) sees the same ones:
``hosts-apply.lock/`` is taken with ``mkdir`` (atomic) and names its holder;
``hosts-history.jsonl`` gets one JSON line per apply: when, who, which commit, which nodes,
and the outcome. Neither ever holds a secret.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from compiler.core.errors import KgitError
from compiler.hosts import remote
from compiler.hosts.ssh import Connection


class HostLockError(KgitError):
    reference = "locked"


def identity(commit: str | None) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()} commit {(commit or 'unknown')[:12]}"


@dataclass(frozen=True)
class HistoryEntry:
    time: str
    user: str
    revision: str | None
    nodes: Mapping[str, str]  # node -> done | failed | untouched
    result: str  # applied | failed: <why>
    summary: str


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HostLock:
    """``async with HostLock(conn, who):`` one host apply at a time per cluster."""

    def __init__(self, conn: Connection, who: str) -> None:
        self.conn = conn
        self.holder = f"{who} token {secrets.token_hex(8)}"

    async def __aenter__(self) -> HostLock:
        result = await self.conn.run(remote.lock_program(self.holder), timeout=60)
        lines = result.stdout.splitlines()
        if result.exit_status != 0 or not lines:
            raise HostLockError(
                f"cannot take the host lock on {self.conn.node}: {result.stderr.strip()}"
            )
        if lines[0] != "acquired":
            holder = lines[1] if len(lines) > 1 else "unknown"
            raise HostLockError(
                f"another host apply holds the lock on {self.conn.node} ({holder}); "
                f"if that apply is gone, remove {remote.LOCK_DIR} there"
            )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.conn.run(remote.unlock_program(self.holder), timeout=60)


async def append_history(conn: Connection, entry: HistoryEntry) -> None:
    line = json.dumps(asdict(entry), sort_keys=True)
    await conn.run(remote.history_append_program(line), timeout=60)
