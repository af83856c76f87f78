"""kgit's host half against a real OpenSSH server: plan -> apply -> plan converges.

Each test gets test nodes behind one sshd (tests/ssh_nodes.py) whose kubeadm shim talks to
the in-repo test API server, so labels, drains and bootstrap tokens are real API calls and
a join is refused unless the token, CA hash and certificate key are the cluster's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from compiler.hosts import apply as apply_module
from compiler.hosts.apply import StalePlanError
from compiler.hosts.plan import HostPlan, HostPlanError
from compiler.hosts.ssh import HostKeyTrust
from tests.apiserver import start_server
from tests.apiserver.kubeconfig import kubeconfig_dict
from tests.hosts_ssh_helpers import TestCluster, node_spec
from tests.ssh_nodes import SshNodes, sshd_available

pytestmark = pytest.mark.skipif(sshd_available() is not None, reason=str(sshd_available()))

THREE = [("cp1", "control-plane"), ("cp2", "control-plane"), ("w1", "worker")]
FIVE = [*THREE[:2], ("w1", "worker"), ("w2", "worker"), ("w3", "worker")]


@pytest.fixture
def make_cluster(tmp_path):
    started: list[tuple[SshNodes, object]] = []

    def make(nodes, spare=(), **spec_extra) -> TestCluster:
        api = start_server()
        ssh = SshNodes(
            tmp_path / "sshd",
            [n for n, _ in nodes] + list(spare),
            admin_kubeconfig=yaml.safe_dump(kubeconfig_dict(api.url)),
        ).start()
        started.append((ssh, api))
        return TestCluster(ssh, api, tmp_path, node_spec(nodes, **spec_extra))

    yield make
    for ssh, api in started:
        ssh.stop()
        api.stop()


def kinds(plan: HostPlan) -> dict[str, tuple[str, ...]]:
    return {n.name: n.kinds() for n in plan.nodes}


def applied(cluster: TestCluster, **kwargs):
    result, lines = cluster.apply(**kwargs)
    assert result.ok, "\n".join(lines)
    return result, lines


def test_fresh_three_node_cluster_converges(make_cluster):
    cluster = make_cluster(THREE)

    plan = cluster.plan()

    assert kinds(plan) == {
        "cp1": ("provision", "init", "node"),
        "cp2": ("provision", "join", "node"),
        "w1": ("provision", "join", "node"),
    }
    assert plan.node("cp1").actions[0].phases == ("kernel", "runtime", "packages")

    result, _ = applied(cluster)

    assert [o.status for o in result.outcomes] == ["done", "done", "done"]
    # kubeadm's order: init, then the control plane joins, then the worker.
    kubeadm = [line for line in cluster.ssh.cluster_log() if ": kubeadm " in line]
    assert kubeadm == [
        "cp1: kubeadm init --config /etc/kubernetes/kgit/kubeadm.yaml",
        "cp1: kubeadm init phase upload-certs --upload-certs --config /dev/stdin",
        "cp2: kubeadm join --config <temporary>",
        "w1: kubeadm join --config <temporary>",
    ]
    for name in ("cp1", "cp2", "w1"):
        node = cluster.node_object(name)
        assert node is not None
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.4"
        assert node["metadata"]["annotations"]["kgit.dev/managed-labels"] == "[]"
    # the bootstrap token kgit made is gone once the apply ends
    secrets = cluster.api.store.list("", "secrets", "kube-system")
    assert [s for s in secrets if s["metadata"]["name"].startswith("bootstrap-token-")] == []
    # one history entry on the first control plane, and the lock released
    history = cluster.ssh.nodes["cp1"].root / "var/lib/kgit/hosts-history.jsonl"
    entry = json.loads(history.read_text())
    assert (entry["result"], entry["nodes"]) == (
        "applied",
        {"cp1": "done", "cp2": "done", "w1": "done"},
    )
    assert not (cluster.ssh.nodes["cp1"].root / "var/lib/kgit/hosts-apply.lock").exists()

    again = cluster.plan()

    assert not again.has_changes(), again
    calls_before = {n: node.calls() for n, node in cluster.ssh.nodes.items()}
    result, _ = applied(cluster)
    assert {o.status for o in result.outcomes} == {"unchanged"}
    assert {n: node.calls() for n, node in cluster.ssh.nodes.items()} == calls_before


def test_adding_a_worker_joins_only_that_worker(make_cluster):
    cluster = make_cluster(THREE, spare=["w2"])
    applied(cluster)
    calls_before = {n: cluster.ssh.nodes[n].calls() for n in ("cp1", "cp2", "w1")}

    cluster.document["spec"]["nodes"].append(
        {"name": "w2", "address": "10.0.0.20", "role": "worker", "labels": {"ingress": "true"}}
    )
    plan = cluster.plan()

    assert kinds(plan) == {
        "cp1": (),
        "cp2": (),
        "w1": (),
        "w2": ("provision", "join", "node"),
    }
    applied(cluster)
    assert {n: cluster.ssh.nodes[n].calls() for n in ("cp1", "cp2", "w1")} == calls_before
    assert cluster.node_object("w2")["metadata"]["labels"]["ingress"] == "true"
    assert not cluster.plan().has_changes()


def test_label_and_taint_changes_reach_the_node_through_the_api(make_cluster):
    cluster = make_cluster(THREE)
    applied(cluster)
    w1 = cluster.document["spec"]["nodes"][2]

    w1["labels"] = {"ingress": "true"}
    w1["taints"] = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
    plan = cluster.plan()

    assert kinds(plan)["w1"] == ("provision", "node")  # kubeadm.yaml changes too
    assert plan.node("w1").actions[0].phases == ("kubeadm",)
    assert plan.node("w1").actions[1].reason == (
        "label ingress=true; taints: dedicated=batch:NoSchedule"
    )
    w1_calls = cluster.ssh.nodes["w1"].calls()
    applied(cluster)
    assert cluster.ssh.nodes["w1"].calls() == w1_calls  # kubeadm.yaml rewritten, no re-join
    node = cluster.node_object("w1")
    assert node["metadata"]["labels"]["ingress"] == "true"
    assert node["spec"]["taints"] == [
        {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}
    ]
    assert not cluster.plan().has_changes()

    # a taint someone else set stays; kgit's own label and taint go when removed
    cluster.api.store.get("", "nodes", "", "w1")["spec"]["taints"].append(
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
    )
    w1.pop("labels")
    w1.pop("taints")
    plan = cluster.plan()
    assert plan.node("w1").actions[-1].reason == "remove label ingress; taints: none"
    applied(cluster)
    node = cluster.node_object("w1")
    assert "ingress" not in node["metadata"]["labels"]
    assert node["spec"]["taints"] == [
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
    ]
    assert not cluster.plan().has_changes()


def upgrade_to(cluster: TestCluster, version: str) -> None:
    cluster.document["spec"]["kubernetes"]["version"] = version


def test_one_minor_upgrade_runs_in_kubeadm_order(make_cluster):
    cluster = make_cluster(FIVE)
    applied(cluster)
    start = len(cluster.ssh.cluster_log())

    upgrade_to(cluster, "1.32.3")
    plan = cluster.plan()

    steps = {n.name: n.actions[-1].steps for n in plan.nodes if "upgrade" in n.kinds()}
    assert steps["cp1"] == (
        "drain",
        "packages",
        "kubeadm upgrade apply v1.32.3",
        "restart kubelet",
        "uncordon",
    )
    assert steps["w3"] == (
        "drain",
        "packages",
        "kubeadm upgrade node",
        "restart kubelet",
        "uncordon",
    )
    applied(cluster)

    log = cluster.ssh.cluster_log()[start:]
    upgrades = [line for line in log if "kubeadm upgrade" in line]
    assert upgrades == [
        "cp1: kubeadm upgrade apply v1.32.3 (cordoned)",
        "cp2: kubeadm upgrade node (cordoned)",
        "w1: kubeadm upgrade node (cordoned)",
        "w2: kubeadm upgrade node (cordoned)",
        "w3: kubeadm upgrade node (cordoned)",
    ]
    # per node: packages, then kubeadm, then the kubelet restart; maxUnavailable 1 means
    # one worker's steps end before the next worker's begin
    for name in ("cp1", "cp2", "w1", "w2", "w3"):
        mine = [line.split(": ", 1)[1] for line in log if line.startswith(f"{name}: ")]
        install = next(i for i, c in enumerate(mine) if "kubeadm=1.32.3-1.1" in c)
        upgrade = next(i for i, c in enumerate(mine) if c.startswith("kubeadm upgrade"))
        restart = mine.index("systemctl restart kubelet")
        assert install < upgrade < restart, mine
    order = [line.split(":")[0] for line in log if line.split(":")[0] in ("w1", "w2", "w3")]
    assert order == sorted(order), order
    for name in ("cp1", "cp2", "w1", "w2", "w3"):
        node = cluster.node_object(name)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.3"
        assert not node["spec"].get("unschedulable")
    cordoned = (cluster.ssh.cluster_state / "cordoned-during-upgrades").read_text()
    assert cordoned == "cp1 1\ncp2 1\nw1 1\nw2 1\nw3 1\n"  # one node out at a time
    assert not cluster.plan().has_changes()


def test_max_unavailable_workers_upgrade_together(make_cluster):
    cluster = make_cluster([*FIVE, ("w4", "worker")], upgrade={"maxUnavailable": 2})
    applied(cluster)
    for name in ("w1", "w2", "w3", "w4"):
        (cluster.ssh.nodes[name].state / "slow-upgrade").touch()

    upgrade_to(cluster, "1.32.3")
    applied(cluster)

    cordoned = dict(
        line.split()
        for line in (cluster.ssh.cluster_state / "cordoned-during-upgrades")
        .read_text()
        .splitlines()
    )
    assert (cordoned["cp1"], cordoned["cp2"]) == ("1", "1")
    workers = [int(cordoned[w]) for w in ("w1", "w2", "w3", "w4")]
    assert max(workers) == 2, workers  # two at a time, never three
    assert not cluster.plan().has_changes()


def test_an_upgrade_that_skips_a_minor_is_refused(make_cluster):
    cluster = make_cluster(THREE)
    applied(cluster)

    upgrade_to(cluster, "1.33.1")
    with pytest.raises(HostPlanError) as refused:
        cluster.plan()

    assert str(refused.value).splitlines()[0] == (
        "node cp1 runs 1.31.4; spec.kubernetes.version 1.33.1 skips a minor version: kubeadm "
        "upgrades one minor at a time, so set 1.32.x first, apply, then 1.33.1"
    )
    calls = {n: node.calls() for n, node in cluster.ssh.nodes.items()}
    with pytest.raises(HostPlanError):
        cluster.apply()
    assert {n: node.calls() for n, node in cluster.ssh.nodes.items()} == calls


def test_a_node_failing_mid_upgrade_stops_the_apply_and_a_rerun_finishes(make_cluster):
    cluster = make_cluster(FIVE)
    applied(cluster)
    upgrade_to(cluster, "1.32.3")
    cluster.ssh.nodes["w2"].fail("upgrade")
    w3_calls = cluster.ssh.nodes["w3"].calls()

    result, _ = cluster.apply()

    assert not result.ok
    status = {o.name: o.status for o in result.outcomes}
    assert status == {"cp1": "done", "cp2": "done", "w1": "done", "w2": "failed", "w3": "untouched"}
    failure = result.failure()
    assert failure.error.startswith("node w2: `kubeadm upgrade node` failed with exit status 1")
    assert "upgrade failed (injected)" in failure.error
    assert cluster.ssh.nodes["w3"].calls() == w3_calls  # untouched
    assert cluster.node_object("w2")["spec"]["unschedulable"] is True  # left drained
    history = (cluster.ssh.nodes["cp1"].root / "var/lib/kgit/hosts-history.jsonl").read_text()
    assert json.loads(history.splitlines()[-1])["result"] == "failed: node w2"

    cluster.ssh.nodes["w2"].fail("upgrade", on=False)
    plan = cluster.plan()
    assert {n.name for n in plan.nodes if n.actions} == {"w2", "w3"}
    applied(cluster)
    assert cluster.node_object("w2")["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.3"
    assert not cluster.node_object("w2")["spec"].get("unschedulable")
    assert not cluster.plan().has_changes()


def test_an_unknown_host_key_is_refused_unless_new_keys_are_accepted(make_cluster):
    cluster = make_cluster(THREE)
    cluster.known_hosts.write_text(cluster.ssh.known_hosts(["cp1", "cp2"]))
    port = cluster.ssh.port

    with pytest.raises(HostPlanError) as refused:
        cluster.plan()
    message = str(refused.value)
    assert f"node w1 (127.0.0.13:{port}): its host key is not known" in message
    assert "--accept-new-host-keys" in message
    assert cluster.ssh.nodes["w1"].calls() == []

    plan = cluster.plan(trust=HostKeyTrust((cluster.known_hosts,), accept_new=True))

    assert plan.has_changes()
    assert cluster.known_hosts.read_text().splitlines()[-1] == (
        f"[127.0.0.13]:{port} {cluster.ssh.host_key_line()}"
    )
    cluster.plan()  # known now


def test_a_changed_or_wrongly_pinned_host_key_is_refused(make_cluster, tmp_path):
    cluster = make_cluster(THREE)
    other = tmp_path / "other"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    cluster.known_hosts.write_text(
        cluster.ssh.known_hosts(["cp1", "cp2"]) + f"[127.0.0.13]:{cluster.ssh.port} {wrong}\n"
    )
    with pytest.raises(HostPlanError, match=r"node w1 .*host key verification failed"):
        cluster.plan(trust=HostKeyTrust((cluster.known_hosts,), accept_new=True))

    cluster.known_hosts.write_text(cluster.ssh.known_hosts())
    cluster.document["spec"]["nodes"][0]["ssh"] = {"hostKey": wrong}
    with pytest.raises(HostPlanError, match=r"node cp1 .*host key verification failed"):
        cluster.plan()
    cluster.document["spec"]["nodes"][0]["ssh"] = {"hostKey": cluster.ssh.host_key_line()}
    cluster.known_hosts.write_text(cluster.ssh.known_hosts(["cp2", "w1"]))
    assert cluster.plan().has_changes()  # the pinned key is enough


def test_a_stale_saved_plan_is_refused(make_cluster):
    cluster = make_cluster(THREE)
    saved = HostPlan.from_json(cluster.plan().to_json())
    # something changes on a node after the plan was made
    modules = cluster.ssh.nodes["w1"].root / "sys/module"
    (modules / "overlay").mkdir(parents=True)

    with pytest.raises(StalePlanError, match="the saved host plan is stale"):
        cluster.apply(saved=saved)
    assert all(node.calls() == [] for node in cluster.ssh.nodes.values())
    assert not (cluster.ssh.nodes["cp1"].root / "var/lib/kgit/hosts-apply.lock").exists()

    fresh = HostPlan.from_json(cluster.plan().to_json())
    cluster.document["spec"]["nodes"][2]["labels"] = {"a": "b"}
    with pytest.raises(StalePlanError, match="made for another out/hosts"):
        cluster.apply(saved=fresh)

    del cluster.document["spec"]["nodes"][2]["labels"]
    applied(cluster, saved=fresh)


def test_a_held_lock_stops_a_second_apply(make_cluster):
    cluster = make_cluster(THREE)
    lock = cluster.ssh.nodes["cp1"].root / "var/lib/kgit/hosts-apply.lock"
    lock.mkdir(parents=True)
    (lock / "holder").write_text("bob@ci pid 7 commit abc token 1\n")

    with pytest.raises(Exception, match=r"another host apply holds the lock on cp1 \(bob@ci"):
        cluster.apply()
    assert all(node.calls() == [] for node in cluster.ssh.nodes.values())


def test_join_secrets_reach_no_log_plan_history_file_or_argv(make_cluster, monkeypatch):
    made: list[str] = []
    real_token, real_key = apply_module.new_join_token, apply_module.new_certificate_key

    def token():
        value = real_token()
        made.append(value.value)
        return value

    def key():
        made.append(real_key())
        return made[-1]

    monkeypatch.setattr(apply_module, "new_join_token", token)
    monkeypatch.setattr(apply_module, "new_certificate_key", key)
    cluster = make_cluster(THREE)
    plan = cluster.plan()
    result, lines = applied(cluster)
    assert len(made) == 2 and re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", made[0])

    texts = {"progress": "\n".join(lines), "plan": plan.to_json(), "result": repr(result)}
    for path in Path(cluster.ssh.base).rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    argv = (cluster.ssh.cluster_state / "argv.log").read_text()
    assert "kubeadm join --config" in argv  # the shim did see the processes' argv
    for secret in made:
        leaks = [where for where, text in texts.items() if secret in text]
        assert leaks == [], leaks
    # the token's secret half neither (the id is public: it names the Secret)
    assert all(made[0].split(".")[1] not in text for text in texts.values())


def kgit(*args: str, cwd: Path, home: Path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1"}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(
        [sys.executable, "-m", "compiler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_plan_save_apply_and_converge(make_cluster, tmp_path):
    cluster = make_cluster(THREE)
    work = tmp_path / "repo"
    cluster.write_spec(work)
    home = tmp_path / "home"
    home.mkdir()
    known = ("--known-hosts", str(cluster.known_hosts))
    assert kgit("compile", cwd=work, home=home).returncode == 0

    plan = kgit(
        "hosts", "plan", *known, "--out", "hosts.plan", "--detailed-exitcode", cwd=work, home=home
    )

    assert plan.returncode == 2, plan.stderr
    assert "  cp1 (control-plane, first):\n    ~ provision kernel, runtime, packages\n" in (
        plan.stdout
    )
    assert "    + init: kubeadm init: /etc/kubernetes/admin.conf is missing\n" in plan.stdout
    assert plan.stdout.endswith(
        "3 node(s) to change, 0 unchanged (provision 3, init 1, node 3, join 2).\n"
    )
    assert oct((work / "hosts.plan").stat().st_mode & 0o777) == "0o600"

    done = kgit(
        "hosts",
        "apply",
        "hosts.plan",
        *known,
        "--kubeconfig-out",
        "admin.conf",
        cwd=work,
        home=home,
    )

    assert done.returncode == 0, done.stderr
    assert "[kgit hosts] w1: join ok" in done.stderr
    assert done.stdout.endswith("  cp1: done\n  cp2: done\n  w1: done\nHost apply complete.\n")
    assert (
        yaml.safe_load((work / "admin.conf").read_text())["clusters"][0]["cluster"]["server"]
        == cluster.api.url
    )
    assert oct((work / "admin.conf").stat().st_mode & 0o777) == "0o600"

    again = kgit("hosts", "plan", *known, "--detailed-exitcode", "-o", "json", cwd=work, home=home)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["nodes"][0]["actions"] == []

    # the saved plan was used up: the nodes changed since, so it is stale now
    stale = kgit("hosts", "apply", "hosts.plan", *known, cwd=work, home=home)
    assert stale.returncode == 1
    assert stale.stderr.startswith("error: the saved host plan is stale")

    cluster.document["spec"]["nodes"][2]["labels"] = {"ingress": "true"}
    cluster.write_spec(work)
    assert kgit("compile", cwd=work, home=home).returncode == 0
    unasked = kgit("hosts", "apply", *known, cwd=work, home=home)
    assert unasked.returncode == 1
    assert "error: refusing to apply without confirmation: not running in a terminal" in (
        unasked.stderr
    )
    assert "ingress" not in cluster.node_object("w1")["metadata"]["labels"]
    assert kgit("hosts", "apply", "--yes", *known, cwd=work, home=home).returncode == 0
    assert cluster.node_object("w1")["metadata"]["labels"]["ingress"] == "true"

    markdown = kgit("hosts", "plan", *known, "-o", "markdown", cwd=work, home=home)
    assert markdown.stdout.startswith("### Host plan for `t` (Kubernetes 1.31.4)\n\nNo changes")


def test_cli_refuses_an_unknown_host_with_one_line(make_cluster, tmp_path):
    cluster = make_cluster(THREE)
    work = tmp_path / "repo"
    cluster.write_spec(work)
    home = tmp_path / "home"
    home.mkdir()
    assert kgit("compile", cwd=work, home=home).returncode == 0
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")

    plan = kgit("hosts", "plan", "--known-hosts", str(empty), cwd=work, home=home)

    assert plan.returncode == 1
    lines = plan.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "error: node cp1",
        "node cp2",
        "node w1",
    ]
    assert "Traceback" not in plan.stderr


def test_two_control_planes_behind_a_vip(make_cluster):
    cluster = make_cluster(THREE)
    body = cluster.document["spec"]
    del body["kubernetes"]["controlPlaneEndpoint"]
    body["controlPlane"] = {"vip": {"address": "10.0.0.100", "interface": "eth0"}}

    applied(cluster)

    log = cluster.ssh.cluster_log()
    assert log.index("cp1: (kube-vip's static pod is in place before kubeadm init)") + 1 == (
        log.index("cp1: kubeadm init --config /etc/kubernetes/kgit/kubeadm.yaml")
    )
    manifest = "etc/kubernetes/manifests/kube-vip.yaml"
    first = yaml.safe_load((cluster.ssh.nodes["cp1"].root / manifest).read_text())
    second = yaml.safe_load((cluster.ssh.nodes["cp2"].root / manifest).read_text())
    assert first["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes/super-admin.conf"
    assert second["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes/admin.conf"
    assert not (cluster.ssh.nodes["w1"].root / manifest).exists()
    kubeadm = (cluster.ssh.nodes["cp2"].root / "etc/kubernetes/kgit/kubeadm.yaml").read_text()
    assert "apiServerEndpoint: 10.0.0.100:6443" in kubeadm
    assert not cluster.plan().has_changes()


def test_ssh_config_aliases_users_ports_and_keys_are_honoured(make_cluster, tmp_path, monkeypatch):
    import asyncio
    import copy

    from compiler.compile.render.hosts import render_hosts
    from compiler.hosts.apply import plan_hosts
    from compiler.hosts.inventory import build_inventory
    from tests.hosts_helpers import cluster_of

    cluster = make_cluster(THREE)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    config = "".join(
        f"Host lab-{name}\n  HostName {node.address}\n  Port {cluster.ssh.port}\n"
        f"  User root\n  IdentityFile {cluster.ssh.client_key}\n"
        for name, node in cluster.ssh.nodes.items()
    )
    (home / ".ssh/config").write_text(config)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    document = copy.deepcopy(cluster.document)
    for node in document["spec"]["nodes"]:
        node["ssh"] = {"host": f"lab-{node['name']}"}  # nothing else: the config says it
    parsed = cluster_of(document)
    files = {f.path: f.content.encode() for f in render_hosts(parsed)}
    inventory = build_inventory(parsed, files)

    plan, _ = asyncio.run(plan_hosts(inventory, cluster.options()))

    assert plan.has_changes()
    assert all(node.calls() == [] for node in cluster.ssh.nodes.values())  # read-only
