"""Observe: what the cluster holds of kgit's ApplySet, in a number of requests that grows
with the number of kinds, not of objects.

One GET for the parent, then one paginated, cluster-wide LIST per kind (the kinds of the
desired objects and of the parent's inventory), filtered by the member label
``applyset.kubernetes.io/part-of=<id>``. Objects that exist without the label (created by
hand, or by kubectl before kgit) are found later, one GET each, only for objects that the
plan would otherwise create.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from compiler.reconcile.applyset import (
    PART_OF_LABEL,
    applyset_id,
    check_parent,
    group_kind,
    member_key,
    parent_ref,
    read_inventory,
)
from compiler.reconcile.connect import ClusterClient, UnservedKind
from compiler.reconcile.model import ObjectRef


@dataclass(frozen=True)
class Observed:
    """The live side of a plan."""

    set_id: str
    parent: dict[str, Any] | None
    inventory: frozenset[ObjectRef]
    members: dict[str, dict[str, Any]]  # member_key -> live object carrying the label
    unserved: frozenset[str] = field(default_factory=frozenset)  # group kinds not served

    def in_inventory(self, ref: ObjectRef) -> bool:
        key = member_key(ref)
        return any(member_key(m) == key for m in self.inventory)


def kinds_to_list(
    desired: Iterable[ObjectRef], inventory: Iterable[ObjectRef]
) -> dict[str, tuple[str, str]]:
    """group kind -> (apiVersion, kind) to LIST; the desired apiVersion wins over the
    recorded one, so a kind whose version moved is listed once, in its new version."""
    kinds: dict[str, tuple[str, str]] = {}
    for ref in inventory:
        kinds.setdefault(group_kind(ref), (ref.api_version, ref.kind))
    for ref in desired:
        kinds[group_kind(ref)] = (ref.api_version, ref.kind)
    return dict(sorted(kinds.items()))


def observe(client: ClusterClient, cluster_name: str, desired: Iterable[ObjectRef]) -> Observed:
    """The ApplySet parent, its inventory, and every live member of the desired/recorded kinds."""
    parent_at = parent_ref(cluster_name)
    set_id = applyset_id(parent_at)
    parent = client.get(parent_at)
    check_parent(parent, cluster_name)
    inventory = frozenset(read_inventory(parent))
    selector = f"{PART_OF_LABEL}={set_id}"
    members: dict[str, dict[str, Any]] = {}
    unserved: set[str] = set()
    for gk, (api_version, kind) in kinds_to_list(desired, inventory).items():
        try:
            items = client.list(api_version, kind, label_selector=selector)
        except UnservedKind:
            unserved.add(gk)  # e.g. a CRD this plan creates; nothing of it can be live
            continue
        for item in items:
            members[member_key(ObjectRef.of(item))] = item
    return Observed(set_id, parent, inventory, members, frozenset(unserved))
