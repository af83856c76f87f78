"""The one value that flows from render to emit: a ``ResourceSet`` of Kubernetes objects.

Objects are keyed by (group, kind, namespace, name), as a cluster keys them, so a
duplicate is an error here rather than a silent overwrite on the cluster. Insertion order
is kept; emit decides file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from compiler.core.errors import KgitError

# Kinds whose objects live outside namespaces (the ones kgit and its add-ons emit).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "PodSecurityPolicy",
        "APIService",
        "RuntimeClass",
        "CSIDriver",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "VolumeAttachment",
    }
)


class ObjectKey(NamedTuple):
    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> ObjectKey:
        api_version = str(body.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        metadata = body.get("metadata") or {}
        kind = str(body.get("kind", ""))
        namespace = "" if kind in CLUSTER_SCOPED_KINDS else str(metadata.get("namespace") or "")
        return cls(group, kind, namespace, str(metadata.get("name", "")))

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


class DuplicateObjectError(KgitError):
    reference = "duplicate-object"


@dataclass
class Resource:
    """One Kubernetes object, the out/ file it is written to, and where it came from."""

    body: dict[str, Any]
    file: str  # path relative to out/, e.g. manifests/apps/web/nginx.yaml
    source: str  # e.g. cluster.yaml#spec.apps[0]

    @property
    def key(self) -> ObjectKey:
        return ObjectKey.of(self.body)


class ResourceSet:
    """An ordered set of Resources with unique keys."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._items: dict[ObjectKey, Resource] = {}
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

    def get(self, key: ObjectKey) -> Resource | None:
        return self._items.get(key)

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
