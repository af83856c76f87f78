"""The ApplySet (KEP-3659) that marks which live objects kgit manages for one cluster.

The parent is a ConfigMap ``kgit-<cluster>`` in kube-system. kubectl accepts Secret and
ConfigMap parents (``builtinApplySetParentGVRs`` in kubectl's cmd/apply/applyset.go); a
ConfigMap keeps the inventory readable with ``kubectl get configmap -o yaml``, and it
holds nothing secret. Members carry the label ``applyset.kubernetes.io/part-of: <id>``,
so ``kubectl get deploy -A -l applyset.kubernetes.io/part-of=<id>`` lists them.

Pruning needs two proofs: an object must carry the label AND be in the parent's
inventory (``inventory.json``). Someone copying the label onto their own object does not
make kgit delete it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from compiler import __version__
from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.core.ownership import (
    PARENT_API_VERSION,
    PARENT_KIND,
    PARENT_NAMESPACE,
    PART_OF_LABEL,
    applyset_id_of,
    parent_name,
)

TOOLING_NAME = "kgit"

ID_LABEL = "applyset.kubernetes.io/id"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
INVENTORY_KEY = "inventory.json"
# Which spec the cluster belongs to: its name, and the repository and spec path it is
# managed from (compiler.repo.gitrepo.repository_identity), when known.
CLUSTER_ANNOTATION = "kgit.dev/cluster"
REPOSITORY_ANNOTATION = "kgit.dev/repository"
HISTORY_KEY = "history.json"  # compiler.reconcile.history keeps the applies there


def parent_ref(cluster_name: str) -> ObjectId:
    return ObjectId(PARENT_API_VERSION, PARENT_KIND, PARENT_NAMESPACE, parent_name(cluster_name))


def applyset_id(parent: ObjectId) -> str:
    """KEP-3659 v1 id of the ApplySet whose parent is ``parent``."""
    return applyset_id_of(parent.name, parent.namespace, parent.kind, parent.group)


def member_labels(set_id: str) -> dict[str, str]:
    return {PART_OF_LABEL: set_id}


def with_member_labels(body: Mapping[str, Any], set_id: str) -> dict[str, Any]:
    """A copy of ``body`` labelled as a member of the ApplySet (the input is not changed)."""
    metadata = dict(body.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **member_labels(set_id)}
    return {**body, "metadata": metadata}


def _inventory_json(members: Iterable[ObjectId]) -> str:
    entries = sorted(set(members))
    rows = [
        {"apiVersion": m.api_version, "kind": m.kind, "namespace": m.namespace, "name": m.name}
        for m in entries
    ]
    return json.dumps({"members": rows}, indent=1, sort_keys=True) + "\n"


def parent_manifest(
    cluster_name: str,
    members: Iterable[ObjectId],
    *,
    extra_group_kinds: Iterable[str] = (),
    extra_namespaces: Iterable[str] = (),
    tooling_version: str = __version__,
    repository: str | None = None,
) -> dict[str, Any]:
    """The parent ConfigMap for a set of members.

    ``extra_*`` let an apply write a superset (old and new kinds/namespaces) before it
    prunes, as kubectl does, so that an interrupted apply never hides a member.
    """
    members = list(members)
    ref = parent_ref(cluster_name)
    group_kinds = sorted({m.group_kind for m in members} | set(extra_group_kinds))
    namespaces = sorted(
        ({m.namespace for m in members if m.namespace} | set(extra_namespaces))
        - {PARENT_NAMESPACE, ""}
    )
    return {
        "apiVersion": PARENT_API_VERSION,
        "kind": PARENT_KIND,
        "metadata": {
            "name": ref.name,
            "namespace": ref.namespace,
            "labels": {ID_LABEL: applyset_id(ref)},
            "annotations": {
                TOOLING_ANNOTATION: f"{TOOLING_NAME}/{tooling_version}",
                GROUP_KINDS_ANNOTATION: ",".join(group_kinds),
                NAMESPACES_ANNOTATION: ",".join(namespaces),
                CLUSTER_ANNOTATION: cluster_name,
                **({REPOSITORY_ANNOTATION: repository} if repository else {}),
            },
        },
        "data": {INVENTORY_KEY: _inventory_json(members)},
    }


def check_parent(parent: Mapping[str, Any] | None, cluster_name: str) -> None:
    """Refuse a parent that another tool owns or whose id does not match (as kubectl does)."""
    if parent is None or is_bare(parent):
        return  # nothing yet, or kgit's own history-only leftover: apply completes it
    ref = parent_ref(cluster_name)
    metadata = parent.get("metadata") or {}
    tooling = (metadata.get("annotations") or {}).get(TOOLING_ANNOTATION, "")
    if tooling.rpartition("/")[0] != TOOLING_NAME:
        raise PlanError(
            f"the ApplySet parent {ref} exists but is managed by "
            f"{tooling.rpartition('/')[0] or tooling or 'no tool'!r}, not kgit",
            hint="rename the cluster in cluster.yaml or remove that ConfigMap",
        )
    found = (metadata.get("labels") or {}).get(ID_LABEL)
    if found != applyset_id(ref):
        raise PlanError(
            f"the ApplySet parent {ref} has label {ID_LABEL}={found!r}, "
            f"expected {applyset_id(ref)!r}"
        )


def recorded_repository(parent: Mapping[str, Any] | None) -> str | None:
    annotations = ((parent or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(REPOSITORY_ANNOTATION)
    return str(value) if value else None


def check_repository(
    parent: Mapping[str, Any] | None, cluster_name: str, repository: str | None
) -> None:
    """Refuse a cluster whose ApplySet was written from another repository or spec: the
    same cluster name in two repositories is two specs fighting over one cluster."""
    recorded = recorded_repository(parent)
    if recorded is None or repository is None or recorded == repository:
        return
    raise PlanError(
        f"cluster {cluster_name!r} on this API server is managed from {recorded}, not from "
        f"{repository}; refusing to plan or apply another spec's cluster",
        hint="check KUBECONFIG/--context; to move the cluster to this repository, "
        f"delete the ConfigMap {PARENT_NAMESPACE}/{parent_name(cluster_name)}'s "
        f"{REPOSITORY_ANNOTATION} annotation first",
    )


def is_bare(parent: Mapping[str, Any]) -> bool:
    """A parent holding nothing but kgit's history: no ApplySet label or tooling, no
    other data. Older kgit versions left one when a failed apply's history write found
    the parent gone (the server had lost its state) and created it; it is kgit's own."""
    metadata = parent.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    data = parent.get("data") or {}
    return (
        ID_LABEL not in labels
        and TOOLING_ANNOTATION not in annotations
        and bool(data)
        and set(data) <= {HISTORY_KEY}
        and not parent.get("binaryData")
    )


def is_lost(parent: Mapping[str, Any] | None) -> bool:
    """Whether the parent has no inventory to trust: missing, or a bare leftover."""
    return parent is None or is_bare(parent)


def read_inventory(parent: Mapping[str, Any] | None) -> set[ObjectId]:
    """The members the parent records ({} when there is no parent yet)."""
    if parent is None:
        return set()
    raw = (parent.get("data") or {}).get(INVENTORY_KEY)
    if not raw:
        return set()
    try:
        rows = json.loads(raw)["members"]
        return {
            ObjectId(str(r["apiVersion"]), str(r["kind"]), str(r["namespace"]), str(r["name"]))
            for r in rows
        }
    except (ValueError, KeyError, TypeError):
        raise PlanError(
            f"the ApplySet parent {ObjectId.of(dict(parent))} has an unreadable "
            f"{INVENTORY_KEY}; kgit will not prune from it"
        ) from None
