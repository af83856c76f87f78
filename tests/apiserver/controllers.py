"""Simulated controllers: what the controller manager and apiextensions would write into
``status`` after a workload, Job or CRD is written.

Behaviour per kind is set by a test::

    apiserver.controllers.set("Deployment", "ready", delay=0.2)  # ready after 0.2 s
    apiserver.controllers.set("Deployment", "never")             # stays progressing
    apiserver.controllers.set("Deployment", "fail")              # ProgressDeadlineExceeded
    apiserver.controllers.set("Job", "fail")                     # Failed, BackoffLimitExceeded

Status shapes follow the API reference (deployment-v1 DeploymentStatus, daemon-set-v1,
stateful-set-v1, job-v1 JobStatus, custom-resource-definition-v1) and what
``kubectl rollout status`` checks (observedGeneration, updated/available replicas).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.apiserver.discovery import Resource
    from tests.apiserver.server import ApiServer

Obj = dict[str, Any]
MODES = ("ready", "never", "fail", "off")
KINDS = ("Deployment", "DaemonSet", "StatefulSet", "Job", "CustomResourceDefinition")


@dataclass
class Behaviour:
    mode: str = "ready"
    delay: float = 0.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cond(kind: str, status: str, reason: str, message: str) -> Obj:
    stamp = _now()
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


class Controllers:
    def __init__(self, server: ApiServer) -> None:
        self._server = server
        self.behaviour: dict[str, Behaviour] = {k: Behaviour() for k in KINDS}
        self.nodes = 1  # schedulable nodes a DaemonSet runs on
        # Seconds a deleted Namespace stays Terminating before it and its objects go.
        self.namespace_delay = 0.2
        # Seconds the garbage collector takes to finish a Foreground/Orphan deletion
        # (0: before the DELETE returns; the response still shows the object with its
        # deletionTimestamp and foregroundDeletion/orphan finalizer, as upstream).
        self.gc_delay = 0.0
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()
        self._stopped = False

    def set(self, kind: str, mode: str, delay: float = 0.0) -> None:
        """``mode``: ready (after ``delay`` seconds; 0 = in the same request), never,
        fail, or off (no status is written at all)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.behaviour[kind] = Behaviour(mode, delay)

    def set_all(self, mode: str, delay: float = 0.0) -> None:
        for kind in KINDS:
            self.set(kind, mode, delay)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def finalize_namespace(self, name: str) -> None:
        if self.namespace_delay <= 0:
            self._server.finish_namespace(name)
            return
        self._later(self.namespace_delay, self._server.finish_namespace, (name,))

    def collect_garbage(self, res: Resource, namespace: str, name: str, uid: str) -> None:
        if self.gc_delay <= 0:
            self._server.finish_deletion(res, namespace, name, uid)
            return
        self._later(self.gc_delay, self._server.finish_deletion, (res, namespace, name, uid))

    def _later(self, delay: float, fn: Any, args: tuple[Any, ...]) -> None:
        timer = threading.Timer(delay, fn, args)
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    # -- hooks ------------------------------------------------------------------------

    def observe(self, res: Resource, obj: Obj, old: Obj | None) -> None:
        """Called after every stored write."""
        kind = res.kind
        behaviour = self.behaviour.get(kind)
        if behaviour is None or behaviour.mode == "off":
            return
        generation = obj["metadata"].get("generation")
        if old is not None and old["metadata"].get("generation") == generation:
            return  # status-only or metadata-only write: nothing new to reconcile
        ns = obj["metadata"].get("namespace", "")
        name = obj["metadata"]["name"]
        if behaviour.delay <= 0:
            self._reconcile(res, ns, name, generation, behaviour.mode)
            return
        if behaviour.mode == "ready":
            # Before becoming ready the rollout is in progress.
            self._reconcile(res, ns, name, generation, "never")
        self._later(behaviour.delay, self._reconcile, (res, ns, name, generation, behaviour.mode))

    def _reconcile(
        self, res: Resource, ns: str, name: str, generation: int | None, mode: str
    ) -> None:
        obj = self._server.store.get(res.group, res.plural, ns, name)
        if obj is None or obj["metadata"].get("generation") != generation:
            return
        builder = {
            "Deployment": self._deployment,
            "DaemonSet": self._daemonset,
            "StatefulSet": self._statefulset,
            "Job": self._job,
            "CustomResourceDefinition": self._crd,
        }[res.kind]
        status, event = builder(obj, mode)
        written = self._server.write_status(res, ns, name, status, _MANAGER[res.kind], generation)
        if event and written is not None:
            self._server.record_event(written, event[0], event[1], _MANAGER[res.kind])

    # -- status builders --------------------------------------------------------------

    @staticmethod
    def _deployment(obj: Obj, mode: str) -> tuple[Obj, tuple[str, str] | None]:
        spec = obj.get("spec", {})
        n = spec.get("replicas", 1)
        gen = obj["metadata"].get("generation")
        rs = f"{obj['metadata']['name']}-5d4f8c7b9"
        status: Obj = {"observedGeneration": gen}
        if mode == "ready":
            if n:
                status.update(replicas=n, updatedReplicas=n, readyReplicas=n, availableReplicas=n)
            status["conditions"] = [
                _cond(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                ),
                _cond(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs}" has successfully progressed.',
                ),
            ]
            return status, None
        status.update(replicas=n, updatedReplicas=n, unavailableReplicas=n)
        available = _cond(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
        if mode == "fail":
            status["conditions"] = [
                available,
                _cond(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs}" has timed out progressing.',
                ),
            ]
            return status, (
                "ProgressDeadlineExceeded",
                f'Deployment "{obj["metadata"]["name"]}" has timed out progressing.',
            )
        status["conditions"] = [
            available,
            _cond("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.'),
        ]
        return status, None

    def _daemonset(self, obj: Obj, mode: str) -> tuple[Obj, tuple[str, str] | None]:
        n = self.nodes
        gen = obj["metadata"].get("generation")
        ready = n if mode == "ready" else 0
        status: Obj = {
            "currentNumberScheduled": n,
            "desiredNumberScheduled": n,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": gen,
            "updatedNumberScheduled": n,
        }
        if ready:
            status["numberAvailable"] = ready
        else:
            status["numberUnavailable"] = n
        event = None
        if mode == "fail":
            event = (
                "FailedCreate",
                f'Error creating: pods "{obj["metadata"]["name"]}-" is '
                "forbidden: simulated failure",
            )
        return status, event

    @staticmethod
    def _statefulset(obj: Obj, mode: str) -> tuple[Obj, tuple[str, str] | None]:
        n = obj.get("spec", {}).get("replicas", 1)
        gen = obj["metadata"].get("generation")
        revision = f"{obj['metadata']['name']}-6c8d7f9b5"
        status: Obj = {
            "observedGeneration": gen,
            "replicas": n,
            "currentReplicas": n,
            "updatedReplicas": n,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
            "availableReplicas": n if mode == "ready" else 0,
        }
        if mode == "ready":
            status["readyReplicas"] = n
        event = None
        if mode == "fail":
            event = (
                "FailedCreate",
                f"create Pod {obj['metadata']['name']}-0 in StatefulSet "
                f"{obj['metadata']['name']} failed: simulated failure",
            )
        return status, event

    @staticmethod
    def _job(obj: Obj, mode: str) -> tuple[Obj, tuple[str, str] | None]:
        spec = obj.get("spec", {})
        stamp = _now()
        if mode == "never":
            return {
                "active": 1,
                "ready": 0,
                "startTime": stamp,
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }, None
        if mode == "ready":
            return {
                "completionTime": stamp,
                "conditions": [
                    _job_cond(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    ),
                    _job_cond(
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    ),
                ],
                "ready": 0,
                "startTime": stamp,
                "succeeded": spec.get("completions", 1),
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }, None
        limit = spec.get("backoffLimit", 6)
        return {
            "conditions": [
                _job_cond(
                    "FailureTarget",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ),
                _job_cond(
                    "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
                ),
            ],
            "failed": limit + 1,
            "ready": 0,
            "startTime": stamp,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }, ("BackoffLimitExceeded", "Job has reached the specified backoff limit")

    @staticmethod
    def _crd(obj: Obj, mode: str) -> tuple[Obj, tuple[str, str] | None]:
        spec = obj.get("spec", {})
        names = dict(spec.get("names", {}))
        stored = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
        stamp = _now()
        if mode != "ready":
            return {
                "acceptedNames": {"kind": "", "plural": ""},
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "False",
                        "lastTransitionTime": stamp,
                        "reason": "MultipleNamesNotAllowed",
                        "message": "simulated",
                    }
                ],
                "storedVersions": stored,
            }, None
        return {
            "acceptedNames": names,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "lastTransitionTime": stamp,
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                },
                {
                    "type": "Established",
                    "status": "True",
                    "lastTransitionTime": stamp,
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                },
            ],
            "storedVersions": stored,
        }, None


def _job_cond(kind: str, reason: str, message: str) -> Obj:
    stamp = _now()
    return {
        "type": kind,
        "status": "True",
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


_MANAGER = {
    "Deployment": "kube-controller-manager",
    "DaemonSet": "kube-controller-manager",
    "StatefulSet": "kube-controller-manager",
    "Job": "kube-controller-manager",
    "CustomResourceDefinition": "kube-apiserver",
}
