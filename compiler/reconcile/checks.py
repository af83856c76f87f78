"""Before an apply writes anything: is the plan still the plan?

``check_base`` and ``bodies_to_apply`` run before the lock (out/ changed, another context
or ApplySet, an object missing from out/, a from-env Secret whose variable is unset);
``check_live_versions`` runs under it (an object the plan changes moved since the plan
read it, or one it creates exists now). Each refusal is a ``PlanError``: nothing written.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.core.ownership import cluster_applyset_id
from compiler.reconcile import applyset, normalize
from compiler.reconcile.calls import ApplyCluster
from compiler.reconcile.client import UnservedKind
from compiler.reconcile.desired import Desired, with_secret_values
from compiler.reconcile.model import Action, ActionKind, Plan
from compiler.reconcile.observe import find_existing, read_objects

Body = dict[str, Any]


def check_base(plan: Plan, desired: Desired, context: str, server: str) -> None:
    base = plan.base
    if desired.out_digest != base.out_digest:
        raise PlanError(
            "the saved plan is stale: out/manifests changed since it was made",
            hint="run 'kgit plan' again",
        )
    if (base.context, base.server) != (context, server):
        raise PlanError(
            f"the saved plan is for context {base.context!r} ({base.server}), "
            f"not {context!r} ({server})"
        )
    expected = cluster_applyset_id(desired.cluster_name)
    if base.applyset_id != expected:
        raise PlanError(
            f"the saved plan is for another cluster's ApplySet ({base.applyset_id}), "
            f"not {desired.cluster_name!r}'s"
        )


def bodies_to_apply(
    plan: Plan, desired: Desired, set_id: str, environ: Mapping[str, str] | None
) -> dict[ObjectId, Body]:
    """Desired bodies of the plan's create/update/replace actions, labelled and filled.

    From-env Secrets get their values here, so a missing variable fails before any write.
    """
    by_ref = {ObjectId.of(body): body for body in desired.objects}
    bodies: dict[ObjectId, Body] = {}
    for action in plan.actions:
        if action.kind is ActionKind.DELETE and action.ref in by_ref:
            # Only an edited (or foreign) plan asks this: a plan deletes what left out/.
            raise PlanError(
                f"the saved plan deletes {action.ref}, which out/manifests still holds; "
                "kgit never deletes a desired object",
                hint="run 'kgit plan' again",
            )
        if action.kind not in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.REPLACE):
            continue
        body = by_ref.get(action.ref)
        if body is None:
            raise PlanError(
                f"the saved plan is stale: {action.ref} is not in out/manifests",
                hint="run 'kgit plan' again",
            )
        filled = with_secret_values(body, environ)
        bodies[action.ref] = applyset.with_member_labels(filled, set_id)
    return bodies


def check_live_versions(
    cluster: ApplyCluster, plan: Plan, set_id: str, pool: ThreadPoolExecutor
) -> None:
    """Refuse a saved plan whose objects moved since it was made (nothing written yet).

    Objects the plan changes or deletes are members: one LIST per kind by the ApplySet
    label (observe.read_objects; a GET for what it does not return, such as an object
    the plan adopts). Objects it creates must still be absent: observe.find_existing,
    except those in a namespace the plan creates, which cannot exist while their
    namespace does not (and the namespace is checked)."""
    creates: list[ObjectId] = []
    others: list[Action] = []
    for action in plan.actions:
        if action.kind is ActionKind.NOOP:
            continue
        try:
            cluster.resolve(action.ref)
        except UnservedKind:
            if action.kind is ActionKind.CREATE:
                continue  # its CRD comes with this apply: it cannot exist yet
            raise
        if action.kind is ActionKind.CREATE:
            creates.append(action.ref)
        else:
            others.append(action)
    new_namespaces = {r.name for r in creates if (r.api_version, r.kind) == ("v1", "Namespace")}
    existing = find_existing(
        cluster.client,
        [r for r in creates if r.namespace not in new_namespaces],
        pool.map,
    )
    selector = f"{applyset.PART_OF_LABEL}={set_id}"
    lives = read_objects(cluster.client, [a.ref for a in others], selector, pool.map)
    for action in plan.actions:
        live = lives.get(action.ref)
        if action.ref in existing:
            why = "it exists now"
        elif action.ref not in lives:
            continue  # a no-op, a create still absent, or a kind not served
        elif live is None:
            why = "it was deleted"
        elif moved(action, live):
            why = "it changed on the cluster"
        else:
            continue
        raise PlanError(
            f"the saved plan is stale: {action.ref}: {why} since the plan was made",
            hint="run 'kgit plan' again",
        )


def moved(action: Action, live: Body) -> bool:
    """Whether the live object changed since the plan saw it, status updates aside
    (normalize.fingerprint says why); plans saved without a fingerprint compare the
    resourceVersion."""
    if action.live_fingerprint is not None:
        return normalize.fingerprint(live) != action.live_fingerprint
    return live["metadata"].get("resourceVersion") != action.live_resource_version
