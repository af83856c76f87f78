"""Objects the cluster's own controllers made, which merely inherit kgit's labels.

The endpoints and EndpointSlice controllers copy a Service's labels, the ApplySet's
``applyset.kubernetes.io/part-of`` included, onto the Endpoints and EndpointSlices they
create for it; a Deployment's ReplicaSets and Pods, a DaemonSet's or StatefulSet's
ControllerRevisions and a CronJob's Jobs get their owner's template labels. kgit never
applied them and they are not in its inventory, so they are never pruned; they are not
someone copying kgit's label by hand either, so the plan does not warn about them.

Recognised by what the controllers themselves set (no request needed):
- an ownerReference with ``controller: true`` (ReplicaSet, Pod, ControllerRevision,
  Job, EndpointSlice: the garbage collector's owner);
- the label ``endpointslice.kubernetes.io/managed-by`` (EndpointSlices of the
  endpointslice and endpointslice-mirroring controllers);
- an Endpoints named as a Service of the same namespace that carries the label too: the
  endpoints controller sets no ownerReference, and names the Endpoints after its Service.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from compiler.core.identity import ObjectId

ENDPOINTSLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def has_controller_owner(obj: Mapping[str, Any]) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(isinstance(o, Mapping) and o.get("controller") is True for o in owners)


def made_by_controller(
    ref: ObjectId, obj: Mapping[str, Any], members: Collection[ObjectId]
) -> bool:
    """Whether a live object carrying kgit's label was made by a controller rather than
    applied or labelled by anyone; ``members`` are the labelled live objects (a set)."""
    if has_controller_owner(obj):
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if ENDPOINTSLICE_MANAGED_BY in labels:
        return True
    if (ref.api_version, ref.kind) == ("v1", "Endpoints"):
        return ObjectId("v1", "Service", ref.namespace, ref.name) in members
    return False
