"""Health: whether each live object kgit manages is doing its job, as part of its state.

A plan or a status that says "no changes" while a Deployment has no available replica is
wrong (Argo CD shows Degraded, Flux Ready=False). Health is computed from the live objects
``observe`` already listed, so it costs no request of its own:

- Deployment, DaemonSet, StatefulSet, Job, CustomResourceDefinition: the rollout rules of
  ``compiler.reconcile.wait`` (``kubectl rollout status``'s, and Established for CRDs);
- any other object with a status in the kstatus convention
  (sigs.k8s.io/cli-utils pkg/kstatus): ``status.observedGeneration`` behind
  ``metadata.generation`` is in progress; a ``Ready`` condition that is not True is not
  ready (``False`` with a reason that says it failed: failed);
- everything else (ConfigMaps, Services, RBAC, ...) is healthy once it exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from compiler.core.identity import ObjectId
from compiler.reconcile.model import Health
from compiler.reconcile.wait import READINESS, Readiness, State, condition

Body = dict[str, Any]


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def generic_readiness(body: Body) -> Readiness:
    """kstatus for an object without a kind-specific rule."""
    status = body.get("status")
    if not isinstance(status, dict):
        return Readiness(State.READY, "exists")
    generation = _int((body.get("metadata") or {}).get("generation"))
    observed = status.get("observedGeneration")
    if isinstance(observed, int) and observed < generation:
        return Readiness(State.PENDING, f"generation {generation} not observed yet ({observed})")
    ready = condition(body, "Ready")
    if ready is None or ready.get("status") == "True":
        return Readiness(State.READY, "ready" if ready else "exists")
    why = " ".join(str(ready.get(k, "")) for k in ("reason", "message")).strip()
    state = State.FAILED if ready.get("status") == "False" else State.PENDING
    return Readiness(state, f"Ready={ready.get('status')}" + (f": {why}" if why else ""))


def health_of(ref: ObjectId, live: Body) -> Readiness:
    check = READINESS.get((ref.group, ref.kind))
    return check(live) if check is not None else generic_readiness(live)


def unhealthy(members: Mapping[ObjectId, Body], refs: Iterable[ObjectId]) -> tuple[Health, ...]:
    """The objects among ``refs`` whose live state (in ``members``) is not ready, in order."""
    found = []
    for ref in refs:
        live = members.get(ref)
        if live is None:
            continue  # not on the cluster: the plan creates it
        readiness = health_of(ref, live)
        if readiness.state is not State.READY:
            found.append(Health(ref, readiness.state.value, readiness.message))
    return tuple(found)
