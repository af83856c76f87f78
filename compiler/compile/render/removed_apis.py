"""API versions that Kubernetes has removed, and what add-on renderers do about them.

Older upstream manifests (flannel's kube-flannel-psp.yml) carry objects whose API no longer
exists in newer clusters: the API server rejects the whole apply with "no matches for kind".
kgit's decision: such objects are dropped from the output, with a warning that names each
one, so a vendored file still works on a newer cluster and the user learns what was left out.
(An error would force users to edit a vendored upstream file by hand, which defeats pinning
it by checksum.) The dropped objects only ever added policy (PodSecurityPolicy), never what
the add-on needs to run.
"""

from __future__ import annotations

from typing import Any

from compiler.core.versions import KubeVersion

# (apiVersion, kind) -> the first Kubernetes minor version that no longer serves it.
# Source: https://kubernetes.io/docs/reference/using-api/deprecation-guide/
REMOVED_IN: dict[tuple[str, str], tuple[int, int]] = {
    ("policy/v1beta1", "PodSecurityPolicy"): (1, 25),
    ("policy/v1beta1", "PodDisruptionBudget"): (1, 25),
    ("batch/v1beta1", "CronJob"): (1, 25),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): (1, 25),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): (1, 25),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): (1, 26),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"): (1, 26),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"): (1, 26),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): (1, 27),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"): (1, 29),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration"): (1, 29),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"): (1, 32),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"): (1, 32),
}


# Group versions that no longer serve any kind, from the first minor version that serves
# none (same source). Kinds that outlived their group version are in REMOVED_IN.
REMOVED_GROUP_VERSIONS: dict[str, tuple[int, int]] = {
    "apps/v1beta1": (1, 16),
    "apps/v1beta2": (1, 16),
    "extensions/v1beta1": (1, 22),
    "admissionregistration.k8s.io/v1beta1": (1, 22),
    "apiextensions.k8s.io/v1beta1": (1, 22),
    "apiregistration.k8s.io/v1beta1": (1, 22),
    "authentication.k8s.io/v1beta1": (1, 22),
    "authorization.k8s.io/v1beta1": (1, 22),
    "certificates.k8s.io/v1beta1": (1, 22),
    "coordination.k8s.io/v1beta1": (1, 22),
    "networking.k8s.io/v1beta1": (1, 22),
    "rbac.authorization.k8s.io/v1beta1": (1, 22),
    "scheduling.k8s.io/v1beta1": (1, 22),
    "batch/v1beta1": (1, 25),
    "discovery.k8s.io/v1beta1": (1, 25),
    "events.k8s.io/v1beta1": (1, 25),
    "node.k8s.io/v1beta1": (1, 25),
    "policy/v1beta1": (1, 25),
    "autoscaling/v2beta1": (1, 25),
    "autoscaling/v2beta2": (1, 26),
    "flowcontrol.apiserver.k8s.io/v1beta1": (1, 26),
    "flowcontrol.apiserver.k8s.io/v1beta2": (1, 29),
    "flowcontrol.apiserver.k8s.io/v1beta3": (1, 32),
}


def removed_in(obj: dict[str, Any], version: KubeVersion) -> str | None:
    """'1.25' if ``obj``'s API is gone in ``version`` (removed in 1.25 or before), else None."""
    api_version = str(obj.get("apiVersion"))
    since = REMOVED_IN.get((api_version, str(obj.get("kind")))) or REMOVED_GROUP_VERSIONS.get(
        api_version
    )
    if since is None or (version.major, version.minor) < since:
        return None
    return f"{since[0]}.{since[1]}"


def served(objects: list[dict[str, Any]], version: KubeVersion) -> list[dict[str, Any]]:
    """The objects whose API ``version`` still serves, in order (the others are warned
    about by ``removed_api_warnings``)."""
    return [obj for obj in objects if removed_in(obj, version) is None]


def removed_api_warnings(
    addon: str, origin: str, objects: list[dict[str, Any]], version: KubeVersion
) -> list[str]:
    """One warning per object that rendering drops for ``version``."""
    found = []
    for obj in objects:
        since = removed_in(obj, version)
        if since is None:
            continue
        name = (obj.get("metadata") or {}).get("name", "unnamed")
        found.append(
            f"{addon}: {origin}: left out {obj['kind']} {name} ({obj['apiVersion']}): "
            f"Kubernetes {version.major}.{version.minor} no longer serves this API "
            f"(removed in {since})"
        )
    return found
