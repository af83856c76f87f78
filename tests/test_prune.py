"""Prune guards: empty renders, mass prunes, protected kinds, and the two proofs."""

from __future__ import annotations

import pytest

from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.reconcile.prune import PruneOptions, decide_prune, refusal, skip_reason

NS = ObjectId("v1", "Namespace", "", "web")
PVC = ObjectId("v1", "PersistentVolumeClaim", "web", "data")
CM = ObjectId("v1", "ConfigMap", "web", "settings")
DEPLOY = ObjectId("apps/v1", "Deployment", "web", "nginx")


def test_small_prune_deletes_and_protects_namespaces_and_pvcs():
    decision = decide_prune([CM, NS, PVC], inventory_size=10, desired_count=7)
    assert decision.delete == (CM,)
    assert decision.skipped == (NS, PVC)


def test_protected_kinds_are_deleted_with_prune_protected():
    decision = decide_prune(
        [CM, NS, PVC],
        inventory_size=10,
        desired_count=7,
        options=PruneOptions(prune_protected=True),
    )
    assert decision.delete == (CM, NS, PVC)
    assert decision.skipped == ()


@pytest.mark.parametrize(
    ("deleted", "inventory", "refused"),
    [
        pytest.param(2, 4, False, id="exactly-half-allowed"),
        pytest.param(3, 5, True, id="more-than-half-refused"),
    ],
)
def test_more_than_half_of_the_inventory_is_refused(deleted, inventory, refused):
    candidates = [ObjectId("v1", "ConfigMap", "web", f"c{i}") for i in range(deleted)]
    if refused:
        with pytest.raises(PlanError):
            decide_prune(candidates, inventory_size=inventory, desired_count=inventory - deleted)
        decision = decide_prune(
            candidates,
            inventory_size=inventory,
            desired_count=1,
            options=PruneOptions(allow_mass_prune=True),
        )
        assert len(decision.delete) == deleted
    else:
        decision = decide_prune(candidates, inventory_size=inventory, desired_count=2)
        assert len(decision.delete) == deleted


def test_empty_desired_set_refuses_even_a_small_prune():
    with pytest.raises(PlanError) as caught:
        decide_prune([CM], inventory_size=10, desired_count=0)
    assert str(caught.value).startswith("out/manifests is empty, so apply would delete all 1 ")


def test_nothing_to_prune_is_never_refused():
    assert decide_prune([], inventory_size=0, desired_count=0).delete == ()


@pytest.mark.parametrize(
    ("labels", "inventory", "reason"),
    [
        pytest.param({"applyset.kubernetes.io/part-of": "set-1"}, {CM}, None, id="both-proofs"),
        pytest.param(
            {},
            {CM},
            "it no longer carries applyset.kubernetes.io/part-of=set-1",
            id="label-missing",
        ),
        pytest.param(
            {"applyset.kubernetes.io/part-of": "set-2"},
            {CM},
            "it no longer carries applyset.kubernetes.io/part-of=set-1",
            id="other-applyset",
        ),
        pytest.param(
            {"applyset.kubernetes.io/part-of": "set-1"},
            {DEPLOY},
            "it is not in the ApplySet inventory",
            id="copied-label",
        ),
    ],
)
def test_live_object_needs_label_and_inventory(labels, inventory, reason):
    live = {"metadata": {"name": "settings", "namespace": "web", "labels": labels}}
    assert refusal(CM, live, "set-1", inventory) == reason


@pytest.mark.parametrize("name", ["kube-system", "kube-public", "kube-node-lease", "default"])
def test_built_in_namespaces_are_never_pruned_even_with_prune_protected(name):
    builtin = ObjectId("v1", "Namespace", "", name)
    for options in (PruneOptions(), PruneOptions(prune_protected=True, allow_mass_prune=True)):
        decision = decide_prune([CM, builtin], inventory_size=10, desired_count=8, options=options)
        assert decision.delete == (CM,)
        assert decision.skipped == (builtin,)
    live = {"metadata": {"labels": {"applyset.kubernetes.io/part-of": "set"}}}
    assert refusal(builtin, live, "set", [builtin]) == (
        f"Namespace {name} is built into the cluster; kgit never deletes it"
    )
    assert skip_reason(builtin) == "built-in namespace: never deleted"
    assert skip_reason(NS) == "protected kind: use --prune-protected"
