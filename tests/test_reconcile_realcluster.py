"""kgit against the real control plane only: what needs real controllers.

The parametrised suites (``any_cluster``) cover plan/apply/prune/lock/history/rollback on
both servers; these tests need what the test server does not simulate: pods that crash
in a loop or never become Ready under a real Deployment controller, and the Endpoints
and EndpointSlices the real controllers make from a kgit Service, copying its labels.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from compiler.reconcile import history
from compiler.reconcile.results import ApplyError
from tests.realcluster.controlplane import RealCluster
from tests.reconcile_apply_helpers import (
    CLUSTER,
    client_for,
    configmap,
    converge,
    deployment,
    inventory,
    members,
    namespace,
    plan,
    refs,
    service,
)

pytestmark = pytest.mark.realcluster


def misbehaving(name: str, how: str, deadline: int | None = None) -> dict[str, Any]:
    """A Deployment whose pods KWOK runs as ``how`` (tests/realcluster/kwok.yaml)."""
    body = deployment(name)
    template_meta = body["spec"]["template"]["metadata"]
    template_meta["labels"] = {**template_meta["labels"], "kgit.test/pod": how}
    if deadline is not None:
        body["spec"]["progressDeadlineSeconds"] = deadline
    return body


def test_web_app_rolls_out_on_real_controllers(real_cluster: RealCluster) -> None:
    client = client_for(real_cluster)
    objects = [namespace("web"), deployment("nginx"), service("nginx")]
    result = converge(client, objects)
    assert result.summary().startswith("Apply complete: 3 created")
    live = real_cluster.get("apps/v1", "Deployment", "nginx", "web")
    wanted = objects[1]["spec"]["replicas"]
    assert live is not None and live["status"].get("availableReplicas") == wanted
    pods = real_cluster.objects(kind="Pod", namespace="web")
    assert [p["status"]["phase"] for p in pods] == ["Running"] * wanted
    assert members(real_cluster) == refs(objects) == inventory(real_cluster)


@pytest.mark.parametrize("how", ["crashloop", "never-ready"])
def test_rollout_that_never_becomes_ready_stops_before_prune(
    real_cluster: RealCluster, how: str
) -> None:
    client = client_for(real_cluster)
    converge(client, [namespace("web"), deployment("nginx"), configmap("old")])
    with pytest.raises(ApplyError) as caught:
        converge(client, [namespace("web"), misbehaving("nginx", how, deadline=2)])
    text = str(caught.value)
    assert text.startswith("1 object not ready (timeout 5s):\n  Deployment.apps/web/nginx: ")
    assert real_cluster.get("v1", "ConfigMap", "old", "web") is not None  # not pruned
    entries = history.read_history(
        real_cluster.get("v1", "ConfigMap", f"kgit-{CLUSTER}", "kube-system")
    )
    assert entries[-1].result.startswith("failed: 1 object not ready")


def wait_for(what: str, found: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while (value := found()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
    return value


# The item 5: the endpoints and EndpointSlice controllers copy a Service's labels,
# kgit's applyset.kubernetes.io/part-of included, onto the objects they create. When the
# set's kinds include Endpoints or EndpointSlice (the bundled cluster's do), `kgit plan`
# warned about each such object as a stranger carrying kgit's label; main's fix
# (compiler/reconcile/inherited.py) is held here to a real cluster's controllers.
def test_plan_after_apply_warns_about_nothing_on_a_real_cluster(real_cluster: RealCluster) -> None:
    manual_endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "external", "namespace": "web"},
        "subsets": [
            {"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80, "protocol": "TCP"}]}
        ],
    }
    manual_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "external",
            "namespace": "web",
            "labels": {"kubernetes.io/service-name": "external"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"]}],
        "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
    }
    objects = [
        namespace("web"),
        deployment("nginx"),
        service("nginx"),
        manual_endpoints,
        manual_slice,
    ]
    client = client_for(real_cluster)
    converge(client, objects)
    # The controllers' copies exist, with kgit's label on them.
    copied = wait_for(
        "the controllers' Endpoints", lambda: real_cluster.get("v1", "Endpoints", "nginx", "web")
    )
    assert "applyset.kubernetes.io/part-of" in copied["metadata"].get("labels", {})
    _, again = plan(client, objects)
    assert not again.has_changes()
    assert again.warnings == ()
