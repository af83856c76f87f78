"""kgit's host half against a real OpenSSH server: plan -> apply -> plan converges.

Each test gets test nodes behind one sshd (tests/ssh_nodes.py) whose kubeadm shim talks to
the in-repo test API server, so labels, drains and bootstrap tokens are real API calls.
"""

from __future__ import annotations

import pytest
import yaml

from tests.apiserver import start_server
from tests.apiserver.kubeconfig import kubeconfig_dict
from tests.hosts_ssh_support import TestCluster, node_spec
from tests.ssh_nodes import SshNodes, sshd_available

pytestmark = pytest.mark.skipif(sshd_available() is not None, reason=str(sshd_available()))

THREE = [("cp1", "control-plane"), ("cp2", "control-plane"), ("w1", "worker")]


@pytest.fixture
def make_cluster(tmp_path):
    started: list[tuple[SshNodes, object]] = []

    def make(nodes, **spec_extra) -> TestCluster:
        api = start_server()
        names = [n for n, _ in nodes] + spec_extra.pop("spare", [])
        ssh = SshNodes(
            tmp_path / "sshd",
            names,
            admin_kubeconfig=yaml.safe_dump(kubeconfig_dict(api.url)),
        ).start()
        started.append((ssh, api))
        return TestCluster(ssh, api, tmp_path, node_spec(nodes, **spec_extra))

    yield make
    for ssh, api in started:
        ssh.stop()
        api.stop()


def test_fresh_three_node_cluster_converges(make_cluster):
    cluster = make_cluster(THREE)

    plan = cluster.plan()
    assert [n.kinds() for n in plan.nodes] == [
        ("provision", "init", "node"),
        ("provision", "join", "node"),
        ("provision", "join", "node"),
    ]

    result, lines = cluster.apply()
    assert result.ok, lines
    assert [o.status for o in result.outcomes] == ["done", "done", "done"]

    again = cluster.plan()
    assert not again.has_changes(), again
