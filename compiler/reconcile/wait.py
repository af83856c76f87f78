"""Waiting until applied objects are ready, and saying precisely why when they are not.

Readiness follows ``kubectl rollout status`` (kubernetes/kubernetes:
staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go): a rollout is done only
once the controller has observed the latest generation and the updated/available/ready
counts reach the desired ones. Jobs are done when Complete and failed when Failed;
CustomResourceDefinitions are done when Established. A Deployment whose Progressing
condition says ProgressDeadlineExceeded has failed (kubectl's "exceeded its progress
deadline").

``wait_for`` polls until everything is ready, something failed and the rest settled, or the
timeout; then EVERY object that is not ready is reported in one error, each with its
conditions and its most recent Events (fluxcd/pkg ssa/manager_wait.go does the same).
Each poll reads every unsettled object at once (``WaitClient.read``: on a cluster, one LIST
per kind by the ApplySet label), so its cost grows with the kinds, not the objects.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TextIO

from compiler.core.errors import KgitError
from compiler.core.identity import ObjectId

Body = dict[str, Any]


class State(StrEnum):
    READY = "ready"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True)
class Readiness:
    state: State
    message: str


def _ready(message: str) -> Readiness:
    return Readiness(State.READY, message)


def _pending(message: str) -> Readiness:
    return Readiness(State.PENDING, message)


def _failed(message: str) -> Readiness:
    return Readiness(State.FAILED, message)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def conditions(body: Body) -> list[Body]:
    return [c for c in ((body.get("status") or {}).get("conditions") or []) if isinstance(c, dict)]


def condition(body: Body, kind: str) -> Body | None:
    return next((c for c in conditions(body) if c.get("type") == kind), None)


def _observed(body: Body) -> bool:
    generation = _int((body.get("metadata") or {}).get("generation"))
    return generation <= _int((body.get("status") or {}).get("observedGeneration"))


def deployment_readiness(body: Body) -> Readiness:
    name = body["metadata"]["name"]
    spec, status = body.get("spec") or {}, body.get("status") or {}
    if not _observed(body):
        return _pending("waiting for the deployment spec update to be observed")
    progressing = condition(body, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return _failed(f"deployment {name!r} exceeded its progress deadline")
    updated, replicas = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    wanted = spec.get("replicas", 1)  # the API server defaults spec.replicas to 1
    if updated < wanted:
        return _pending(f"{updated} out of {wanted} new replicas have been updated")
    if replicas > updated:
        return _pending(f"{replicas - updated} old replicas are pending termination")
    if available < updated:
        return _pending(f"{available} of {updated} updated replicas are available")
    return _ready(f"deployment {name!r} successfully rolled out")


def daemonset_readiness(body: Body) -> Readiness:
    name = body["metadata"]["name"]
    strategy = ((body.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        return _ready(f"daemon set {name!r} uses {strategy}: no rollout to wait for")
    if not _observed(body):
        return _pending("waiting for the daemon set spec update to be observed")
    status = body.get("status") or {}
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    if updated < desired:
        return _pending(f"{updated} out of {desired} new pods have been updated")
    if available < desired:
        return _pending(f"{available} of {desired} updated pods are available")
    return _ready(f"daemon set {name!r} successfully rolled out")


def statefulset_readiness(body: Body) -> Readiness:
    spec, status = body.get("spec") or {}, body.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return _ready(f"statefulset uses {strategy.get('type')}: no rollout to wait for")
    if _int(status.get("observedGeneration")) == 0 or not _observed(body):
        return _pending("waiting for the statefulset spec update to be observed")
    wanted = spec.get("replicas", 1)
    ready = _int(status.get("readyReplicas"))
    if ready < wanted:
        return _pending(f"waiting for {wanted - ready} pods to be ready")
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    updated = _int(status.get("updatedReplicas"))
    if isinstance(partition, int):
        if updated < wanted - partition:
            return _pending(f"{updated} out of {wanted - partition} new pods have been updated")
        return _ready(f"partitioned roll out complete: {updated} new pods have been updated")
    if status.get("updateRevision") != status.get("currentRevision"):
        return _pending(f"rolling update in progress: {updated} pods at the new revision")
    revision = status.get("currentRevision")
    return _ready(f"statefulset rolling update complete at revision {revision}")


def _true(cond: Body | None) -> bool:
    return bool(cond) and cond.get("status") == "True"  # type: ignore[union-attr]


def job_readiness(body: Body) -> Readiness:
    failed = condition(body, "Failed")
    if failed is not None and _true(failed):
        why = f"{failed.get('reason', '')} {failed.get('message', '')}".strip()
        return _failed(f"job failed: {why}")
    if _true(condition(body, "Complete")):
        return _ready("job completed")
    return _pending("waiting for the job to complete")


def crd_readiness(body: Body) -> Readiness:
    if _true(condition(body, "Established")):
        return _ready("established")
    names = condition(body, "NamesAccepted")
    if names and names.get("status") == "False":
        return _failed(f"names not accepted: {names.get('message', '')}")
    return _pending("waiting for the CRD to be established")


READINESS: dict[tuple[str, str], Callable[[Body], Readiness]] = {
    ("apps", "Deployment"): deployment_readiness,
    ("apps", "DaemonSet"): daemonset_readiness,
    ("apps", "StatefulSet"): statefulset_readiness,
    ("batch", "Job"): job_readiness,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_readiness,
}


def waitable(ref: ObjectId) -> bool:
    return (ref.group, ref.kind) in READINESS


def readiness(ref: ObjectId, live: Body | None) -> Readiness:
    if live is None:
        return _pending("not found")
    check = READINESS.get((ref.group, ref.kind))
    return check(live) if check else _ready("no readiness check for this kind")


# -- waiting on a cluster ----------------------------------------------------------------


class WaitClient(Protocol):
    def read(self, refs: Sequence[ObjectId]) -> Mapping[ObjectId, Body | None]:
        """The live state of each ref (None: not found), in as few requests as it can:
        waiting on 1,000 Deployments must not cost 1,000 GETs per poll."""
        ...

    def events_for(self, ref: ObjectId) -> list[Body]: ...


@dataclass(frozen=True)
class WaitOptions:
    timeout: float = 300.0
    interval: float = 1.0  # seconds between polls
    events: int = 5  # recent Events shown per object that is not ready
    progress: bool | None = None  # None: a progress bar only on a terminal
    # A CI log must never go silent: at most this long between two lines while waiting.
    heartbeat: float = 15.0


@dataclass(frozen=True)
class NotReady:
    ref: ObjectId
    reason: str  # "timed out" or "failed"
    message: str
    conditions: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.ref}: {self.reason}: {self.message}"]
        lines += [f"    condition {c}" for c in self.conditions]
        lines += [f"    event {e}" for e in self.events]
        return "\n".join(lines)


class WaitError(KgitError):
    reference = "not-ready"

    def __init__(self, not_ready: Sequence[NotReady], timeout: float) -> None:
        self.not_ready = tuple(not_ready)
        count = len(self.not_ready)
        head = f"{count} object{'s' if count != 1 else ''} not ready (timeout {_seconds(timeout)})"
        super().__init__("\n".join([head + ":", *(f"  {n}" for n in self.not_ready)]))


def _seconds(value: float) -> str:
    return f"{value:g}s"


def describe_conditions(live: Body | None) -> tuple[str, ...]:
    out = []
    for c in conditions(live or {}):
        text = f"{c.get('type')}={c.get('status')}"
        if c.get("reason"):
            text += f" ({c['reason']})"
        if c.get("message"):
            text += f": {c['message']}"
        out.append(text)
    return tuple(out)


def _event_time(event: Body) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def describe_events(events: Sequence[Body], limit: int) -> tuple[str, ...]:
    recent = sorted(events, key=_event_time)[-limit:] if limit else []
    return tuple(
        f"{_event_time(e)} {e.get('type', '')} {e.get('reason', '')}: {e.get('message', '')}"
        for e in recent
    )


@dataclass
class _Tracker:
    refs: list[ObjectId]
    state: dict[ObjectId, Readiness] = field(default_factory=dict)
    live: dict[ObjectId, Body | None] = field(default_factory=dict)

    def unsettled(self) -> list[ObjectId]:
        return [r for r in self.refs if self.state.get(r, _pending("")).state is State.PENDING]


def wait_for(
    client: WaitClient,
    refs: Sequence[ObjectId],
    options: WaitOptions = WaitOptions(),
    *,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once every waitable ref is ready; raise WaitError naming each one that is not."""
    out = out or sys.stderr
    tracker = _Tracker([r for r in refs if waitable(r)])
    if not tracker.refs:
        return
    start = clock()
    deadline = start + options.timeout
    with _Display(out, tracker.refs, options.progress, clock) as display:
        while True:
            unsettled = tracker.unsettled()
            lives = client.read(unsettled)
            for ref in unsettled:
                live = lives.get(ref)
                tracker.live[ref] = live
                before = tracker.state.get(ref)
                tracker.state[ref] = state = readiness(ref, live)
                if state.state is not State.PENDING:
                    display.settled(ref, state)
                elif before is None or before.message != state.message:
                    display.changed(ref, state)  # one line per change of state, not per poll
            if not tracker.unsettled() or clock() >= deadline:
                break
            if clock() - display.last_line >= options.heartbeat:
                ready = len(tracker.refs) - len(tracker.unsettled())
                display.heartbeat(ready, clock() - start)
            pause = min(options.interval, deadline - clock(), options.heartbeat)
            sleep(max(0.0, pause))
    not_ready = [
        NotReady(
            ref,
            "failed" if tracker.state[ref].state is State.FAILED else "timed out",
            tracker.state[ref].message,
            describe_conditions(tracker.live.get(ref)),
            describe_events(_safe_events(client, ref), options.events),
        )
        for ref in tracker.refs
        if tracker.state[ref].state is not State.READY
    ]
    if not_ready:
        raise WaitError(not_ready, options.timeout)


def _safe_events(client: WaitClient, ref: ObjectId) -> list[Body]:
    # Events explain a failure; failing to read them must not hide the failure itself.
    try:
        return client.events_for(ref)
    except Exception:
        return []


class _Display:
    """A rich progress bar on a terminal; one plain line per settled object otherwise."""

    def __init__(
        self,
        out: TextIO,
        refs: Sequence[ObjectId],
        progress: bool | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._clock = clock
        self.last_line = clock()
        self._total = len(refs)
        self._use_bar = bool(out.isatty()) if progress is None else progress
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Display:
        if self._use_bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("waiting for rollouts"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=self._out),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("wait", total=self._total)
        else:
            self._line(f"Waiting for {self._total} object(s) to be ready...")
        return self

    def _line(self, line: str) -> None:
        self.last_line = self._clock()
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self._out, flush=True)

    def settled(self, ref: ObjectId, state: Readiness) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)
        self._line(f"{ref} {state.state.value}: {state.message}")

    def changed(self, ref: ObjectId, state: Readiness) -> None:
        self._line(f"{ref} {state.state.value}: {state.message}")

    def heartbeat(self, ready: int, elapsed: float) -> None:
        self._line(f"Still waiting: {ready}/{self._total} ready, {elapsed:.0f}s elapsed")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
