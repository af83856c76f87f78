"""The host plan as a pure function of inventory and facts (no SSH): what each kind of
fact leads to, the refusals, and the saved form."""

from __future__ import annotations

import pytest

from compiler.compile.render.hosts import render_hosts
from compiler.hosts.facts import HostFacts, NodeFacts, NodeObject
from compiler.hosts.inventory import build_inventory
from compiler.hosts.plan import HostPlan, HostPlanError, make_host_plan
from tests.hosts_helpers import cluster_of, spec

CP_TAINT = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")


def inventory(version: str = "1.31.4"):
    cluster = cluster_of(
        spec(kubernetes={"version": version, "controlPlaneEndpoint": "10.0.0.10:6443"})
    )
    files = {f.path: f.content.encode() for f in render_hosts(cluster)}
    return build_inventory(cluster, files)


def joined(name: str, version: str = "1.31.4", **extra) -> NodeFacts:
    packages = {p: f"{version}-1.1" for p in ("kubelet", "kubeadm", "kubectl")}
    return NodeFacts(
        name=name,
        os_id="debian",
        packages=packages,
        kubelet_conf=True,
        admin_conf=name.startswith("cp"),
        apiserver_version=f"v{version}" if name.startswith("cp") else "",
        **extra,
    )


def node(version: str = "v1.31.4", labels=None, taints=(), annotations=None) -> NodeObject:
    return NodeObject(
        labels=labels or {},
        taints=tuple(taints),
        unschedulable=False,
        kubelet_version=version,
        annotations=annotations or {},
    )


MANAGED = {
    "kgit.dev/managed-labels": "[]",
    "kgit.dev/managed-taints": '[["node-role.kubernetes.io/control-plane", "", "NoSchedule"]]',
}
WORKER_MANAGED = {"kgit.dev/managed-labels": "[]", "kgit.dev/managed-taints": "[]"}


def converged(**overrides) -> HostFacts:
    nodes = {n: joined(n) for n in ("cp1", "cp2", "w1")}
    api = {
        "cp1": node(taints=[CP_TAINT], annotations=MANAGED),
        "cp2": node(taints=[CP_TAINT], annotations=MANAGED),
        "w1": node(annotations=WORKER_MANAGED),
    }
    api.update(overrides)
    return HostFacts(nodes, api)


def test_a_converged_cluster_has_no_changes_and_shows_foreign_nodes():
    plan = make_host_plan(inventory(), converged(old=node()))
    assert not plan.has_changes()
    assert plan.orphans == ("old",)
    assert plan.summary() == "No changes: 3 node(s) match cluster.yaml."


def test_a_node_running_a_newer_version_is_a_refused_downgrade():
    facts = converged()
    facts = HostFacts(
        {**facts.nodes, "w1": joined("w1", "1.32.0")},
        {**facts.api_nodes, "w1": node("v1.32.0", annotations=WORKER_MANAGED)},
    )
    with pytest.raises(
        HostPlanError,
        match="node w1 runs 1.32.0, newer than spec.kubernetes"
        r".version 1.31.4: kubeadm does not downgrade",
    ):
        make_host_plan(inventory(), facts)


def test_every_unreachable_node_is_named_in_one_error():
    facts = converged()
    nodes = {
        **facts.nodes,
        "cp2": NodeFacts("cp2", error="node cp2 (10.0.0.11:22): cannot connect: refused"),
        "w1": NodeFacts("w1", error="node w1 (10.0.0.20:22): cannot connect: refused"),
    }
    with pytest.raises(HostPlanError) as refused:
        make_host_plan(inventory(), HostFacts(nodes, facts.api_nodes))
    assert str(refused.value).splitlines() == [
        "node cp2 (10.0.0.11:22): cannot connect: refused",
        "node w1 (10.0.0.20:22): cannot connect: refused",
    ]


def test_a_patch_upgrade_is_an_upgrade_and_the_saved_plan_reads_back_equal():
    plan = make_host_plan(inventory("1.31.5"), converged())
    assert plan.node("cp1").actions[-1].steps[2] == "kubeadm upgrade apply v1.31.5"
    assert plan.node("w1").actions[-1].reason == "1.31.4 -> 1.31.5"
    assert HostPlan.from_json(plan.to_json()) == plan


def test_a_foreign_label_is_left_alone_and_a_changed_value_is_set():
    live = node(
        labels={"team": "a", "ingress": "false"},
        annotations={"kgit.dev/managed-labels": '["ingress"]', "kgit.dev/managed-taints": "[]"},
    )
    inv = inventory()
    w1 = inv.node("w1")
    import dataclasses

    inv = dataclasses.replace(
        inv,
        nodes=tuple(
            dataclasses.replace(n, labels={"ingress": "true"}) if n is w1 else n for n in inv.nodes
        ),
    )
    plan = make_host_plan(inv, converged(w1=live))
    action = plan.node("w1").actions[-1]
    assert (action.labels, action.remove_labels) == ({"ingress": "true"}, ())
    assert action.reason == "label ingress=true"


def test_a_plan_that_is_not_a_host_plan_is_refused():
    with pytest.raises(HostPlanError, match="cannot read the host plan: not a host plan"):
        HostPlan.from_json('{"format_version": "1.2", "resource_changes": []}')
