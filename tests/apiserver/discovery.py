"""The resources the server serves, and the discovery documents describing them.

Shapes follow https://kubernetes.io/docs/concepts/overview/kubernetes-api/ ("Discovery
API"): ``/api`` (APIVersions), ``/apis`` (APIGroupList), ``/api/v1`` and
``/apis/GROUP/VERSION`` (APIResourceList), and the aggregated form
``apidiscovery.k8s.io/v2`` APIGroupDiscoveryList that kubectl asks for first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status: bool = False
    # metadata.generation is maintained by this kind's registry strategy.
    generation: bool = False
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    crd: bool = False
    extra_subresources: tuple[str, ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` / ``configmaps``, as in NotFound messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _r(group: str, kind: str, plural: str, namespaced: bool = True, **kw: Any) -> Resource:
    return Resource(
        group=group, version="v1", kind=kind, plural=plural, namespaced=namespaced, **kw
    )


_ALL = ("all",)
_EXT = ("api-extensions",)
_NS_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

BUILTIN: tuple[Resource, ...] = (
    _r(
        "",
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        status=True,
        verbs=_NS_VERBS,
        extra_subresources=("finalize",),
    ),
    _r("", "ConfigMap", "configmaps", short_names=("cm",)),
    _r("", "Secret", "secrets"),
    _r("", "Service", "services", short_names=("svc",), status=True, categories=_ALL),
    _r("", "Endpoints", "endpoints", short_names=("ep",)),
    _r("", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _r("", "Pod", "pods", short_names=("po",), status=True, categories=_ALL),
    _r("", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), status=True),
    _r("", "Event", "events", short_names=("ev",)),
    _r("", "Node", "nodes", False, short_names=("no",), status=True),
    _r(
        "apps",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        status=True,
        generation=True,
        categories=_ALL,
        extra_subresources=("scale",),
    ),
    _r(
        "apps",
        "DaemonSet",
        "daemonsets",
        short_names=("ds",),
        status=True,
        generation=True,
        categories=_ALL,
    ),
    _r(
        "apps",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        status=True,
        generation=True,
        categories=_ALL,
        extra_subresources=("scale",),
    ),
    _r(
        "apps",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        status=True,
        generation=True,
        categories=_ALL,
        extra_subresources=("scale",),
    ),
    _r("batch", "Job", "jobs", status=True, generation=True, categories=_ALL),
    _r(
        "batch",
        "CronJob",
        "cronjobs",
        short_names=("cj",),
        status=True,
        generation=True,
        categories=_ALL,
    ),
    _r("rbac.authorization.k8s.io", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    _r(
        "networking.k8s.io",
        "Ingress",
        "ingresses",
        short_names=("ing",),
        status=True,
        generation=True,
    ),
    _r("networking.k8s.io", "IngressClass", "ingressclasses", False, generation=True),
    _r(
        "networking.k8s.io",
        "NetworkPolicy",
        "networkpolicies",
        short_names=("netpol",),
        generation=True,
    ),
    _r("discovery.k8s.io", "EndpointSlice", "endpointslices", generation=True),
    _r("coordination.k8s.io", "Lease", "leases"),
    _r(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd", "crds"),
        status=True,
        generation=True,
        categories=_EXT,
    ),
    _r(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        generation=True,
        categories=_EXT,
    ),
    _r(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        generation=True,
        categories=_EXT,
    ),
    _r(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
        status=True,
        generation=True,
        categories=_EXT,
    ),
    _r(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
        generation=True,
        categories=_EXT,
    ),
    _r(
        "policy",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short_names=("pdb",),
        status=True,
        generation=True,
    ),
    _r("scheduling.k8s.io", "PriorityClass", "priorityclasses", False, short_names=("pc",)),
)

# Group order as a real 1.32 server lists them in /apis.
GROUP_ORDER = (
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
)


def resource_from_crd(crd: dict[str, Any]) -> list[Resource]:
    """Resources a CustomResourceDefinition makes servable (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        out.append(
            Resource(
                group=spec.get("group", ""),
                version=version["name"],
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                status="status" in subresources,
                generation=True,
                categories=tuple(names.get("categories", [])),
                crd=True,
                extra_subresources=("scale",) if "scale" in subresources else (),
            )
        )
    return out


def _api_resource(r: Resource) -> list[dict[str, Any]]:
    main = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    main["storageVersionHash"] = _hash(r)
    out = [main]
    if r.status:
        out.append(
            {
                "name": f"{r.plural}/status",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": STATUS_VERBS,
            }
        )
    for sub in r.extra_subresources:
        if sub == "scale":
            out.append(
                {
                    "name": f"{r.plural}/scale",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": STATUS_VERBS,
                }
            )
        elif sub == "finalize":
            out.append(
                {
                    "name": f"{r.plural}/finalize",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["update"],
                }
            )
    return out


def _hash(r: Resource) -> str:
    import hashlib

    return hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).hexdigest()[:11]


def resource_list(group_version: str, resources: list[Resource]) -> dict[str, Any]:
    """APIResourceList for ``/api/v1`` or ``/apis/GROUP/VERSION``."""
    items: list[dict[str, Any]] = []
    for r in sorted(resources, key=lambda x: x.plural):
        items.extend(_api_resource(r))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": items,
    }


def _group_key(group: str) -> tuple[int, str]:
    return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), group)


def group_versions(resources: list[Resource]) -> dict[str, list[str]]:
    """Non-core groups and their versions, in server order."""
    out: dict[str, list[str]] = {}
    for r in sorted((r for r in resources if r.group), key=lambda x: _group_key(x.group)):
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
        ],
    }


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": gvs,
        "preferredVersion": gvs[0],
    }


def api_group_list(resources: list[Resource]) -> dict[str, Any]:
    groups = [api_group(g, vs) for g, vs in group_versions(resources).items()]
    for g in groups:
        del g["kind"], g["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _discovery_resource(r: Resource) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    subs = []
    if r.status:
        subs.append(
            {
                "subresource": "status",
                "responseKind": dict(out["responseKind"]),
                "verbs": STATUS_VERBS,
            }
        )
    if "scale" in r.extra_subresources:
        subs.append(
            {
                "subresource": "scale",
                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                "verbs": STATUS_VERBS,
            }
        )
    if subs:
        out["subresources"] = subs
    return out


def aggregated(resources: list[Resource], core: bool) -> dict[str, Any]:
    """APIGroupDiscoveryList (apidiscovery.k8s.io/v2) for ``/api`` (core) or ``/apis``."""
    items = []
    groups = {"": ["v1"]} if core else group_versions(resources)
    for group, versions in groups.items():
        vitems = []
        for v in versions:
            rs = sorted(
                (r for r in resources if r.group == group and r.version == v),
                key=lambda x: x.plural,
            )
            vitems.append(
                {
                    "version": v,
                    "resources": [_discovery_resource(r) for r in rs],
                    "freshness": "Current",
                }
            )
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": vitems})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def version_info() -> dict[str, str]:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.4",
        "gitCommit": "kgit-test",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T00:00:00Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
