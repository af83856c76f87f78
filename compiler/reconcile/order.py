"""In which order kgit applies and deletes objects: ``APPLY_ORDER`` is data, not code.

Four stages run one after the other; the objects of one stage are applied in parallel.

1. PREREQUISITES: cluster-scoped things other objects are created inside or refer to
   (Namespaces, CRDs, PriorityClasses, ClusterRoles, ...). CRDs are waited on until they are
   Established, so that custom resources of them can be created in stage 3.
2. CONFIGURATION: what workloads mount or run as (ServiceAccounts, RBAC bindings,
   ConfigMaps, Secrets, Services, Endpoints, PVCs).
3. WORKLOADS: Deployments, DaemonSets, StatefulSets, Jobs, CronJobs and every kind not
   listed anywhere (custom resources included; their CRDs went in stage 1).
4. ADMISSION: objects whose creation calls an admission webhook served by a workload of
   stage 3 (ingress-nginx validates Ingresses), so stage 3's workloads are waited on first.

Inside a stage, kinds keep the order listed here (for a stable display), then namespace,
then name. Deletions run in exactly the reverse order (fluxcd/pkg ssa/sort.go; lightkube's
``sort_objects``), after every apply succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum

from compiler.core.identity import ObjectId


class Stage(IntEnum):
    PREREQUISITES = 1
    CONFIGURATION = 2
    WORKLOADS = 3
    ADMISSION = 4


# (group, kind) per stage, in display order. group "" is the core API group.
APPLY_ORDER: dict[Stage, tuple[tuple[str, str], ...]] = {
    Stage.PREREQUISITES: (
        ("", "Namespace"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("storage.k8s.io", "StorageClass"),
        ("", "PersistentVolume"),
        ("networking.k8s.io", "IngressClass"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ),
    Stage.CONFIGURATION: (
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("", "ServiceAccount"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Service"),
        ("", "Endpoints"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("", "PersistentVolumeClaim"),
    ),
    Stage.WORKLOADS: (
        ("apps", "Deployment"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        # Every kind not listed in any stage lands here, after these, by kind name.
    ),
    Stage.ADMISSION: (
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("apiregistration.k8s.io", "APIService"),  # served by a workload, like a webhook
        ("networking.k8s.io", "Ingress"),
    ),
}

DEFAULT_STAGE = Stage.WORKLOADS
_RANK: dict[tuple[str, str], tuple[Stage, int]] = {
    group_kind: (stage, index)
    for stage, group_kinds in APPLY_ORDER.items()
    for index, group_kind in enumerate(group_kinds)
}

# Kinds waited on before stage 4 and, with --wait, at the end (see compiler.reconcile.wait).
WORKLOAD_KINDS = frozenset(
    {("apps", "Deployment"), ("apps", "DaemonSet"), ("apps", "StatefulSet"), ("batch", "Job")}
)


def stage_of(ref: ObjectId) -> Stage:
    return _RANK.get((ref.group, ref.kind), (DEFAULT_STAGE, 0))[0]


def apply_key(ref: ObjectId) -> tuple[int, int, str, str, str]:
    """Sort key for applying: stage, listed kind (unlisted kinds after, by name), ns, name."""
    unlisted = (DEFAULT_STAGE, len(APPLY_ORDER[DEFAULT_STAGE]))
    stage, index = _RANK.get((ref.group, ref.kind), unlisted)
    unlisted_kind = "" if (ref.group, ref.kind) in _RANK else f"{ref.kind}.{ref.group}"
    return (stage, index, unlisted_kind, ref.namespace, ref.name)


def sort_for_apply(refs: Iterable[ObjectId]) -> list[ObjectId]:
    return sorted(refs, key=apply_key)


def group_by_stage(refs: Iterable[ObjectId]) -> list[tuple[Stage, list[ObjectId]]]:
    """The non-empty stages in apply order, each with its refs sorted."""
    stages: dict[Stage, list[ObjectId]] = {}
    for ref in sort_for_apply(refs):
        stages.setdefault(stage_of(ref), []).append(ref)
    return sorted(stages.items())


def delete_batches(refs: Sequence[ObjectId]) -> list[list[ObjectId]]:
    """Deletions grouped by stage, last stage first (objects of one batch go in parallel)."""
    return [batch for _, batch in reversed(group_by_stage(refs))]


def is_workload(ref: ObjectId) -> bool:
    return (ref.group, ref.kind) in WORKLOAD_KINDS
