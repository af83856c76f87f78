"""Observe: what the cluster holds of kgit's ApplySet, in a number of requests that grows
with the number of kinds, not of objects.

One GET for the parent, then one paginated, cluster-wide LIST per kind (the kinds of the
desired objects and of the parent's inventory), filtered by the member label
``applyset.kubernetes.io/part-of=<id>``. Objects that exist without the label (created by
hand, or by kubectl before kgit) are looked for later, only for objects that the plan would
otherwise create (``find_existing``): a GET each when a kind has few of them in a
namespace, one LIST of that kind in that namespace when it has more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.reconcile.applyset import (
    PART_OF_LABEL,
    applyset_id,
    check_parent,
    is_lost,
    parent_ref,
    read_inventory,
)
from compiler.reconcile.client import ClusterClient, UnservedKind
from compiler.reconcile.inherited import made_by_controller as inherited

Body = dict[str, Any]
# Up to this many objects of one kind in one place, a GET each is cheaper than one LIST
# (which returns every object there); beyond it, one LIST is (each request costs a real
# API server milliseconds of etcd and admission work).
GET_LIMIT = 10


@dataclass(frozen=True)
class Observed:
    """The live side of a plan."""

    set_id: str
    parent: dict[str, Any] | None
    inventory: frozenset[ObjectId]
    members: dict[ObjectId, dict[str, Any]]  # live objects carrying the label
    unserved: frozenset[str] = field(default_factory=frozenset)  # group kinds not served

    def in_inventory(self, ref: ObjectId) -> bool:
        return ref in self.inventory


def kinds_to_list(
    desired: Iterable[ObjectId], inventory: Iterable[ObjectId]
) -> dict[str, tuple[str, str]]:
    """group kind -> (apiVersion, kind) to LIST; the desired apiVersion wins over the
    recorded one, so a kind whose version moved is listed once, in its new version."""
    kinds: dict[str, tuple[str, str]] = {}
    for ref in inventory:
        kinds.setdefault(ref.group_kind, (ref.api_version, ref.kind))
    for ref in desired:
        kinds[ref.group_kind] = (ref.api_version, ref.kind)
    return dict(sorted(kinds.items()))


def observe(
    client: ClusterClient,
    cluster_name: str,
    desired: Iterable[ObjectId],
    *,
    rebuild_inventory: bool = False,
) -> Observed:
    """The ApplySet parent, its inventory, and every live member of the desired/recorded
    kinds. A lost parent (``applyset.is_lost``) has no inventory to trust: see
    ``recover_inventory``."""
    desired = list(desired)
    parent_at = parent_ref(cluster_name)
    set_id = applyset_id(parent_at)
    parent = client.get(parent_at)
    check_parent(parent, cluster_name)
    inventory = frozenset(read_inventory(parent))
    selector = f"{PART_OF_LABEL}={set_id}"
    members, unserved = list_members(client, kinds_to_list(desired, inventory), selector)
    if is_lost(parent) and any(not inherited(r, o, members) for r, o in members.items()):
        inventory = recover_inventory(client, parent_at, desired, members, rebuild_inventory)
    return Observed(set_id, parent, inventory, members, frozenset(unserved))


def list_members(
    client: ClusterClient, kinds: Mapping[str, tuple[str, str]], selector: str
) -> tuple[dict[ObjectId, Body], set[str]]:
    """Live objects of ``kinds`` matching ``selector`` (one LIST each), and the group
    kinds the cluster does not serve."""
    members: dict[ObjectId, Body] = {}
    unserved: set[str] = set()
    for gk, (api_version, kind) in kinds.items():
        try:
            items = client.list(api_version, kind, label_selector=selector)
        except UnservedKind:
            unserved.add(gk)  # e.g. a CRD this plan creates; nothing of it can be live
            continue
        for item in items:
            members[ObjectId.of(item)] = item
    return members, unserved


def recover_inventory(
    client: ClusterClient,
    parent_at: ObjectId,
    desired: list[ObjectId],
    members: dict[ObjectId, Body],
    rebuild: bool,
) -> frozenset[ObjectId]:
    """The inventory of an ApplySet whose parent was lost (deleted, or a bare leftover)
    while objects carrying its label remain: kgit applied them, and pruning would stop
    silently if the plan went on as if they were not its.

    Every served kind is listed by the label (once, for this recovery), adding to
    ``members``; the labelled objects the cluster's controllers did not make are the
    rebuilt inventory. When some of them are no longer desired, they would be deleted:
    only with ``rebuild`` (--rebuild-inventory), a refusal naming them otherwise."""
    selector = f"{PART_OF_LABEL}={applyset_id(parent_at)}"
    more, _ = list_members(client, client.served_kinds(), selector)
    for ref, item in more.items():
        members.setdefault(ref, item)
    owned = {ref for ref, item in members.items() if not inherited(ref, item, members)}
    wanted = set(desired)
    leaving = sorted(owned - wanted)
    if leaving and not rebuild:
        shown = ", ".join(str(ref) for ref in leaving[:3])
        more_text = f" and {len(leaving) - 3} more" if len(leaving) > 3 else ""
        raise PlanError(
            f"the ApplySet parent {parent_at} is missing (or holds no inventory), but "
            f"{len(owned)} live objects carry its label {selector}, {len(leaving)} of "
            f"them no longer in out/manifests ({shown}{more_text}): without the parent's "
            "inventory kgit cannot tell whether it may prune them",
            hint="if every object carrying the label is kgit's, run 'kgit plan "
            "--rebuild-inventory' to see them as its inventory again (those no longer in "
            "out/ are then deleted) and 'kgit apply --rebuild-inventory' to apply it and "
            "recreate the parent; otherwise remove the label from the objects that are "
            "not kgit's first",
        )
    return frozenset(owned)


def by_kind_and_namespace(
    refs: Iterable[ObjectId],
) -> dict[tuple[str, str, str], list[ObjectId]]:
    """(apiVersion, kind, namespace) -> its refs, in first-seen order."""
    groups: dict[tuple[str, str, str], list[ObjectId]] = {}
    for ref in refs:
        groups.setdefault((ref.api_version, ref.kind, ref.namespace), []).append(ref)
    return groups


def find_existing(
    client: ClusterClient,
    refs: Iterable[ObjectId],
    run_all: Callable[[Callable[[ObjectId], Body | None], list[ObjectId]], Iterator[Any]] = map,
) -> dict[ObjectId, Body]:
    """Those of ``refs`` that exist, labelled or not: a GET each for a kind with at most
    ``GET_LIMIT`` of them in one namespace, otherwise one (paginated) LIST of the kind in
    that namespace, without a label selector. ``run_all`` runs the GETs (pass a thread
    pool's ``map`` to run them concurrently); LISTs run on this thread."""
    found: dict[ObjectId, Body] = {}
    singles: list[ObjectId] = []
    for (api_version, kind, namespace), group in by_kind_and_namespace(refs).items():
        if len(group) <= GET_LIMIT:
            singles += group
            continue
        wanted = set(group)
        for item in client.list_pages(api_version, kind, namespace=namespace or None):
            ref = ObjectId.of(item)
            if ref in wanted:
                found[ref] = item
    for ref, live in zip(singles, run_all(client.get, singles), strict=True):
        if live is not None:
            found[ref] = live
    return found


def read_objects(
    client: ClusterClient,
    refs: Iterable[ObjectId],
    label_selector: str,
    run_all: Callable[[Callable[[ObjectId], Body | None], list[ObjectId]], Iterator[Any]] = map,
) -> dict[ObjectId, Body | None]:
    """The live state of each of ``refs`` (None: not found), for objects expected to carry
    ``label_selector``'s label: a GET each for a kind with at most ``GET_LIMIT`` of them,
    otherwise one cluster-wide LIST of the kind by the label. What a LIST does not return
    (an object without the label: adopted, relabelled or deleted) gets a GET."""
    found: dict[ObjectId, Body | None] = {}
    by_kind: dict[tuple[str, str], list[ObjectId]] = {}
    for ref in dict.fromkeys(refs):
        by_kind.setdefault((ref.api_version, ref.kind), []).append(ref)
    singles: list[ObjectId] = []
    for (api_version, kind), group in by_kind.items():
        if len(group) <= GET_LIMIT:
            singles += group
            continue
        wanted = set(group)
        for item in client.list_pages(api_version, kind, label_selector=label_selector):
            ref = ObjectId.of(item)
            if ref in wanted:
                found[ref] = item
        singles += [ref for ref in group if ref not in found]
    for ref, live in zip(singles, run_all(client.get, singles), strict=True):
        found[ref] = live
    return found
