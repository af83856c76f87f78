"""Which workloads apply waits for before stage 4: those serving a desired webhook."""

from __future__ import annotations

import pytest
import yaml

from compiler.core.identity import ObjectId
from compiler.reconcile.backends import webhook_backends

CONTROLLER = ObjectId("apps/v1", "Deployment", "ingress-nginx", "ingress-nginx-controller")


def workload(kind: str, name: str, ns: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": []}}},
    }


def svc(name: str, ns: str, selector: dict[str, str] | None) -> dict:
    spec: dict = {"ports": [{"port": 443}]}
    if selector is not None:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def webhook(kind: str, client_config: dict) -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "hook"},
        "webhooks": [{"name": "validate.example", "clientConfig": client_config}],
    }


def calls(name: str, ns: str) -> dict:
    return {"service": {"name": name, "namespace": ns, "path": "/validate"}}


CTRL_LABELS = {"app": "ingress", "component": "controller"}
APP = workload("Deployment", "web", "apps", {"app": "web"})
APP_INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {},
}
CTRL = workload("Deployment", "ingress-nginx-controller", "ingress-nginx", CTRL_LABELS)
CTRL_SVC = svc("admission", "ingress-nginx", {"component": "controller"})


@pytest.mark.parametrize(
    "objects, expected",
    [
        pytest.param(
            [
                APP,
                APP_INGRESS,
                CTRL,
                CTRL_SVC,
                webhook("ValidatingWebhookConfiguration", calls("admission", "ingress-nginx")),
            ],
            {CONTROLLER},
            id="validating-webhook-gates-on-its-controller-only",
        ),
        pytest.param(
            [
                CTRL,
                CTRL_SVC,
                webhook("MutatingWebhookConfiguration", calls("admission", "ingress-nginx")),
            ],
            {CONTROLLER},
            id="mutating-webhook",
        ),
        pytest.param([APP, APP_INGRESS, CTRL, CTRL_SVC], set(), id="ingresses-without-webhook"),
        pytest.param(
            [
                CTRL,
                CTRL_SVC,
                webhook(
                    "ValidatingWebhookConfiguration", {"url": "https://hooks.example/validate"}
                ),
            ],
            set(),
            id="webhook-calling-a-url",
        ),
        pytest.param(
            [CTRL, webhook("ValidatingWebhookConfiguration", calls("admission", "ingress-nginx"))],
            set(),
            id="service-not-applied-by-kgit",
        ),
        pytest.param(
            [
                CTRL,
                svc("admission", "ingress-nginx", None),
                webhook("ValidatingWebhookConfiguration", calls("admission", "ingress-nginx")),
            ],
            set(),
            id="service-without-selector",
        ),
        pytest.param(
            [
                CTRL,
                svc("admission", "ingress-nginx", {"component": "controller", "x": "y"}),
                webhook("ValidatingWebhookConfiguration", calls("admission", "ingress-nginx")),
            ],
            set(),
            id="selector-needs-every-label",
        ),
        pytest.param(
            [
                workload("Deployment", "ingress-nginx-controller", "other", CTRL_LABELS),
                CTRL_SVC,
                webhook("ValidatingWebhookConfiguration", calls("admission", "ingress-nginx")),
            ],
            set(),
            id="workload-in-another-namespace",
        ),
        pytest.param(
            [
                workload("DaemonSet", "ingress-nginx-controller", "ingress-nginx", CTRL_LABELS),
                CTRL_SVC,
                webhook("ValidatingWebhookConfiguration", calls("admission", "ingress-nginx")),
            ],
            {ObjectId("apps/v1", "DaemonSet", "ingress-nginx", "ingress-nginx-controller")},
            id="daemonset-controller",
        ),
        pytest.param(
            [
                CTRL,
                CTRL_SVC,
                {
                    "apiVersion": "apiregistration.k8s.io/v1",
                    "kind": "APIService",
                    "metadata": {"name": "v1beta1.metrics.example"},
                    "spec": {"service": {"name": "admission", "namespace": "ingress-nginx"}},
                },
            ],
            {CONTROLLER},
            id="api-service",
        ),
    ],
)
def test_webhook_backends(objects, expected):
    assert webhook_backends(objects) == expected


@pytest.mark.parametrize(
    "manifest",
    [
        "ingress-nginx-baremetal-controller-v1.12.1.yaml",
        "ingress-nginx-cloud-controller-v1.15.1.yaml",
    ],
)
def test_real_ingress_nginx_webhook_is_served_by_its_controller_deployment(upstream, manifest):
    # ingress-nginx's own manifests: the admission webhook calls the Service
    # ingress-nginx-controller-admission, which selects the controller's pods; the admission
    # Jobs (create/patch the certificate) are workloads too, but not selected by it.
    objects = [d for d in yaml.safe_load_all((upstream / manifest).read_text()) if d]
    assert webhook_backends(objects) == {CONTROLLER}
