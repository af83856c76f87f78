"""Plan: compare desired state with the live cluster and decide one action per object.

    observe (GET parent, one LIST per kind)
    -> objects to create: looked for without the label (a GET each, or a LIST per kind and
       namespace holding many); found ones are adopted (updated, with a warning)
    -> per desired object: NOOP when nothing kgit owns drifted (no request),
       otherwise a dry-run server-side apply whose answer is diffed against live
    -> DELETE for live members no longer desired (label AND inventory, never label alone)

A dry-run refused as "field is immutable" becomes REPLACE when the object says it may be
replaced (``kgit.dev/replace: "true"``), and an error naming the field otherwise.
Values of Secrets are filled from the environment for the dry-run only: every ``before``,
``after`` and diff in the plan is masked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from compiler.core.errors import ClusterError, PlanError
from compiler.core.identity import ObjectId
from compiler.core.masking import mask_pair
from compiler.core.objdiff import field_changes, yaml_diff
from compiler.core.ownership import PARENT_API_VERSION, PARENT_KIND, PARENT_NAMESPACE
from compiler.reconcile import normalize
from compiler.reconcile.applyset import (
    ID_LABEL,
    PART_OF_LABEL,
    check_repository,
    with_member_labels,
)
from compiler.reconcile.client import FIELD_MANAGER, ApiRejected, ClusterClient
from compiler.reconcile.desired import Desired, with_secret_values
from compiler.reconcile.health import unhealthy
from compiler.reconcile.inherited import made_by_controller
from compiler.reconcile.model import DEFAULT_PARALLELISM, Action, ActionKind, Plan, PlanBase
from compiler.reconcile.observe import Observed, find_existing, observe
from compiler.reconcile.order import apply_key

REPLACE_ANNOTATION = "kgit.dev/replace"
_IMMUTABLE_WORDS = ("immutable", "may not change once set")


@dataclass(frozen=True)
class PlanOptions:
    environ: Mapping[str, str] | None = None  # for from-env Secrets (default: os.environ)
    git_revision: str | None = None
    prune: bool = True  # plan deletions of members that are no longer desired
    parallelism: int = DEFAULT_PARALLELISM  # for new and changed objects
    # Take over objects that exist without kgit's label (created by hand or another tool).
    # Off by default: one wrong KUBECONFIG must not make kgit adopt another cluster's
    # objects (and later prune them); `--adopt` says it is meant.
    adopt: bool = False
    repository: str | None = None  # where the spec lives (applyset.check_repository)
    # the parent was lost: take every object carrying the label as kgit's (observe.py)
    rebuild_inventory: bool = False


def _seen(live: dict[str, Any]) -> dict[str, Any]:
    """What the plan records of the live object it acted on, for apply's staleness check."""
    return {
        "live_resource_version": (live.get("metadata") or {}).get("resourceVersion"),
        "live_fingerprint": normalize.fingerprint(live),
    }


def _immutable_field(exc: ApiRejected) -> str | None:
    """The field a 422 refused as immutable, or None when it was refused for another reason."""
    if exc.status != 422:
        return None
    for cause in exc.causes:
        if any(word in str(cause.get("message", "")) for word in _IMMUTABLE_WORDS):
            return str(cause.get("field") or "a field")
    if any(word in exc.server_message for word in _IMMUTABLE_WORDS):
        return "a field"
    return None


# Annotations kgit writes by itself: they change with the fields a person changed, so a
# headline names them only when nothing else differs.
_OWN_ANNOTATIONS = ("annotations.kubernetes.io/change-cause", "annotations.kgit.dev/source")


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict | list):
        return "{...}" if isinstance(value, dict) else "[...]"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def headline(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    """What an update changes, for the plan's one-line header: the first field that
    really differs (masked values), e.g. ``spec.replicas: 7 -> 3``; kgit's own
    annotations only when nothing else differs; None when nothing does."""
    changes = field_changes(before or {}, after or {})
    if not changes:
        return None
    own = [c for c in changes if c.path.endswith(_OWN_ANNOTATIONS)]
    first = next((c for c in changes if c not in own), changes[0])
    if first.before is None:
        text = f"{first.path} added"
    elif first.after is None:
        text = f"{first.path} removed"
    else:
        text = f"{first.path}: {_short(first.before)} -> {_short(first.after)}"
    others = len(changes) - 1
    return text + (f", and {others} more field{'s' if others != 1 else ''}" if others else "")


def _replaceable(body: Mapping[str, Any]) -> bool:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(REPLACE_ANNOTATION, "")).lower() == "true"


def _shown(
    before: dict[str, Any] | None, after: dict[str, Any] | None, label: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str]:
    """Masked before/after for display, and their diff."""
    masked_before, masked_after = mask_pair(before, after)
    return masked_before, masked_after, yaml_diff(before, after, label=label)


@dataclass(frozen=True)
class _Wanted:
    """One object of out/ as the plan sees it, before deciding what to do with it."""

    ref: ObjectId
    body: dict[str, Any]  # with the ApplySet label
    filled: dict[str, Any]  # and with Secret values from the environment
    live: dict[str, Any] | None  # a member, or an unlabelled object to adopt
    adopted: str | None  # the warning for adopting it
    drift: str | None  # how live differs, when it exists

    @property
    def unchanged(self) -> bool:
        return self.live is not None and self.drift is None


class Planner:
    """One plan's decisions. Inputs: the client (for dry runs and looking up objects to
    adopt), out/ (``desired``), what ``observe`` read of the cluster, and the options;
    output: ``plan()``, a ``Plan``. Nothing is written to the cluster."""

    def __init__(
        self, client: ClusterClient, desired: Desired, observed: Observed, options: PlanOptions
    ) -> None:
        self.client = client
        self.desired = desired
        self.observed = observed
        self.options = options
        self.new_namespaces = {
            ObjectId.of(b).name
            for b in desired.objects
            if b.get("kind") == "Namespace"
            and b.get("apiVersion") == "v1"
            and ObjectId.of(b) not in observed.members
        }

    def _cannot_exist_yet(self, ref: ObjectId) -> bool:
        """True when the object's namespace or kind is created by this very plan."""
        if ref.namespace and ref.namespace in self.new_namespaces:
            return True
        return any(
            ref.kind == gk.partition(".")[0] and ref.group == gk.partition(".")[2]
            for gk in self.observed.unserved
        )

    def _dry_run(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.apply(body, dry_run=True, field_manager=FIELD_MANAGER, force=True)

    def create(self, body: dict[str, Any], filled: dict[str, Any]) -> Action:
        ref = ObjectId.of(body)
        if not self._cannot_exist_yet(ref):
            self._dry_run(filled)  # the server validates the object now, not mid-apply
        _, after, diff = _shown(None, normalize.for_display(filled), str(ref))
        return Action(ActionKind.CREATE, ref, "not on the cluster", diff, None, after)

    def change(
        self, body: dict[str, Any], filled: dict[str, Any], live: dict[str, Any], reason: str
    ) -> Action:
        """An object whose live state drifted (``reason``): the server's dry run decides."""
        ref = ObjectId.of(body)
        seen = _seen(live)
        try:
            result = self._dry_run(filled)
        except ApiRejected as exc:
            field = _immutable_field(exc)
            if field is None:
                raise
            if not _replaceable(body):
                raise PlanError(
                    f"{ref}: {field} cannot be changed in place (the API server says it is "
                    "immutable)",
                    hint=f'annotate the object {REPLACE_ANNOTATION}: "true" to let kgit '
                    "delete and re-create it, or revert the change",
                ) from None
            before, after, diff = _shown(
                normalize.for_display(live), normalize.for_display(filled), str(ref)
            )
            return Action(
                ActionKind.REPLACE, ref, f"{field} is immutable", diff, before, after, **seen
            )
        before, after, diff = _shown(
            normalize.for_display(live), normalize.for_display(result), str(ref)
        )
        if not diff:
            # Only field ownership would move (another manager set the same values).
            return Action(
                ActionKind.NOOP,
                ref,
                f"{reason}; values already match",
                "",
                **seen,
            )
        return Action(
            ActionKind.UPDATE, ref, headline(before, after) or reason, diff, before, after, **seen
        )

    def find_unlabelled(self, pool: ThreadPoolExecutor) -> dict[ObjectId, dict[str, Any]]:
        """Objects the plan would create that exist without kgit's label (to adopt).
        Only objects not among the members, in namespaces and of kinds that exist, are
        looked for: a GET each, or one LIST per kind and namespace holding many of them."""
        refs = [ObjectId.of(body) for body in self.desired.objects]
        new = [ref for ref in refs if ref not in self.observed.members]
        # Namespaces first: one that exists without the label is adopted, not new, and
        # objects in it may exist too; nothing can exist in one that is really new.
        namespaces = [r for r in new if (r.api_version, r.kind) == ("v1", "Namespace")]
        found = find_existing(self.client, namespaces, pool.map)
        self.new_namespaces -= {ref.name for ref in found}
        others = [r for r in new if r not in found and not self._cannot_exist_yet(r)]
        return {**found, **find_existing(self.client, others, pool.map)}

    def delete(self, live: dict[str, Any]) -> Action:
        ref = ObjectId.of(live)
        before, _, diff = _shown(normalize.for_display(live), None, str(ref))
        return Action(
            ActionKind.DELETE,
            ref,
            "no longer in out/manifests",
            diff,
            before,
            None,
            **_seen(live),
        )

    def wanted_state(
        self, original: dict[str, Any], unlabelled: Mapping[ObjectId, dict[str, Any]]
    ) -> _Wanted:
        body = with_member_labels(original, self.observed.set_id)
        ref = ObjectId.of(body)
        live = self.observed.members.get(ref)
        adopted = None
        if live is None:
            live = unlabelled.get(ref)
            if live is not None:
                self.refuse_other_cluster(ref, live)
                adopted = str(ref)
        filled = with_secret_values(body, self.options.environ)
        drift = None if live is None else normalize.drift(filled, live, FIELD_MANAGER)
        return _Wanted(ref, body, filled, live, adopted, drift)

    def plan_one(self, wanted: _Wanted) -> Action:
        try:
            if wanted.live is None:
                return self.create(wanted.body, wanted.filled)
            assert wanted.drift is not None
            return self.change(wanted.body, wanted.filled, wanted.live, wanted.drift)
        except ApiRejected as exc:
            raise ClusterError(f"{wanted.ref}: {exc}") from None

    def desired_actions(self, pool: ThreadPoolExecutor) -> tuple[list[Action], list[str]]:
        """One action per object of out/, in its order, and the objects it adopts.

        Unchanged objects cost no request and are decided here: handing each of thousands
        to the pool cost more than deciding it. New ones are looked for (find_unlabelled)
        and new and changed ones get a dry-run; both run concurrently (a real API server
        answers each in milliseconds of waiting). map() raises the first error in order."""
        unlabelled = self.find_unlabelled(pool)
        every = [self.wanted_state(original, unlabelled) for original in self.desired.objects]
        planned = pool.map(self.plan_one, [w for w in every if not w.unchanged])
        actions: list[Action] = []
        warnings: list[str] = []
        for wanted in every:
            if wanted.unchanged:
                assert wanted.live is not None
                actions.append(Action(ActionKind.NOOP, wanted.ref, "", **_seen(wanted.live)))
            else:
                actions.append(next(planned))
            if wanted.adopted:
                warnings.append(wanted.adopted)
        return actions, warnings

    def refuse_other_cluster(self, ref: ObjectId, live: dict[str, Any]) -> None:
        """An object that another kgit ApplySet manages belongs to another spec: the
        kubeconfig points at the wrong cluster (or two specs claim one). Never adopted,
        not even with --adopt: applying would take it over and a later apply of the other
        spec would fight back or prune."""
        other = ((live.get("metadata") or {}).get("labels") or {}).get(PART_OF_LABEL)
        if not other or other == self.observed.set_id:
            return
        owner = self.other_cluster_name(other)
        raise PlanError(
            f"this API server ({self.client.server}) belongs to kgit cluster {owner!r}, not "
            f"{self.desired.cluster_name!r} as out/ says: {ref} is a member of {owner!r}'s "
            "ApplySet; refusing to take it over",
            hint="check KUBECONFIG/--context; two specs cannot manage one cluster",
        )

    def other_cluster_name(self, set_id: str) -> str:
        """The cluster name of the kgit ApplySet ``set_id`` (from its parent ConfigMap)."""
        try:
            parents = self.client.list(
                PARENT_API_VERSION,
                PARENT_KIND,
                label_selector=f"{ID_LABEL}={set_id}",
                namespace=PARENT_NAMESPACE,
            )
        except ClusterError:
            parents = []
        for parent in parents:
            name = str((parent.get("metadata") or {}).get("name", ""))
            if name.startswith("kgit-"):
                return name.removeprefix("kgit-")
        return f"another kgit cluster (ApplySet {set_id})"

    def check_adoption(self, adopted: list[str]) -> list[str]:
        """Refuse to adopt without ``adopt``; with it, one summary warning."""
        if not adopted:
            return []
        count = len(adopted)
        shown = ", ".join(adopted[:3]) + (f" and {count - 3} more" if count > 3 else "")
        noun = "object exists" if count == 1 else "objects exist"
        if not self.options.adopt:
            raise PlanError(
                f"{count} {noun} on the cluster without kgit's ApplySet label: {shown}; "
                "kgit adopts objects only when told to",
                hint="check that KUBECONFIG points at this spec's cluster, then pass --adopt",
            )
        return [
            f"kgit will adopt {count} {noun.replace('exist', 'that exist')} without its "
            f"ApplySet label: {shown}"
        ]

    def prune_actions(self, wanted: set[ObjectId]) -> tuple[list[Action], list[str]]:
        """Deletions of members no longer desired: label AND inventory, never label alone."""
        actions: list[Action] = []
        warnings: list[str] = []
        for ref, live in sorted(self.observed.members.items()):
            if ref in wanted:
                continue
            if self.observed.in_inventory(ref):
                actions.append(self.delete(live))
            elif not made_by_controller(ref, live, self.observed.members.keys()):
                warnings.append(
                    f"{ref} carries kgit's ApplySet label but is not in its inventory; "
                    "kgit leaves it alone"
                )
        return actions, warnings

    def plan(self) -> Plan:
        check_repository(self.observed.parent, self.desired.cluster_name, self.options.repository)
        with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool:
            actions, adopted = self.desired_actions(pool)
        warnings = self.check_adoption(adopted)
        if self.options.prune:
            deletions, unowned = self.prune_actions({a.ref for a in actions})
            actions += deletions
            warnings += unowned
        # Shown in the order apply works in: applies by stage, then deletions in reverse.
        applies = sorted(
            (a for a in actions if a.kind is not ActionKind.DELETE),
            key=lambda a: apply_key(a.ref),
        )
        deletes = sorted(
            (a for a in actions if a.kind is ActionKind.DELETE),
            key=lambda a: apply_key(a.ref),
            reverse=True,
        )
        base = PlanBase(
            out_digest=self.desired.out_digest,
            git_revision=self.options.git_revision,
            context=self.client.context,
            server=self.client.server,
            applyset_id=self.observed.set_id,
        )
        # Health of what stays on the cluster, from the objects observe already listed.
        kept = [a.ref for a in applies if a.kind is not ActionKind.CREATE]
        sick = unhealthy(self.observed.members, kept)
        return Plan(base, (*applies, *deletes), tuple(warnings), sick, tuple(sorted(adopted)))


def make_plan(client: ClusterClient, desired: Desired, options: PlanOptions | None = None) -> Plan:
    """Observe the cluster, then decide one action per desired object, plus deletions of
    members no longer desired."""
    options = options or PlanOptions()
    observed = observe(
        client,
        desired.cluster_name,
        desired.refs(),
        rebuild_inventory=options.rebuild_inventory,
    )
    return Planner(client, desired, observed, options).plan()
