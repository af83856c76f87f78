"""Which workloads serve the admission webhooks (and aggregated APIs) kgit applies.

Stage 4 (compiler.reconcile.order) holds objects whose creation or use calls a server
running in the cluster: a ValidatingWebhookConfiguration or MutatingWebhookConfiguration
sends admission reviews to ``webhooks[].clientConfig.service``, an APIService proxies to
``spec.service``. Creating an Ingress while ingress-nginx's admission webhook has no ready
pod fails ("failed calling webhook"), so apply waits for those workloads before stage 4,
and for nothing else: an app's Deployment does not gate its own Ingress.

The chain is followed through the desired objects only: service reference -> that Service
in out/ -> its ``spec.selector`` -> the workloads of out/ in the Service's namespace whose
pod template labels match it. A webhook whose Service kgit does not apply (or that calls a
URL) has no backend kgit could wait for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from compiler.core.identity import ObjectId
from compiler.reconcile.order import is_workload

Body = Mapping[str, Any]
WEBHOOK_KINDS = frozenset(
    {
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    }
)
API_SERVICE = ("apiregistration.k8s.io", "APIService")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def service_references(body: Body) -> Iterator[tuple[str, str]]:
    """(namespace, name) of each Service a webhook configuration or APIService calls."""
    ref = ObjectId.of(dict(body))
    if (ref.group, ref.kind) in WEBHOOK_KINDS:
        webhooks = body.get("webhooks")
        for webhook in webhooks if isinstance(webhooks, list) else ():
            service = _mapping(_mapping(_mapping(webhook).get("clientConfig")).get("service"))
            if service.get("name"):
                yield str(service.get("namespace") or "default"), str(service["name"])
    elif (ref.group, ref.kind) == API_SERVICE:
        service = _mapping(_mapping(body.get("spec")).get("service"))
        if service.get("name"):
            yield str(service.get("namespace") or "default"), str(service["name"])


def _pod_labels(body: Body) -> Mapping[str, Any]:
    template = _mapping(_mapping(body.get("spec")).get("template"))
    return _mapping(_mapping(template.get("metadata")).get("labels"))


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    # An empty selector selects nothing: a Service without one has no endpoints of its own.
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def webhook_backends(objects: Iterable[Body]) -> set[ObjectId]:
    """The desired workloads that serve a desired webhook configuration or APIService."""
    bodies = list(objects)
    services: dict[tuple[str, str], Mapping[str, Any]] = {}
    workloads: list[tuple[ObjectId, Mapping[str, Any]]] = []
    for body in bodies:
        ref = ObjectId.of(dict(body))
        if (ref.group, ref.kind) == ("", "Service"):
            services[(ref.namespace, ref.name)] = _mapping(
                _mapping(body.get("spec")).get("selector")
            )
        elif is_workload(ref):
            workloads.append((ref, _pod_labels(body)))
    backends: set[ObjectId] = set()
    for body in bodies:
        for namespace, name in service_references(body):
            selector = services.get((namespace, name))
            if selector is None:
                continue
            backends.update(
                ref
                for ref, labels in workloads
                if ref.namespace == namespace and _selects(selector, labels)
            )
    return backends
