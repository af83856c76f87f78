"""The one value that flows from render to emit: a ``ResourceSet`` of Kubernetes objects.

Objects are keyed by (group, kind, namespace, name), as a cluster keys them, so a
duplicate is an error here rather than a silent overwrite on the cluster. Insertion order
is kept; emit decides file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from compiler.core.errors import KgitError
from compiler.core.identity import ObjectId


class DuplicateObjectError(KgitError):
    reference = "duplicate-object"


@dataclass
class Resource:
    """One Kubernetes object, the out/ file it is written to, and where it came from."""

    body: dict[str, Any]
    file: str  # path relative to out/, e.g. manifests/apps/web/nginx.yaml
    source: str  # e.g. cluster.yaml#spec.apps[0]

    @property
    def key(self) -> ObjectId:
        return ObjectId.of(self.body)


class ResourceSet:
    """An ordered set of Resources with unique keys."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._items: dict[ObjectId, Resource] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: Resource) -> None:
        key = resource.key
        if key in self._items:
            first = self._items[key]
            raise DuplicateObjectError(
                f"{key} is produced twice: by {first.source} and by {resource.source}"
            )
        self._items[key] = resource

    def get(self, key: ObjectId) -> Resource | None:
        return self._items.get(key)

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
