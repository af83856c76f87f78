"""In-memory object storage, indexed by (group, resource) then namespace then name.

Stored objects are never mutated in place: writers build a new dict and ``put`` it, so
readers may serialise stored dicts without copying them.

Two indexes keep a LIST proportional to what it returns rather than to the store: names
are kept sorted per namespace (etcd key order, which LIST and ``continue`` follow), and
each (group, resource) has a label index ``key -> value -> {(namespace, name)}`` that
narrows a label-selected LIST to the objects carrying a required label.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Iterator
from typing import Any

from tests.apiserver.defaults import Allocator
from tests.apiserver.selectors import Requirement, labels_match

Obj = dict[str, Any]
Bucket = dict[str, dict[str, Obj]]  # namespace ("" for cluster-scoped) -> name -> object
Key = tuple[str, str]  # (namespace, name)
LabelIndex = dict[str, dict[str, set[Key]]]  # label key -> value -> objects
# Where a label whose value is not a string is indexed: it exists, but no selector value
# (always a string) equals it, as in ``Requirement.matches``.
_NOT_A_STRING = "\x00not-a-string"


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._rv = 0
        self._data: dict[tuple[str, str], Bucket] = {}
        self._sorted: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._labels: dict[tuple[str, str], LabelIndex] = {}
        # Compact JSON of stored objects as LIST items, keyed by (group, plural, namespace,
        # name) and valid while the stored dict is the same object (writes replace it).
        self._encoded: dict[tuple[str, str, str, str], tuple[Obj, bytes]] = {}
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
        namespace, name = meta.get("namespace", ""), meta["name"]
        with self.lock:
            names = self._data.setdefault((group, plural), {}).setdefault(namespace, {})
            old = names.get(name)
            names[name] = obj
            if old is None:
                order = self._sorted.setdefault((group, plural), {}).setdefault(namespace, [])
                bisect.insort(order, name)
            self._unindex(group, plural, (namespace, name), old)
            self._index(group, plural, (namespace, name), obj)

    def remove(self, group: str, plural: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            names = self._data.get((group, plural), {}).get(namespace, {})
            old = names.pop(name, None)
            self._encoded.pop((group, plural, namespace, name), None)
            if old is not None:
                order = self._sorted[(group, plural)][namespace]
                del order[bisect.bisect_left(order, name)]
                self._unindex(group, plural, (namespace, name), old)
            return old

    def list(self, group: str, plural: str, namespace: str | None) -> list[Obj]:
        """Objects sorted by namespace then name, as etcd keys sort."""
        return self.select(group, plural, namespace)

    def select(
        self,
        group: str,
        plural: str,
        namespace: str | None,
        requirements: list[Requirement] | None = None,
        after: Key | None = None,
    ) -> list[Obj]:
        """Objects in ``namespace`` (None: all) matching the label ``requirements``,
        sorted by (namespace, name), starting after the key ``after``."""
        requirements = requirements or []
        with self.lock:
            bucket = self._data.get((group, plural), {})
            narrowed = self._narrow(group, plural, requirements)
            if narrowed is None:
                objs = self._in_order(group, plural, namespace, after)
                rest = requirements
            else:
                candidates, used = narrowed
                keys = sorted(k for k in candidates if namespace is None or k[0] == namespace)
                if after is not None:
                    keys = keys[bisect.bisect_right(keys, after) :]
                objs = [bucket[ns][name] for ns, name in keys]
                rest = [r for r in requirements if r is not used]
            if not rest:
                return objs
            return [o for o in objs if labels_match(rest, o)]

    def encoded_item(self, group: str, plural: str, obj: Obj, typed: bool) -> bytes:
        """``obj`` as compact JSON for a LIST's ``items``; without apiVersion and kind
        unless ``typed`` (built-in lists carry no type per item). Encoded once per stored
        version: a LIST of 1,000 objects costs a join, not 1,000 encodings."""
        meta = obj["metadata"]
        key = (group, plural, meta.get("namespace", ""), meta["name"])
        cached = self._encoded.get(key)
        if cached is not None and cached[0] is obj:
            return cached[1]
        body = obj if typed else {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        data = json.dumps(body, separators=(",", ":")).encode()
        if self.get(group, plural, key[2], key[3]) is obj:
            self._encoded[key] = (obj, data)
        return data

    def _in_order(
        self, group: str, plural: str, namespace: str | None, after: Key | None
    ) -> list[Obj]:
        bucket = self._data.get((group, plural), {})
        order = self._sorted.get((group, plural), {})
        namespaces = [namespace] if namespace is not None else sorted(order)
        out: list[Obj] = []
        for ns in namespaces:
            if after is not None and ns < after[0]:
                continue
            names = order.get(ns, [])
            start = bisect.bisect_right(names, after[1]) if after and ns == after[0] else 0
            objs = bucket.get(ns, {})
            out.extend(objs[n] for n in names[start:])
        return out

    def _narrow(
        self, group: str, plural: str, requirements: list[Requirement]
    ) -> tuple[set[Key], Requirement] | None:
        """The smallest set of keys one requirement selects, with that requirement (its
        keys match it exactly); None when no requirement can use the index (``!=``,
        ``notin``, ``!key``, ``gt``/``lt``)."""
        index = self._labels.get((group, plural), {})
        best: tuple[set[Key], Requirement] | None = None
        for req in requirements:
            by_value = index.get(req.key, {})
            if req.op in ("=", "in"):
                keys = set().union(*(by_value.get(v, set()) for v in req.values))
            elif req.op == "exists":
                keys = set().union(*by_value.values())
            else:
                continue
            if best is None or len(keys) < len(best[0]):
                best = (keys, req)
        return best

    def _index(self, group: str, plural: str, key: Key, obj: Obj) -> None:
        labels = obj["metadata"].get("labels") or {}
        if labels:
            index = self._labels.setdefault((group, plural), {})
            for label, value in labels.items():
                index.setdefault(label, {}).setdefault(_index_value(value), set()).add(key)

    def _unindex(self, group: str, plural: str, key: Key, obj: Obj | None) -> None:
        if obj is None:
            return
        index = self._labels.get((group, plural), {})
        for label, value in (obj["metadata"].get("labels") or {}).items():
            keys = index.get(label, {}).get(_index_value(value))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[label][_index_value(value)]

    def drop_namespace(self, namespace: str) -> list[tuple[str, str, Obj]]:
        """Remove every object in ``namespace``; returns (group, plural, object)."""
        removed = []
        with self.lock:
            for (group, plural), bucket in self._data.items():
                for name in list(bucket.get(namespace, {})):
                    obj = self.remove(group, plural, namespace, name)
                    if obj is not None:
                        removed.append((group, plural, obj))
        return removed

    def drop_resource(self, group: str, plural: str) -> None:
        with self.lock:
            self._data.pop((group, plural), None)
            self._sorted.pop((group, plural), None)
            self._labels.pop((group, plural), None)
            for key in [k for k in self._encoded if k[:2] == (group, plural)]:
                del self._encoded[key]

    def __iter__(self) -> Iterator[tuple[str, str, Obj]]:
        with self.lock:
            items = [
                (g, p, o)
                for (g, p), b in self._data.items()
                for names in b.values()
                for o in names.values()
            ]
        return iter(items)

    def count(self) -> int:
        return sum(1 for _ in self)


def _index_value(value: object) -> str:
    return value if isinstance(value, str) else _NOT_A_STRING
