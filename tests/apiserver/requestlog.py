"""The request log: one record per HTTP request, for tests that count calls
(``apiserver.requests.count("patch", "deployments")``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection, ...
    resource: str  # plural ("deployments"), "" for non-resource URLs
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    content_type: str = ""


class RequestLog:
    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def __iter__(self) -> Iterator[RequestRecord]:
        with self._lock:
            return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def filter(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> list[RequestRecord]:
        return [
            r
            for r in self
            if (verb is None or r.verb == verb)
            and (resource is None or r.resource == resource)
            and (method is None or r.method == method)
            and (status is None or r.status == status)
        ]

    def count(self, verb: str | None = None, resource: str | None = None, **kw: Any) -> int:
        return len(self.filter(verb=verb, resource=resource, **kw))

    def counts(self) -> dict[tuple[str, str], int]:
        """Requests per (verb, resource)."""
        out: dict[tuple[str, str], int] = {}
        for r in self:
            out[(r.verb, r.resource)] = out.get((r.verb, r.resource), 0) + 1
        return out
