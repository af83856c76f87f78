"""Admission webhooks whose backend is gone: the one way they matter to kgit.

The server does not call webhooks. It does what a real API server does when it cannot: a
write that a ValidatingWebhookConfiguration or MutatingWebhookConfiguration matches
(operation, API group, version, resource), with ``failurePolicy: Fail`` (the default),
fails when the webhook's Service does not exist or has no ready pod behind it. The
messages are upstream's (k8s.io/apiserver pkg/admission/plugin/webhook/errors and the
service resolver): "failed calling webhook ...: service ... not found" and "no endpoints
available for service ...". This is what an apply sees when ingress-nginx's controller is
deleted while its admission webhook is still registered (docs/migrate-to-gateway.md).

A pod counts as ready when a Deployment, DaemonSet or StatefulSet in the Service's
namespace, whose pod labels the Service selects, reports a ready replica.
"""

from __future__ import annotations

from typing import Any

from tests.apiserver.discovery import Resource
from tests.apiserver.status import ApiError
from tests.apiserver.store import Obj, Store

_CONFIGURATIONS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")
_WORKLOADS = (("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets"))


def check_webhooks(store: Store, res: Resource, operation: str) -> None:
    """Raise the error a real server returns when a matching webhook cannot be called."""
    if res.group == "admissionregistration.k8s.io":
        return  # webhooks are never called for webhook configurations themselves
    for plural in _CONFIGURATIONS:
        for config in store.list("admissionregistration.k8s.io", plural, None):
            for webhook in config.get("webhooks") or []:
                if webhook.get("failurePolicy", "Fail") != "Fail":
                    continue
                if not any(_matches(rule, res, operation) for rule in webhook.get("rules") or []):
                    continue
                problem = _unreachable(store, webhook)
                if problem is not None:
                    raise ApiError(
                        500,
                        "InternalError",
                        f'Internal error occurred: failed calling webhook "{webhook.get("name")}":'
                        f" failed to call webhook: {problem}",
                    )


def _matches(rule: dict[str, Any], res: Resource, operation: str) -> bool:
    def has(field: str, value: str) -> bool:
        values = rule.get(field) or []
        return "*" in values or value in values

    return (
        has("operations", operation)
        and has("apiGroups", res.group)
        and has("apiVersions", res.version)
        and has("resources", res.plural)
    )


def _unreachable(store: Store, webhook: dict[str, Any]) -> str | None:
    service_ref = (webhook.get("clientConfig") or {}).get("service")
    if not service_ref:
        return None  # a URL webhook: outside the cluster, assumed reachable
    namespace, name = service_ref.get("namespace", "default"), service_ref.get("name", "")
    url = (
        f'Post "https://{name}.{namespace}.svc:{service_ref.get("port", 443)}'
        f'{service_ref.get("path", "")}?timeout=10s"'
    )
    service = store.get("", "services", namespace, name)
    if service is None:
        return f'{url}: service "{name}" not found'
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector or not any(_ready_behind(store, namespace, selector)):
        return f'{url}: no endpoints available for service "{name}"'
    return None


def _ready_behind(store: Store, namespace: str, selector: dict[str, str]) -> list[Obj]:
    ready = []
    for group, plural in _WORKLOADS:
        for workload in store.list(group, plural, namespace):
            template = (workload.get("spec") or {}).get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            status = workload.get("status") or {}
            pods = status.get("readyReplicas") or status.get("numberReady") or 0
            if all(labels.get(k) == v for k, v in selector.items()) and pods > 0:
                ready.append(workload)
    return ready
