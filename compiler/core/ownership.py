"""Which objects are kgit's on a cluster: the identity of its ApplySet (KEP-3659).

Compile writes the membership label into out/ and the reconciler checks it on the
cluster, so both import it from here; this module depends on nothing else in kgit.
The parent is a ConfigMap ``kgit-<cluster>`` in kube-system (see compiler.reconcile.applyset).
"""

from __future__ import annotations

import base64
import hashlib

PART_OF_LABEL = "applyset.kubernetes.io/part-of"
PARENT_API_VERSION = "v1"
PARENT_KIND = "ConfigMap"
PARENT_NAMESPACE = "kube-system"
LOCK_NAMESPACE = "kube-system"

# Namespaces every cluster has and kgit never creates, adopts or deletes.
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def parent_name(cluster_name: str) -> str:
    return f"kgit-{cluster_name}"


def lock_name(cluster_name: str) -> str:
    """The Lease that serialises applies to this cluster."""
    return f"kgit-{cluster_name}-lock"


def control_objects(cluster_name: str) -> frozenset[tuple[str, str, str]]:
    """(kind, namespace, name) of the objects kgit keeps for itself on the cluster: the
    apply lock and the ApplySet parent. No compiled object may be one of them."""
    return frozenset(
        {
            ("Lease", LOCK_NAMESPACE, lock_name(cluster_name)),
            (PARENT_KIND, PARENT_NAMESPACE, parent_name(cluster_name)),
        }
    )


def applyset_id_of(name: str, namespace: str, kind: str, group: str) -> str:
    """KEP-3659 v1 id: applyset-<base64url(sha256("<name>.<namespace>.<kind>.<group>"))>-v1.

    Unpadded URL-safe base64 (Go's ``base64.RawURLEncoding``), as kubectl's
    ``ApplySet.ID()`` computes it; the prefix and suffix keep the label value
    starting and ending with an alphanumeric character.
    """
    unencoded = ".".join((name, namespace, kind, group))
    digest = hashlib.sha256(unencoded.encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def cluster_applyset_id(cluster_name: str) -> str:
    """The id every object kgit manages for this cluster is labelled with."""
    group = PARENT_API_VERSION.rpartition("/")[0]
    return applyset_id_of(parent_name(cluster_name), PARENT_NAMESPACE, PARENT_KIND, group)
