"""In-memory object storage, indexed by (group, resource) then namespace then name.

Stored objects are never mutated in place: writers build a new dict and ``put`` it, so
readers may serialise stored dicts without copying them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from tests.apiserver.defaults import Allocator

Obj = dict[str, Any]
Bucket = dict[str, dict[str, Obj]]  # namespace ("" for cluster-scoped) -> name -> object


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._rv = 0
        self._data: dict[tuple[str, str], Bucket] = {}
        self.alloc = Allocator()
        # Lowest resourceVersion a continue token may refer to (tests raise it to
        # simulate etcd compaction, which makes old tokens 410 Expired).
        self.compacted_rv = 0

    @property
    def resource_version(self) -> int:
        return self._rv

    def next_rv(self) -> str:
        with self.lock:
            self._rv += 1
            return str(self._rv)

    def get(self, group: str, plural: str, namespace: str, name: str) -> Obj | None:
        return self._data.get((group, plural), {}).get(namespace, {}).get(name)

    def put(self, group: str, plural: str, obj: Obj) -> None:
        meta = obj["metadata"]
        bucket = self._data.setdefault((group, plural), {})
        with self.lock:
            bucket.setdefault(meta.get("namespace", ""), {})[meta["name"]] = obj

    def remove(self, group: str, plural: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            names = self._data.get((group, plural), {}).get(namespace, {})
            return names.pop(name, None)

    def list(self, group: str, plural: str, namespace: str | None) -> list[Obj]:
        """Objects sorted by namespace then name, as etcd keys sort."""
        bucket = self._data.get((group, plural), {})
        with self.lock:
            if namespace is not None:
                names = bucket.get(namespace, {})
                return [names[n] for n in sorted(names)]
            out = []
            for ns in sorted(bucket):
                names = bucket[ns]
                out.extend(names[n] for n in sorted(names))
            return out

    def drop_namespace(self, namespace: str) -> list[tuple[str, str, Obj]]:
        """Remove every object in ``namespace``; returns (group, plural, object)."""
        removed = []
        with self.lock:
            for (group, plural), bucket in self._data.items():
                for obj in bucket.pop(namespace, {}).values():
                    removed.append((group, plural, obj))
        return removed

    def drop_resource(self, group: str, plural: str) -> None:
        with self.lock:
            self._data.pop((group, plural), None)

    def __iter__(self) -> Iterator[tuple[str, str, Obj]]:
        with self.lock:
            items = [(g, p, o) for (g, p), b in self._data.items()
                     for names in b.values() for o in names.values()]
        return iter(items)

    def count(self) -> int:
        return sum(1 for _ in self)
