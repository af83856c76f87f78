"""APPLY_ORDER: stages, ties on namespace then name, deletion as the exact reverse."""

from __future__ import annotations

import random

import pytest

from compiler.core.identity import ObjectId
from compiler.reconcile.order import Stage, delete_batches, group_by_stage, sort_for_apply, stage_of


def ref(api_version: str, kind: str, namespace: str = "", name: str = "x") -> ObjectId:
    return ObjectId(api_version, kind, namespace, name)


@pytest.mark.parametrize(
    ("api_version", "kind", "stage"),
    [
        pytest.param("v1", "Namespace", Stage.PREREQUISITES, id="namespace"),
        pytest.param(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", Stage.PREREQUISITES, id="crd"
        ),
        pytest.param("scheduling.k8s.io/v1", "PriorityClass", Stage.PREREQUISITES, id="priority"),
        pytest.param(
            "rbac.authorization.k8s.io/v1", "ClusterRole", Stage.PREREQUISITES, id="clusterrole"
        ),
        pytest.param("v1", "ServiceAccount", Stage.CONFIGURATION, id="serviceaccount"),
        pytest.param(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            Stage.CONFIGURATION,
            id="clusterrolebinding",
        ),
        pytest.param("v1", "Secret", Stage.CONFIGURATION, id="secret"),
        pytest.param("v1", "Endpoints", Stage.CONFIGURATION, id="endpoints"),
        pytest.param("discovery.k8s.io/v1", "EndpointSlice", Stage.CONFIGURATION, id="slice"),
        pytest.param("v1", "PersistentVolumeClaim", Stage.CONFIGURATION, id="pvc"),
        pytest.param("apps/v1", "DaemonSet", Stage.WORKLOADS, id="daemonset"),
        pytest.param("batch/v1", "CronJob", Stage.WORKLOADS, id="cronjob"),
        pytest.param("example.com/v1", "Widget", Stage.WORKLOADS, id="custom-resource"),
        pytest.param("policy/v1", "PodDisruptionBudget", Stage.WORKLOADS, id="unlisted-kind"),
        pytest.param(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            Stage.ADMISSION,
            id="validating-webhook",
        ),
        pytest.param(
            "admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration",
            Stage.ADMISSION,
            id="mutating-webhook",
        ),
        pytest.param("networking.k8s.io/v1", "Ingress", Stage.ADMISSION, id="ingress"),
        pytest.param("example.com/v1", "Ingress", Stage.WORKLOADS, id="ingress-of-another-group"),
    ],
)
def test_each_kind_goes_in_its_stage(api_version, kind, stage):
    assert stage_of(ref(api_version, kind)) is stage


def test_apply_order_ranks_stage_then_kind_then_namespace_then_name():
    expected = [
        ref("v1", "Namespace", "", "a"),
        ref("v1", "Namespace", "", "b"),
        ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
        ref("v1", "ConfigMap", "a", "z"),
        ref("v1", "ConfigMap", "b", "a"),
        ref("v1", "Service", "a", "web"),
        ref("apps/v1", "Deployment", "a", "web"),
        ref("batch/v1", "Job", "a", "migrate"),
        ref("policy/v1", "PodDisruptionBudget", "a", "web"),
        ref("example.com/v1", "Widget", "a", "w"),
        ref("networking.k8s.io/v1", "Ingress", "a", "web"),
    ]
    shuffled = expected[:]
    random.Random(8).shuffle(shuffled)
    assert sort_for_apply(shuffled) == expected


def test_deletions_run_in_the_exact_reverse_order_by_stage():
    refs = [
        ref("v1", "Namespace", "", "web"),
        ref("v1", "Service", "web", "nginx"),
        ref("apps/v1", "Deployment", "web", "nginx"),
        ref("networking.k8s.io/v1", "Ingress", "web", "nginx"),
    ]
    assert delete_batches(refs) == [[refs[3]], [refs[2]], [refs[1]], [refs[0]]]
    assert [stage for stage, _ in group_by_stage(refs)] == [
        Stage.PREREQUISITES,
        Stage.CONFIGURATION,
        Stage.WORKLOADS,
        Stage.ADMISSION,
    ]
