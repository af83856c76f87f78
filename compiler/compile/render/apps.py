"""Applications, namespaces, external services and env-backed Secrets.

Pure functions from the model to Kubernetes objects (plain dicts); the pipeline places
them in out/ and applies overlays afterwards. Decisions a reader needs (also in
docs/apps.md):

- Labels: every object carries ``app.kubernetes.io/name`` and ``app.kubernetes.io/instance``
  (both the app's name: one instance per app name and namespace) and
  ``app.kubernetes.io/managed-by: kgit``. The Deployment's selector uses only name and
  instance, which never change, because a Deployment's selector is immutable.
- The container is named after the app; the Service targets ports by name, so changing a
  container port number does not need a Service change.
- Built-in namespaces (default, kube-system, kube-public, kube-node-lease) exist on every
  cluster and are never emitted, so kgit never owns (or prunes) them.
- External services with addresses get a Service without selector plus an EndpointSlice
  per IP family; clusters older than 1.33 also get a v1 Endpoints object (deprecated from
  1.33), labelled so the EndpointSlice mirroring controller does not copy it a second time.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from compiler.compile.model import App, Cluster, EnvVar, ExternalService, InitContainer, SecretRef
from compiler.compile.render.gateway import GatewayRef, render_http_routes
from compiler.core.ownership import BUILTIN_NAMESPACES

MANAGED_BY = {"app.kubernetes.io/managed-by": "kgit"}
FROM_ENV_ANNOTATION = "kgit.dev/from-env"
ENDPOINTSLICE_MANAGER = "kgit.dev"  # not endpointslice-controller.k8s.io: that one would own it
DEFAULT_INGRESS_CLASS = "nginx"  # ingress-nginx's own default class name


def _selector_labels(app: App) -> dict[str, str]:
    return {"app.kubernetes.io/name": app.name, "app.kubernetes.io/instance": app.name}


def _app_labels(app: App) -> dict[str, str]:
    return {**_selector_labels(app), **MANAGED_BY}


def _metadata(name: str, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def render_namespaces(cluster: Cluster) -> list[dict[str, Any]]:
    """One Namespace per namespace that apps, external services or secrets use."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": dict(MANAGED_BY)},
        }
        for ns in cluster.namespaces
        if ns not in BUILTIN_NAMESPACES
    ]


def _env(env: tuple[EnvVar, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for var in env:
        if var.secret_name is not None:
            ref = {"name": var.secret_name, "key": var.secret_key}
            out.append({"name": var.name, "valueFrom": {"secretKeyRef": ref}})
        else:
            out.append({"name": var.name, "value": var.value or ""})
    return out


def _init_container(init: InitContainer) -> dict[str, Any]:
    container: dict[str, Any] = {"name": init.name, "image": init.image}
    if init.command:
        container["command"] = list(init.command)
    if init.args:
        container["args"] = list(init.args)
    if init.env:
        container["env"] = _env(init.env)
    return container


def _container(app: App) -> dict[str, Any]:
    container: dict[str, Any] = {"name": app.name, "image": app.image}
    if app.ports:
        container["ports"] = [
            {"containerPort": p.container_port, "name": p.name, "protocol": p.protocol}
            for p in app.ports
        ]
    if app.env:
        container["env"] = _env(app.env)
    if app.resources:
        container["resources"] = {k: dict(v) for k, v in app.resources.items()}
    return container


def render_deployment(app: App) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [_container(app)]}
    if app.init_containers:
        pod_spec["initContainers"] = [_init_container(c) for c in app.init_containers]
    if app.host_aliases:
        pod_spec["hostAliases"] = [
            {"ip": alias.ip, "hostnames": list(alias.hostnames)} for alias in app.host_aliases
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(app.name, app.namespace, _app_labels(app)),
        "spec": {
            "replicas": app.replicas,
            "selector": {"matchLabels": _selector_labels(app)},
            "template": {"metadata": {"labels": _app_labels(app)}, "spec": pod_spec},
        },
    }


def render_service(app: App) -> dict[str, Any]:
    ports = [
        {"name": p.name, "port": p.service_port, "targetPort": p.name, "protocol": p.protocol}
        for p in app.ports
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(app.name, app.namespace, _app_labels(app)),
        "spec": {"type": app.service_type, "selector": _selector_labels(app), "ports": ports},
    }


def ingress_class_name(cluster: Cluster) -> str:
    """The class of kgit's ingress-nginx, or ingress-nginx's default name without it."""
    if cluster.ingress_nginx is not None:
        return cluster.ingress_nginx.ingress_class.name
    return DEFAULT_INGRESS_CLASS


def render_ingress(cluster: Cluster, app: App) -> dict[str, Any]:
    ingress = app.ingress
    assert ingress is not None
    tcp_ports = [p for p in app.ports if p.protocol == "TCP"]
    assert tcp_ports, "validation refuses an ingress without a TCP port"
    backend = {"service": {"name": app.name, "port": {"name": tcp_ports[0].name}}}
    spec: dict[str, Any] = {
        "ingressClassName": ingress_class_name(cluster),
        "rules": [
            {
                "host": ingress.host,
                "http": {
                    "paths": [
                        {"path": ingress.path, "pathType": ingress.path_type, "backend": backend}
                    ]
                },
            }
        ],
    }
    if ingress.tls_secret:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(app.name, app.namespace, _app_labels(app)),
        "spec": spec,
    }


def render_app(
    cluster: Cluster, app: App, gateway: GatewayRef | None = None
) -> list[dict[str, Any]]:
    """The app's Deployment, its Service (when it has ports) and, when it has an ingress,
    an Ingress for ingress-nginx and HTTPRoutes for the ``gateway``. During a cut-over
    (both controllers in the spec) the app has both; with the gateway alone, no Ingress."""
    objects = [render_deployment(app)]
    if app.ports:
        objects.append(render_service(app))
    if app.ingress is not None:
        if cluster.ingress_nginx is not None or cluster.ingress_gateway is None:
            objects.append(render_ingress(cluster, app))
        if gateway is not None:
            objects.extend(render_http_routes(app, gateway, _app_labels(app)))
    return objects


# --- external services --------------------------------------------------------------------


def _external_labels(service: ExternalService) -> dict[str, str]:
    return {"app.kubernetes.io/name": service.name, **MANAGED_BY}


def _address_families(addresses: tuple[str, ...]) -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for address in addresses:
        family = "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
        families.setdefault(family, []).append(address)
    return dict(sorted(families.items()))


def render_external_service(cluster: Cluster, service: ExternalService) -> list[dict[str, Any]]:
    """A Service for something outside the cluster: ExternalName, or hand-written endpoints."""
    labels = _external_labels(service)
    metadata = _metadata(service.name, service.namespace, labels)
    if service.external_name is not None:
        spec = {"type": "ExternalName", "externalName": service.external_name}
        return [{"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}]
    # Port names tie the three objects together: kube-proxy pairs a Service port with the
    # endpoint port of the same name.
    service_ports = [
        {"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol}
        for p in service.ports
    ]
    endpoint_ports = [
        {"name": p.name, "port": p.target_port, "protocol": p.protocol} for p in service.ports
    ]
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {"type": "ClusterIP", "ports": service_ports},
        }
    ]
    for family, addresses in _address_families(service.addresses).items():
        slice_labels = {
            **labels,
            "kubernetes.io/service-name": service.name,
            "endpointslice.kubernetes.io/managed-by": ENDPOINTSLICE_MANAGER,
        }
        objects.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": _metadata(
                    f"{service.name}-kgit-{family.lower()}", service.namespace, slice_labels
                ),
                "addressType": family,
                "endpoints": [
                    {"addresses": [address], "conditions": {"ready": True}} for address in addresses
                ],
                "ports": endpoint_ports,
            }
        )
    if cluster.kubernetes.version.emits_legacy_endpoints:
        # The mirroring controller would copy these Endpoints into a second EndpointSlice.
        legacy_labels = {**labels, "endpointslice.kubernetes.io/skip-mirror": "true"}
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": _metadata(service.name, service.namespace, legacy_labels),
                "subsets": [
                    {
                        "addresses": [{"ip": address} for address in service.addresses],
                        "ports": endpoint_ports,
                    }
                ],
            }
        )
    return objects


def render_secret(secret: SecretRef) -> list[dict[str, Any]]:
    """The Secret without values: the reconciler fills ``data`` from the environment."""
    from_env = json.dumps(dict(sorted(secret.from_env.items())), sort_keys=True)
    metadata = _metadata(secret.name, secret.namespace, MANAGED_BY)
    metadata["annotations"] = {FROM_ENV_ANNOTATION: from_env}
    return [{"apiVersion": "v1", "kind": "Secret", "type": secret.type, "metadata": metadata}]
