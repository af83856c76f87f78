"""Pruning: deleting what kgit applied before and out/ no longer holds, and nothing else.

An object is deleted only with two proofs (KEP-3659): it carries this cluster's
``applyset.kubernetes.io/part-of`` label AND the ApplySet parent's inventory lists it. Apply
checks both again on the live object just before deleting, so a plan made earlier cannot
delete an object someone has since re-created or relabelled.

Two guards against a broken render deleting a cluster, both lifted by
``--allow-mass-prune``: an empty desired set prunes nothing, and neither does a prune
that would delete more than half of the inventory. Namespaces, PersistentVolumeClaims and
CustomResourceDefinitions hold data that cannot be re-created from Git (everything inside a
namespace; a volume's contents; every custom resource of the CRD's kind), so they are only
deleted with ``--prune-protected`` and reported as skipped otherwise. A built-in namespace
(kube-system, default, ...) is never deleted, flag or no flag: deleting it would take the
cluster's own components with it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.core.ownership import BUILTIN_NAMESPACES
from compiler.reconcile.applyset import PART_OF_LABEL

PROTECTED_KINDS = frozenset(
    {
        ("", "Namespace"),
        ("", "PersistentVolumeClaim"),
        # Deleting a CRD deletes every custom resource of its kind in the cluster, including
        # ones kgit never applied (a third-party add-on's CRDs hold other teams' objects).
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    }
)


@dataclass(frozen=True)
class PruneOptions:
    allow_mass_prune: bool = False
    prune_protected: bool = False


@dataclass(frozen=True)
class PruneDecision:
    delete: tuple[ObjectId, ...]
    skipped: tuple[ObjectId, ...]  # protected kinds, kept without --prune-protected


def is_protected(ref: ObjectId) -> bool:
    return (ref.group, ref.kind) in PROTECTED_KINDS


def is_built_in_namespace(ref: ObjectId) -> bool:
    return (ref.group, ref.kind) == ("", "Namespace") and ref.name in BUILTIN_NAMESPACES


def skip_reason(ref: ObjectId) -> str:
    """Why a skipped candidate is kept, as apply reports it."""
    if is_built_in_namespace(ref):
        return "built-in namespace: never deleted"
    return "protected kind: use --prune-protected"


def decide_prune(
    candidates: Iterable[ObjectId],
    *,
    inventory_size: int,
    desired_count: int,
    options: PruneOptions = PruneOptions(),
) -> PruneDecision:
    """Which candidates to delete; raises PlanError when the prune looks like a mistake."""
    candidates = sorted(set(candidates))
    if candidates and not options.allow_mass_prune:
        if desired_count == 0:
            raise PlanError(
                f"out/manifests is empty, so apply would delete all {len(candidates)} objects "
                "kgit manages on this cluster; refusing",
                hint="if that is really intended, re-run with --allow-mass-prune",
            )
        if len(candidates) * 2 > inventory_size:
            raise PlanError(
                f"apply would delete {len(candidates)} of the {inventory_size} objects kgit "
                "manages on this cluster (more than half); refusing",
                hint="check out/ (was it compiled from the right cluster.yaml?); if the "
                "deletions are intended, re-run with --allow-mass-prune",
            )
    skipped = tuple(
        r
        for r in candidates
        if is_built_in_namespace(r) or (is_protected(r) and not options.prune_protected)
    )
    delete = tuple(r for r in candidates if r not in skipped)
    return PruneDecision(delete, skipped)


def refusal(
    ref: ObjectId, live: Mapping[str, Any], set_id: str, inventory: Collection[ObjectId]
) -> str | None:
    """Why the live object must not be deleted, or None when both proofs hold."""
    if is_built_in_namespace(ref):
        return f"Namespace {ref.name} is built into the cluster; kgit never deletes it"
    labels = (live.get("metadata") or {}).get("labels") or {}
    if labels.get(PART_OF_LABEL) != set_id:
        return f"it no longer carries {PART_OF_LABEL}={set_id}"
    if ref not in {m for m in inventory}:
        return "it is not in the ApplySet inventory"
    return None
