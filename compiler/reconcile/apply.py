"""Applying a plan: ordered server-side apply, prune, wait, under the cluster's lock.

``apply_plan(client, plan, desired, options)`` consumes a saved ``Plan`` (Terraform's rule:
the plan is what gets done, and a plan whose base no longer holds is refused) and the
desired objects re-read from out/. ``plan_and_apply`` is ``kgit apply`` without a saved
plan: it takes the lock first, plans under it (compiler.reconcile.plan.Planner), and skips
the live-version check of step 2 (nothing but a non-kgit writer can have moved a plan made
moments ago under the same lock, and the check could not stop that either). Steps:

1. Refuse a stale plan (compiler.reconcile.checks): out/ changed (digest), another
   context/server or ApplySet, an object the plan names missing from out/, or a from-env
   Secret whose variable is unset. Nothing has been written yet.
2. Take the Lease lock (compiler.reconcile.lock), then check under it that no object the
   plan changes moved since the plan read it (its fingerprint), reading by kind (one LIST
   per kind by the ApplySet label), and that no object it creates exists now.
3. Under the lock, read the ApplySet parent and decide the prune (compiler.reconcile.prune):
   an empty render or a mass prune is refused here, still before any write.
4. Write the ApplySet parent with the UNION of the old inventory and the desired objects:
   KEP-3659 wants contains-group-kinds to be a superset before members are created, and
   an interrupted apply then leaves every object it may have created findable, so the
   next apply prunes orphans.
5. Apply stage by stage (compiler.reconcile.order), objects of one stage in parallel.
   Server-side apply with field manager ``kgit`` and ``force=True``: out/ in Git is the
   source of truth, so fields another manager (kubectl edit, a controller) took over are
   taken back rather than failing the apply on a conflict. REPLACE is delete (foreground)
   + wait until gone + apply. CRDs are waited on until Established after stage 1, and the
   workloads of stage 3 that serve a desired webhook before stage 4 (Ingresses call
   ingress-nginx's webhook; compiler.reconcile.backends).
6. With ``wait``: wait for every changed workload's rollout (compiler.reconcile.wait).
7. Prune, in reverse order, re-checking both proofs on each live object.
8. Shrink the parent's inventory to what remains; record the apply in the history
   (compiler.reconcile.history.record), failed applies with their error.

Every request is retried on transient failures (compiler.reconcile.client); server-side
apply is idempotent, so re-running an interrupted apply converges. What each object came
to is a ``Change`` (compiler.reconcile.results).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from compiler.core.errors import KgitError, PlanError
from compiler.core.identity import ObjectId
from compiler.reconcile import applyset, history, order
from compiler.reconcile.backends import webhook_backends
from compiler.reconcile.calls import ApplyCluster
from compiler.reconcile.checks import bodies_to_apply, check_base, check_live_versions
from compiler.reconcile.desired import Desired
from compiler.reconcile.lock import LeaseLock, LockOptions, default_identity, lease_lock
from compiler.reconcile.model import DEFAULT_PARALLELISM, ActionKind, Plan
from compiler.reconcile.prune import (
    PruneDecision,
    PruneOptions,
    decide_prune,
    refusal,
    skip_reason,
)
from compiler.reconcile.results import ApplyError, ApplyResult, Change, Outcome
from compiler.reconcile.wait import WaitOptions, wait_for

if TYPE_CHECKING:
    from compiler.reconcile.client import ClusterClient
    from compiler.reconcile.plan import PlanOptions

Body = dict[str, Any]
FAILURE_TEXT_LIMIT = 200  # characters of a failed apply's error kept in its history entry


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = DEFAULT_PARALLELISM
    wait: bool = True  # wait for rollouts at the end (stage 4's gate waits regardless)
    timeout: float = 300.0  # seconds for each wait
    poll_interval: float = 1.0
    lock_timeout: float = 60.0
    lease_duration: int = 60
    lock_renew_interval: float | None = None  # None: a third of lease_duration
    allow_mass_prune: bool = False
    prune_protected: bool = False
    identity: str | None = None  # lock holder; default "user@host pid N commit C"
    environ: Mapping[str, str] | None = None  # for from-env Secrets; default os.environ
    progress: bool | None = None  # progress bar while waiting: None = on a terminal
    repository: str | None = None  # where the spec lives, recorded on the ApplySet parent


# -- the apply itself --------------------------------------------------------------------


@dataclass
class _Run:
    cluster: ApplyCluster
    plan: Plan
    desired: Desired
    options: ApplyOptions
    report: Callable[[Change], None]
    out: TextIO
    set_id: str
    changes: list[Change] = field(default_factory=list)
    ready: set[ObjectId] = field(default_factory=set)  # waited on already in this run
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.changes if c.action is outcome)

    def record(self, change: Change) -> None:
        with self._guard:
            self.changes.append(change)
        self.report(change)

    def result(self, entry: history.HistoryEntry | None = None) -> ApplyResult:
        return ApplyResult(tuple(self.changes), entry)

    def fail(self, message: str, hint: str | None = None) -> ApplyError:
        return ApplyError(message, self.result(), hint=hint)

    # -- the ApplySet parent ----------------------------------------------------------

    def write_parent(
        self, members: set[ObjectId], old: set[ObjectId], repository: str | None = None
    ) -> None:
        """Parent listing ``members``; group-kinds/namespaces of ``old`` are kept too."""
        body = applyset.parent_manifest(
            self.desired.cluster_name,
            members,
            extra_group_kinds={r.group_kind for r in old},
            extra_namespaces={r.namespace for r in old if r.namespace},
            repository=repository,
        )
        self.cluster.apply(body)

    # -- stages -----------------------------------------------------------------------

    def apply_one(self, ref: ObjectId, kind: ActionKind, body: Body) -> Change:
        try:
            if kind is ActionKind.REPLACE:
                self.replace(ref, body)
                return Change(ref, Outcome.REPLACED)
            self.cluster.apply(body)
            return Change(ref, Outcome.CREATED if kind is ActionKind.CREATE else Outcome.CONFIGURED)
        except KgitError as error:
            return Change(ref, Outcome.FAILED, str(error))

    def replace(self, ref: ObjectId, body: Body) -> None:
        live = self.cluster.get(ref)
        if live is not None:
            uid = live["metadata"].get("uid")
            self.cluster.delete(ref, propagation="Foreground", uid=uid)
            self.wait_gone(ref, uid)
        self.cluster.apply(body)

    def wait_gone(self, ref: ObjectId, uid: str | None) -> None:
        deadline = time.monotonic() + self.options.timeout
        while True:
            live = self.cluster.get(ref)
            if live is None or live["metadata"].get("uid") != uid:
                return
            if time.monotonic() >= deadline:
                raise PlanError(
                    f"{ref} was deleted to be replaced but is still there after "
                    f"{self.options.timeout:g}s (finalizers: "
                    f"{', '.join(live['metadata'].get('finalizers') or []) or 'none'})"
                )
            time.sleep(min(self.options.poll_interval, 0.2))

    def run_stage(
        self, pool: ThreadPoolExecutor, work: Sequence[tuple[ObjectId, ActionKind, Body]]
    ) -> list[Change]:
        for ref, _, _ in work:
            self.cluster.resolve(ref)
        changes = list(pool.map(lambda item: self.apply_one(*item), work))
        for change in changes:  # reported in apply order, whatever order they finished in
            self.record(change)
        return changes

    def wait(self, refs: Sequence[ObjectId], why: str) -> None:
        refs = [r for r in refs if r not in self.ready]
        if not refs:
            return
        print(why, file=self.out)
        options = WaitOptions(
            timeout=self.options.timeout,
            interval=self.options.poll_interval,
            progress=self.options.progress,
        )
        wait_for(self.cluster, refs, options, out=self.out)
        self.ready.update(refs)

    # -- pruning ----------------------------------------------------------------------

    def prune_one(self, ref: ObjectId, inventory: set[ObjectId]) -> Change:
        try:
            live = self.cluster.get(ref)
            if live is None:
                return Change(ref, Outcome.DELETED, "already gone")
            why = refusal(ref, live, self.set_id, inventory)
            if why is not None:
                return Change(ref, Outcome.SKIPPED, f"not pruned: {why}")
            self.cluster.delete(ref, uid=live["metadata"].get("uid"))
            return Change(ref, Outcome.DELETED)
        except KgitError as error:
            return Change(ref, Outcome.FAILED, str(error))


def _stage_work(
    plan: Plan, bodies: Mapping[ObjectId, Body]
) -> list[tuple[order.Stage, list[tuple[ObjectId, ActionKind, Body]]]]:
    kinds = {a.ref: a.kind for a in plan.actions}
    return [
        (stage, [(ref, kinds[ref], bodies[ref]) for ref in refs])
        for stage, refs in order.group_by_stage(bodies)
    ]


def apply_plan(
    client: ClusterClient,
    plan: Plan,
    desired: Desired,
    options: ApplyOptions = ApplyOptions(),
    *,
    report: Callable[[Change], None] | None = None,
    out: TextIO | None = None,
) -> ApplyResult:
    """Apply a saved ``plan``; ``report`` is called with each object's result as its stage
    ends. Under the lock, the objects the plan changes are first checked against what the
    plan saw of them (a plan saved minutes ago may be stale).

    Raises PlanError (nothing written) or ApplyError (partially applied; its ``result``
    says what was done). Either way a re-run converges. Every apply that got as far as
    writing to the cluster is recorded in the history, failed ones with their error.
    """
    out = out or sys.stderr
    cluster = _apply_cluster(client, options, plan.base.applyset_id)
    check_base(plan, desired, cluster.context, cluster.server)
    bodies = bodies_to_apply(plan, desired, plan.base.applyset_id, options.environ)
    identity = options.identity or default_identity(plan.base.git_revision)
    with (
        _locked(cluster, desired.cluster_name, identity, options, out) as lock,
        ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool,
    ):
        run = _Run(cluster, plan, desired, options, report or _ignore, out, plan.base.applyset_id)
        check_live_versions(cluster, plan, plan.base.applyset_id, pool)
        return _apply_locked(run, pool, lock, bodies, identity)


def plan_and_apply(
    client: ClusterClient,
    desired: Desired,
    plan_options: PlanOptions,
    options: ApplyOptions = ApplyOptions(),
    *,
    decide: Callable[[Plan], bool] = lambda _plan: True,
    report: Callable[[Change], None] | None = None,
    out: TextIO | None = None,
) -> tuple[Plan, ApplyResult | None]:
    """``kgit apply`` without a saved plan, as Terraform does it: take the lock, plan, let
    ``decide(plan)`` show it and confirm (False: stop), apply. The plan was made moments
    ago under the same lock, so its objects are not read again before applying.

    Returns the plan and the result (None when nothing was applied: no changes, or
    ``decide`` said no); raises as ``apply_plan`` does.
    """
    from compiler.reconcile.plan import make_plan

    out = out or sys.stderr
    cluster = _apply_cluster(client, options, "")
    identity = options.identity or default_identity(plan_options.git_revision)
    with _locked(cluster, desired.cluster_name, identity, options, out) as lock:
        plan = make_plan(client, desired, plan_options)
        if not plan.has_changes() or not decide(plan):
            return plan, None
        lock.check()  # deciding may have taken long: is the lock still ours?
        set_id = plan.base.applyset_id
        cluster.set_id = set_id
        check_base(plan, desired, cluster.context, cluster.server)
        bodies = bodies_to_apply(plan, desired, set_id, options.environ)
        with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
            run = _Run(cluster, plan, desired, options, report or _ignore, out, set_id)
            return plan, _apply_locked(run, pool, lock, bodies, identity)


def _ignore(_change: Change) -> None:
    return None


def _apply_cluster(client: ClusterClient, options: ApplyOptions, set_id: str) -> ApplyCluster:
    return ApplyCluster(client, set_id)


def _locked(
    cluster: ApplyCluster, cluster_name: str, identity: str, options: ApplyOptions, out: TextIO
) -> AbstractContextManager[LeaseLock]:
    lock_options = LockOptions(
        options.lock_timeout,
        options.lease_duration,
        options.poll_interval,
        options.lock_renew_interval,
    )
    return lease_lock(
        cluster,
        cluster_name,
        identity=identity,
        options=lock_options,
        on_wait=lambda message: print(message, file=out),
    )


def _apply_locked(
    run: _Run,
    pool: ThreadPoolExecutor,
    lock: LeaseLock,
    bodies: Mapping[ObjectId, Body],
    identity: str,
) -> ApplyResult:
    """Everything after the checks, under the lock: parent, stages, wait, prune, history."""
    cluster, desired, options = run.cluster, run.desired, run.options
    parent = cluster.get(applyset.parent_ref(desired.cluster_name))
    applyset.check_parent(parent, desired.cluster_name)
    applyset.check_repository(parent, desired.cluster_name, options.repository)
    # Kept when this run does not know where its spec lives (no Git origin).
    repository = options.repository or applyset.recorded_repository(parent)
    inventory = applyset.read_inventory(parent)
    if applyset.is_lost(parent):
        # No inventory to trust (deleted, or a bare leftover): the members the plan saw
        # live are what a plan made with --rebuild-inventory (or before the loss) acted on.
        inventory = {a.ref for a in run.plan.actions if a.kind is not ActionKind.CREATE}
    prune = _decide_prune(run.plan, inventory, desired, options)
    desired_refs = set(desired.refs())
    # Nothing has been written up to here: a refusal above is not an apply to record.
    run.write_parent(inventory | desired_refs, inventory, repository)
    try:
        applied = _apply_stages(run, pool, lock, bodies)
        if options.wait:
            workloads = [r for r in applied if order.is_workload(r)]
            _guarded_wait(run, workloads, "Waiting for rollouts")
        lock.check()
        kept = _prune(run, pool, prune, inventory)
        run.write_parent(desired_refs | (kept & inventory), set(), repository)
    except KgitError as error:
        if not lock.lost:  # with the lock gone, the history is another apply's to write
            _record_failure(run, identity, error.message.splitlines()[0])
        raise
    except KeyboardInterrupt:
        # Ctrl-C: send no more requests, let those in flight end, and record the apply as
        # interrupted before the lock is released, so `kgit history` tells what happened.
        print("interrupted: finishing the requests in flight, then recording it", file=run.out)
        pool.shutdown(wait=True, cancel_futures=True)
        if not lock.lost:
            _record_failure(run, identity, "interrupted (Ctrl-C)")
        raise
    failed = run.count(Outcome.FAILED)
    entry = _entry(run, identity, f"failed: {failed} deletion(s) failed" if failed else "")
    history.record(cluster, desired.cluster_name, entry)
    if failed:
        raise run.fail(f"{failed} object(s) could not be deleted", hint="run kgit apply again")
    return run.result(entry)


def _apply_stages(
    run: _Run, pool: ThreadPoolExecutor, lock: LeaseLock, bodies: Mapping[ObjectId, Body]
) -> list[ObjectId]:
    """Apply stage by stage, with the CRD and workload gates; the refs applied."""
    applied: list[ObjectId] = []
    for stage, work in _stage_work(run.plan, bodies):
        lock.check()
        if stage is order.Stage.ADMISSION:
            backends = webhook_backends(run.desired.objects)
            gate = [r for r in applied if r in backends]
            _guarded_wait(run, gate, "Waiting for the workloads that serve admission webhooks")
        changes = run.run_stage(pool, work)
        failed = [c for c in changes if c.action is Outcome.FAILED]
        if failed:
            raise run.fail(
                f"{len(failed)} object(s) could not be applied; stopped after stage "
                f"{stage.value} ({stage.name.lower()}), nothing was pruned",
                hint="fix the cause and run kgit apply again; it converges",
            )
        applied += [ref for ref, _, _ in work]
        if stage is order.Stage.PREREQUISITES:
            crds = [r for r in applied if r.kind == "CustomResourceDefinition"]
            _guarded_wait(run, crds, "Waiting for CustomResourceDefinitions")
    return applied


def _prune(
    run: _Run, pool: ThreadPoolExecutor, prune: PruneDecision, inventory: set[ObjectId]
) -> set[ObjectId]:
    """Delete in reverse order; the inventory members that stay (skipped or failed)."""
    kept: set[ObjectId] = set(prune.skipped)
    for ref in prune.skipped:
        run.record(Change(ref, Outcome.SKIPPED, skip_reason(ref)))
    for batch in order.delete_batches(prune.delete):
        for ref in batch:
            run.cluster.resolve(ref)
        changes = list(pool.map(lambda r: run.prune_one(r, inventory), batch))
        for change in changes:
            run.record(change)
            if change.action in (Outcome.SKIPPED, Outcome.FAILED):
                kept.add(change.subject)
    return kept


def _decide_prune(
    plan: Plan, inventory: set[ObjectId], desired: Desired, options: ApplyOptions
) -> PruneDecision:
    candidates = [a.ref for a in plan.actions if a.kind is ActionKind.DELETE]
    return decide_prune(
        candidates,
        inventory_size=len(inventory),
        desired_count=len(desired.objects),
        options=PruneOptions(options.allow_mass_prune, options.prune_protected),
    )


def _guarded_wait(run: _Run, refs: Sequence[ObjectId], why: str) -> None:
    try:
        run.wait(refs, why)
    except KgitError as error:
        raise run.fail(str(error), hint="nothing was pruned; kgit apply again once fixed") from None


def _entry(run: _Run, identity: str, failure: str) -> history.HistoryEntry:
    return history.HistoryEntry(
        revision=run.plan.base.git_revision,
        time=history.utc_now(),
        user=identity,
        summary=run.plan.summary(),
        result=failure or "applied",
        out_digest=run.desired.out_digest,
        context=run.cluster.context,
    )


def _record_failure(run: _Run, identity: str, why: str) -> None:
    """Record a failed apply in the history; best effort, since the cluster may be what
    failed, and the apply's own error is the one the user must see."""
    result = f"failed: {why[:FAILURE_TEXT_LIMIT]}"
    try:
        history.record(run.cluster, run.desired.cluster_name, _entry(run, identity, result))
    except KgitError as problem:
        print(f"warning: this failed apply is not in the history: {problem}", file=run.out)
