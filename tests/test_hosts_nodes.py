"""The API side of the host half against the test API server: drain (evictions, with
PodDisruptionBudgets respected, DaemonSet and static pods left), uncordon, and the
bootstrap token kgit makes for joins."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from compiler.hosts.nodes import JoinToken, NodeApi, NodeApiError
from tests.apiserver import start_server
from tests.apiserver.kubeconfig import kubeconfig_dict


@pytest.fixture
def api():
    server = start_server()
    node_api = NodeApi(kubeconfig_dict(server.url))
    node_api.server = server  # type: ignore[attr-defined]
    yield node_api
    node_api.close()
    server.stop()


def pod(name: str, node: str, **meta) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", **meta},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1.27"}]},
    }


def names_on(api: NodeApi, node: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in api._pods_on(node))


def test_drain_evicts_what_it_may_and_waits_for_the_disruption_budget(api):
    core = api.core
    for name in ("n1", "n2"):
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    owner = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": "ds",
        "uid": "1",
        "controller": True,
    }
    core.create_namespaced_pod("default", pod("web-1", "n1", labels={"app": "web"}))
    core.create_namespaced_pod("default", pod("web-2", "n2", labels={"app": "web"}))
    core.create_namespaced_pod("default", pod("agent", "n1", ownerReferences=[owner]))
    core.create_namespaced_pod(
        "default", pod("static", "n1", annotations={"kubernetes.io/config.mirror": "x"})
    )
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
    }
    from kubernetes import client

    policy = client.PolicyV1Api(api._client)
    policy.create_namespaced_pod_disruption_budget("default", pdb)

    with pytest.raises(NodeApiError) as held:
        api.drain("n1", timeout=1.5)

    assert str(held.value) == (
        "draining n1: pods still there after 2s (a PodDisruptionBudget may forbid "
        "evicting them): default/web-1"
    )
    assert api.nodes()["n1"].unschedulable is True
    assert names_on(api, "n1") == ["agent", "static", "web-1"]

    policy.patch_namespaced_pod_disruption_budget("web", "default", {"spec": {"minAvailable": 1}})
    api.drain("n1", timeout=10)

    assert names_on(api, "n1") == ["agent", "static"]  # DaemonSet and static pods stay
    assert names_on(api, "n2") == ["web-2"]
    api.cordon("n1", False)
    assert api.nodes()["n1"].unschedulable is False


def test_cordon_of_a_missing_node_names_it(api):
    with pytest.raises(NodeApiError, match="Node gone does not exist"):
        api.cordon("gone", True)


def test_the_join_token_is_a_bootstrap_token_secret_that_expires(api):
    token = JoinToken("abcdef", "0123456789abcdef")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    api.create_join_token(token, now=now)

    secret = api.server.store.get("", "secrets", "kube-system", "bootstrap-token-abcdef")
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {
        "token-id": "abcdef",
        "token-secret": "0123456789abcdef",
        "expiration": "2026-01-02T04:04:05Z",
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
        "description": "kgit hosts apply (deleted when the apply ends)",
    }
    assert "0123456789abcdef" not in repr(token)
    api.delete_join_token(token)
    assert api.server.store.get("", "secrets", "kube-system", "bootstrap-token-abcdef") is None
