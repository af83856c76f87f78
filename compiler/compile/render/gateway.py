"""The Gateway API path: NGINX Gateway Fabric (NGF) v2, a Gateway, and HTTPRoutes for apps.

NGF's manifest installs the control plane only (a Deployment, its RBAC, a cert-generator
Job, the GatewayClass, an NginxGateway and an NginxProxy). The control plane creates the
NGINX data plane (a Deployment or DaemonSet and its Service) for each Gateway, shaped by
the NginxProxy that the GatewayClass names in ``parametersRef``. So kgit does not render a
data plane of its own: it patches NginxProxy ``spec.kubernetes`` (docs/addons.md):

1. workload: ``daemonSet`` or ``deployment`` (with ``replicas``); the CRD allows one of them;
2. exposure: the Service's type, ``externalTrafficPolicy`` and ``nodePorts`` (each maps a
   node port to a Gateway listener port); HostNetwork as a strategic-merge ``patches`` entry
   (``hostNetwork: true``, ``dnsPolicy: ClusterFirstWithHostNet``), the Service kept as
   ClusterIP, as kgit does for ingress-nginx;
3. placement and size: the pod's ``nodeSelector``/``tolerations``, the container's
   ``resources``;
4. images through ``ingress.gateway.imageRegistry`` (the controller, the cert generator and
   the data plane image that NginxProxy names);
5. the cert-generator Job as ingress-nginx's admission Jobs: named after its spec, kept
   when finished, ``kgit.dev/replace``; null fields (``annotations: null``) left out.

Then one Gateway (``kgit`` in NGF's namespace): an HTTP listener on port 80 for every host,
and one HTTPS listener on port 443 per host whose app asks for TLS. Per app with
``ingress:``, an HTTPRoute with the Ingress's host and path. Path types map as
Gateway API defines them: Prefix -> PathPrefix (both match whole path elements), Exact ->
Exact; ImplementationSpecific (ingress-nginx: a plain prefix) -> PathPrefix, with a warning
(``gateway_warnings``). An app with TLS is served on its HTTPS listener, and its HTTP
requests are redirected to HTTPS with 308, as ingress-nginx does by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from compiler.compile.model import App, Cluster, IngressGateway
from compiler.compile.render.images import mirror_image, mirror_images
from compiler.compile.render.ingress_nginx import make_replaceable, plain
from compiler.compile.render.removed_apis import removed_api_warnings, served
from compiler.compile.resources import Resource
from compiler.core.errors import KgitError
from compiler.core.plaindata import clone, without_nulls

GATEWAY_GROUP = "gateway.networking.k8s.io"
NGF_GROUP = "gateway.nginx.org"
GATEWAY_NAME = "kgit"
HTTP_LISTENER = "http"
HTTP_PORT = 80
HTTPS_PORT = 443
TLS_GRANT_NAME = "kgit-gateway-tls"
PATH_TYPES = {"Prefix": "PathPrefix", "Exact": "Exact", "ImplementationSpecific": "PathPrefix"}
REDIRECT_STATUS = 308  # ingress-nginx's ssl-redirect answers 308 Permanent Redirect
MANAGED_BY = {"app.kubernetes.io/managed-by": "kgit"}
# Fields only a LoadBalancer Service may carry (NginxProxy passes them to the Service).
_LOAD_BALANCER_FIELDS = ("loadBalancerClass", "loadBalancerIP", "loadBalancerSourceRanges")
_WORKLOAD_KEYS = {"DaemonSet": "daemonSet", "Deployment": "deployment"}
_HOST_NETWORK_PATCH = {
    "type": "StrategicMerge",
    "value": {
        "spec": {
            "template": {"spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}}
        }
    },
}


@dataclass(frozen=True)
class GatewayRef:
    """Where kgit's Gateway is: HTTPRoutes name it in ``parentRefs``."""

    name: str
    namespace: str
    class_name: str


def render_gateway_controller(
    cluster: Cluster, base: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], GatewayRef]:
    """NGF's objects patched for ``cluster``, and the Gateway that kgit renders for them."""
    spec = cluster.ingress_gateway
    assert spec is not None
    # without_nulls copies: upstream's Job has `annotations: null` (an empty Helm value),
    # which the API server never stores.
    objects = [without_nulls(obj) for obj in served(base, cluster.kubernetes.version)]
    proxy = _nginx_proxy(objects)
    gateway_class = _gateway_class(objects, proxy)
    kube = proxy.setdefault("spec", {}).setdefault("kubernetes", {})
    workload = _workload(kube, spec)
    _expose(kube, workload, spec)
    _place(workload, spec)
    mirror_images(objects, spec.image_registry)
    _mirror_proxy_image(workload, spec.image_registry)
    for obj in objects:
        if obj.get("kind") == "Job":
            make_replaceable(obj)
    ref = GatewayRef(GATEWAY_NAME, proxy["metadata"]["namespace"], gateway_class)
    return objects, ref


def render_gateway(cluster: Cluster, ref: GatewayRef) -> list[dict[str, Any]]:
    """The Gateway (its listeners) and, per app namespace, the grant to read TLS Secrets."""
    listeners: list[dict[str, Any]] = [
        {
            "name": HTTP_LISTENER,
            "port": HTTP_PORT,
            "protocol": "HTTP",
            "allowedRoutes": {"namespaces": {"from": "All"}},
        }
    ]
    secrets_by_namespace: dict[str, set[str]] = {}
    for host, (namespace, secret) in sorted(_tls_hosts(cluster).items()):
        listeners.append(
            {
                "name": https_listener(host),
                "hostname": host,
                "port": HTTPS_PORT,
                "protocol": "HTTPS",
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [
                        {"group": "", "kind": "Secret", "name": secret, "namespace": namespace}
                    ],
                },
                "allowedRoutes": {"namespaces": {"from": "All"}},
            }
        )
        if namespace != ref.namespace:
            secrets_by_namespace.setdefault(namespace, set()).add(secret)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": f"{GATEWAY_GROUP}/v1",
            "kind": "Gateway",
            "metadata": {"name": ref.name, "namespace": ref.namespace, "labels": dict(MANAGED_BY)},
            "spec": {"gatewayClassName": ref.class_name, "listeners": listeners},
        }
    ]
    for namespace, secrets in sorted(secrets_by_namespace.items()):
        # A Gateway may only read a Secret of another namespace that grants it (GEP-709).
        objects.append(
            {
                "apiVersion": f"{GATEWAY_GROUP}/v1beta1",
                "kind": "ReferenceGrant",
                "metadata": {
                    "name": TLS_GRANT_NAME,
                    "namespace": namespace,
                    "labels": dict(MANAGED_BY),
                },
                "spec": {
                    "from": [
                        {"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": ref.namespace}
                    ],
                    "to": [{"group": "", "kind": "Secret", "name": s} for s in sorted(secrets)],
                },
            }
        )
    return objects


def render_http_routes(app: App, ref: GatewayRef, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The HTTPRoute(s) that serve what the app's Ingress serves: one, or with TLS two
    (the route on the HTTPS listener, and a redirect from HTTP to HTTPS)."""
    ingress = app.ingress
    assert ingress is not None
    tcp_ports = [p for p in app.ports if p.protocol == "TCP"]
    assert tcp_ports, "validation refuses an ingress without a TCP port"
    match = {"path": {"type": PATH_TYPES[ingress.path_type], "value": ingress.path}}
    serve = {
        "matches": [match],
        "backendRefs": [{"name": app.name, "port": tcp_ports[0].service_port}],
    }
    if not ingress.tls_secret:
        return [_route(app.name, app, ref, HTTP_LISTENER, serve, labels)]
    redirect = {
        "matches": [match],
        "filters": [
            {
                "type": "RequestRedirect",
                "requestRedirect": {"scheme": "https", "statusCode": REDIRECT_STATUS},
            }
        ],
    }
    return [
        _route(app.name, app, ref, https_listener(ingress.host), serve, labels),
        _route(f"{app.name}-https-redirect", app, ref, HTTP_LISTENER, redirect, labels),
    ]


def gateway_warnings(cluster: Cluster, base: list[dict[str, Any]], origin: str) -> list[str]:
    """What the user should know about the gateway path (not errors)."""
    found = removed_api_warnings("nginx-gateway-fabric", origin, base, cluster.kubernetes.version)
    for app in cluster.apps:
        ingress = app.ingress
        # "/" matches every path either way; any other prefix matches fewer paths now.
        if (
            ingress is not None
            and ingress.path_type == "ImplementationSpecific"
            and ingress.path != "/"
        ):
            found.append(
                f"{app.path}.ingress.pathType: ImplementationSpecific becomes PathPrefix in "
                f"the HTTPRoute {app.namespace}/{app.name}: {ingress.path!r} matches whole "
                "path elements only (ingress-nginx also matched longer names such as "
                f"{ingress.path.rstrip('/')}x); set pathType: Prefix or Exact to say which"
            )
    return found


# The CRDs of the kinds kgit renders on the gateway path; without them an apply fails.
REQUIRED_CRDS = (
    f"gatewayclasses.{GATEWAY_GROUP}",
    f"gateways.{GATEWAY_GROUP}",
    f"httproutes.{GATEWAY_GROUP}",
    f"referencegrants.{GATEWAY_GROUP}",
    f"nginxgateways.{NGF_GROUP}",
    f"nginxproxies.{NGF_GROUP}",
)


def missing_gateway_crds(resources: Iterable[Resource]) -> list[str]:
    """A warning when out/ lacks CRDs the gateway path needs (they may be installed by
    other means, so it is not an error); ``resources`` are the rendered ones so far."""
    present = {
        str(r.body["metadata"]["name"])
        for r in resources
        if r.body.get("kind") == "CustomResourceDefinition"
    }
    missing = [name for name in REQUIRED_CRDS if name not in present]
    if not missing:
        return []
    return [
        "spec.ingress.gateway: no add-on installs the CRDs "
        + ", ".join(missing)
        + "; vendor the Gateway API standard-install.yaml and NGINX Gateway Fabric's "
        "crds.yaml and list them in spec.addons (docs/migrate-to-gateway.md), or install "
        "them before `kgit apply`"
    ]


def https_listener(host: str) -> str:
    """The HTTPS listener's name for ``host``: a DNS subdomain, as sectionName requires."""
    return "https-" + host.replace("*", "wildcard")


# --- the Gateway's listeners --------------------------------------------------------------


def _tls_hosts(cluster: Cluster) -> dict[str, tuple[str, str]]:
    """host -> (namespace, Secret) for each app host with TLS; validation refuses two
    apps that name different Secrets for one host."""
    hosts: dict[str, tuple[str, str]] = {}
    for app in cluster.apps:
        if app.ingress is not None and app.ingress.tls_secret:
            hosts.setdefault(app.ingress.host, (app.namespace, app.ingress.tls_secret))
    return hosts


def _route(
    name: str, app: App, ref: GatewayRef, section: str, rule: dict[str, Any], labels: dict[str, str]
) -> dict[str, Any]:
    assert app.ingress is not None
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": app.namespace, "labels": dict(labels)},
        "spec": {
            "parentRefs": [
                {
                    "group": GATEWAY_GROUP,
                    "kind": "Gateway",
                    "name": ref.name,
                    "namespace": ref.namespace,
                    "sectionName": section,
                }
            ],
            "hostnames": [app.ingress.host],
            "rules": [rule],
        },
    }


# --- NginxProxy: the data plane -------------------------------------------------------------


def _workload(kube: dict[str, Any], spec: IngressGateway) -> dict[str, Any]:
    """``kube.daemonSet`` or ``kube.deployment`` as the spec asks; the other one goes (the
    CRD allows only one), its container and pod settings carried over."""
    wanted = _WORKLOAD_KEYS[spec.kind]
    other = _WORKLOAD_KEYS["Deployment" if spec.kind == "DaemonSet" else "DaemonSet"]
    old = kube.pop(other, None) or {}
    workload = kube.setdefault(wanted, {})
    for key, value in old.items():
        if key not in ("replicas", "autoscaling"):  # Deployment-only fields
            workload.setdefault(key, value)
    if spec.kind == "Deployment":
        workload["replicas"] = spec.replicas
    # Keep kube's keys in the CRD's order whichever way the base had them.
    for key in ("daemonSet", "deployment", "service"):
        if key in kube:
            kube[key] = kube.pop(key)
    return workload


def _expose(kube: dict[str, Any], workload: dict[str, Any], spec: IngressGateway) -> None:
    service = kube.setdefault("service", {})
    service.pop("nodePorts", None)
    if spec.exposure != "LoadBalancer":
        for field in _LOAD_BALANCER_FIELDS:
            service.pop(field, None)
    patches = [p for p in workload.get("patches") or [] if p != _HOST_NETWORK_PATCH]
    if spec.exposure == "HostNetwork":
        service["type"] = "ClusterIP"
        service.pop("externalTrafficPolicy", None)
        patches.append(clone(_HOST_NETWORK_PATCH))
    elif spec.exposure == "NodePort":
        assert spec.node_ports is not None
        service["type"] = "NodePort"
        service["externalTrafficPolicy"] = spec.external_traffic_policy
        service["nodePorts"] = [
            {"port": spec.node_ports.http, "listenerPort": HTTP_PORT},
            {"port": spec.node_ports.https, "listenerPort": HTTPS_PORT},
        ]
    else:
        service["type"] = "LoadBalancer"
        service["externalTrafficPolicy"] = spec.external_traffic_policy
    if patches:
        workload["patches"] = patches
    else:
        workload.pop("patches", None)


def _place(workload: dict[str, Any], spec: IngressGateway) -> None:
    if spec.node_selector:
        pod = workload.setdefault("pod", {})
        pod["nodeSelector"] = {**(pod.get("nodeSelector") or {}), **spec.node_selector}
    if spec.tolerations:
        workload.setdefault("pod", {})["tolerations"] = [plain(t) for t in spec.tolerations]
    if spec.resources:
        workload.setdefault("container", {})["resources"] = plain(spec.resources)


def _mirror_proxy_image(workload: dict[str, Any], registry: str | None) -> None:
    image = (workload.get("container") or {}).get("image") or {}
    if registry and image.get("repository"):
        image["repository"] = mirror_image(image["repository"], registry)


# --- finding things -------------------------------------------------------------------------


def _nginx_proxy(objects: list[dict[str, Any]]) -> dict[str, Any]:
    proxies = [o for o in objects if o.get("kind") == "NginxProxy"]
    if len(proxies) != 1:
        raise KgitError(
            f"the NGINX Gateway Fabric manifest has {len(proxies)} NginxProxy objects, expected 1",
            hint="is the file an upstream nginx-gateway-fabric deploy.yaml (v2)?",
        )
    return proxies[0]


def _gateway_class(objects: list[dict[str, Any]], proxy: dict[str, Any]) -> str:
    """The name of the GatewayClass whose parametersRef is ``proxy``."""
    for obj in objects:
        if obj.get("kind") != "GatewayClass":
            continue
        ref = (obj.get("spec") or {}).get("parametersRef") or {}
        if ref.get("kind") == "NginxProxy" and ref.get("name") == proxy["metadata"]["name"]:
            return str(obj["metadata"]["name"])
    raise KgitError(
        "the NGINX Gateway Fabric manifest has no GatewayClass that uses its NginxProxy",
        hint="is the file an upstream nginx-gateway-fabric deploy.yaml (v2)?",
    )
