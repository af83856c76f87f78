"""One identity for a Kubernetes object, used by compile, diff, plan and apply alike.

An object is identified as a cluster identifies it: API group, kind, namespace and name.
The version is carried for requests (``apiVersion``) but is not part of the identity, so
the same Deployment read as ``apps/v1`` and recorded as ``apps/v1beta2`` is one object, and
a set or dict of ``ObjectId`` finds it in one lookup.

Scope comes from the object itself: a cluster-scoped object has no namespace in its
metadata (kgit renders none, and the API server returns none), so nothing here keeps a
list of kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False, slots=True)
class ObjectId:
    api_version: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> ObjectId:
        meta = body.get("metadata") or {}
        return cls(
            str(body.get("apiVersion", "")),
            str(body.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
        )

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(group, kind, namespace, name): what equality, hashing and order use."""
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def group_kind(self) -> str:
        """'Deployment.apps' or 'Service': Go's GroupKind string."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectId) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: ObjectId) -> bool:
        return self.key < other.key

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.group_kind}/{where}"
