"""Third-party add-ons (``spec.addons``): a vendored upstream manifest, as it is.

kgit does not know what is inside (cert-manager, metrics-server, a CSI driver, the Gateway
API CRDs): it applies the objects the manifest holds, minus the ones whose API the cluster's
Kubernetes no longer serves (as for flannel and ingress-nginx), without null fields (Helm's
empty values, which the API server never stores), moved to another namespace when the spec
asks, then the add-on's overlays (done by the pipeline). Jobs get kgit's Job rule (as
ingress-nginx's admission Jobs): a Job's pod template is immutable and upstream Jobs often
delete themselves when finished, so each is named after its spec, kept when finished and
marked ``kgit.dev/replace``; a plan after an apply is then empty. Staging needs nothing
here: the reconciler orders objects by what they are (compiler/reconcile/order.py):
CRDs and Namespaces first (CRDs waited on until Established), then configuration,
workloads and custom resources, and webhook configurations and APIServices last, once the
workloads behind their Services are ready (compiler/reconcile/backends.py).

The namespace override is kustomize's namespace transformer (``kubectl kustomize`` is the
oracle of the tests), with one difference: kgit moves the objects that the manifest puts in
a namespace, and leaves the ones without ``metadata.namespace`` where they are. kustomize
gives a namespace to every kind it does not know to be cluster-scoped, which puts a
cluster-scoped custom resource whose CRD is installed elsewhere (NGF's GatewayClass) into
a namespace. The manifest's one Namespace object is renamed, and the references that name
a namespace as data follow: ServiceAccount subjects of (Cluster)RoleBindings, the Services
of webhook configurations, APIServices and CRD conversion webhooks. Namespaces written
inside strings (a ``--namespace=`` flag, a DNS name in a certificate) are not rewritten:
an overlay changes those (docs/addons.md).
"""

from __future__ import annotations

from typing import Any

from compiler.compile.model import Addon, Cluster
from compiler.compile.overlay import CLUSTER_SCOPED_KINDS
from compiler.compile.render.ingress_nginx import make_replaceable
from compiler.compile.render.removed_apis import removed_api_warnings, served
from compiler.core.errors import KgitError
from compiler.core.plaindata import without_nulls

_WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
_BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


def render_third_party(
    cluster: Cluster, addon: Addon, base: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The add-on's objects for ``cluster``: ``base`` served and moved; ``base`` unchanged."""
    objects = [without_nulls(obj) for obj in served(base, cluster.kubernetes.version)]  # copies
    if addon.namespace is not None:
        _move_to_namespace(objects, addon.namespace, addon)
    for obj in objects:
        if obj.get("kind") == "Job":
            make_replaceable(obj)
    return objects


def third_party_warnings(
    cluster: Cluster, addon: Addon, base: list[dict[str, Any]], origin: str
) -> list[str]:
    return removed_api_warnings(addon.name, origin, base, cluster.kubernetes.version)


def cluster_scoped_kinds(objects: list[dict[str, Any]]) -> set[str]:
    """Built-in cluster-scoped kinds, and the kinds of the manifest's CRDs with scope Cluster."""
    kinds = set(CLUSTER_SCOPED_KINDS)
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            if spec.get("scope") == "Cluster":
                kinds.add(str((spec.get("names") or {}).get("kind")))
    return kinds


def _move_to_namespace(objects: list[dict[str, Any]], target: str, addon: Addon) -> None:
    cluster_scoped = cluster_scoped_kinds(objects)
    namespaces = [o for o in objects if o.get("kind") == "Namespace"]
    if len(namespaces) > 1:
        names = ", ".join(sorted(str(o["metadata"]["name"]) for o in namespaces))
        raise KgitError(
            f"{addon.spec_path}.namespace: {addon.source} creates {len(namespaces)} namespaces "
            f"({names}); kgit can move an add-on into one namespace only",
            hint="leave namespace out, or change the namespaces with an overlay",
        )
    old = {str(o["metadata"]["name"]) for o in namespaces}
    old |= {
        str((o.get("metadata") or {}).get("namespace"))
        for o in objects
        if (o.get("metadata") or {}).get("namespace")
    }
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        kind = obj.get("kind")
        if kind == "Namespace":
            metadata["name"] = target
        elif kind not in cluster_scoped and metadata.get("namespace"):
            metadata["namespace"] = target
        _move_references(obj, old, target)


def _move_references(obj: dict[str, Any], old: set[str], target: str) -> None:
    """The namespaces an object names as data, not as its own place."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    services: list[dict[str, Any]] = []
    if kind in _BINDING_KINDS:
        for subject in obj.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and subject.get("namespace") in old:
                subject["namespace"] = target
    elif kind in _WEBHOOK_KINDS:
        for webhook in obj.get("webhooks") or []:
            services.append((webhook.get("clientConfig") or {}).get("service") or {})
    elif kind == "APIService":
        services.append(spec.get("service") or {})
    elif kind == "CustomResourceDefinition":
        webhook = (spec.get("conversion") or {}).get("webhook") or {}
        services.append((webhook.get("clientConfig") or {}).get("service") or {})
    for service in services:
        if service.get("namespace") in old:
            service["namespace"] = target
