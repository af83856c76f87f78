"""The host fields of the spec, from cluster.yaml to what kgit renders and connects with:
certSANs, a node's own runtime, ssh settings (node over cluster, key by key), the upgrade
policy, and the warning for Debian's own containerd."""

from __future__ import annotations

import yaml

from compiler.compile.render.hosts import render_node
from compiler.compile.warnings import spec_warnings
from compiler.hosts.inventory import SshSettings, build_inventory
from tests.hosts_helpers import cluster_of, spec

NODES = [
    {"name": "cp1", "address": "10.0.0.10", "role": "control-plane"},
    {
        "name": "w1",
        "address": "10.0.0.20",
        "role": "worker",
        "runtime": "containerd",
        "ssh": {"host": "w1.mgmt.example", "port": 2222, "hostKey": "ssh-ed25519 AAAAC3Nz"},
    },
]


def documents(cluster, name):
    node = next(n for n in cluster.nodes if n.name == name)
    files = {f.path: f.content for f in render_node(cluster, node)}
    return files, list(yaml.safe_load_all(files[f"hosts/{name}/kubeadm.yaml"]))


def test_cert_sans_go_into_the_api_server_section_with_its_extra_args():
    cluster = cluster_of(
        spec(
            kubernetes={
                "version": "1.31.4",
                "controlPlaneEndpoint": "10.0.0.10:6443",
                "certSANs": ["api.example", "10.0.0.100"],
                "apiServer": {"extraArgs": {"audit-log-maxage": "30"}},
            }
        )
    )
    _, docs = documents(cluster, "cp1")
    api_server = docs[1]["apiServer"]
    assert api_server == {
        "certSANs": ["api.example", "10.0.0.100"],
        "extraArgs": [{"name": "audit-log-maxage", "value": "30"}],
    }


def test_a_node_with_its_own_runtime_gets_that_runtime_and_its_socket():
    cluster = cluster_of(spec(nodes=NODES))  # spec() defaults to CRI-O
    files, docs = documents(cluster, "w1")
    assert docs[0]["nodeRegistration"]["criSocket"] == "unix:///run/containerd/containerd.sock"
    script = files["hosts/w1/provision.sh"]
    assert "readonly RUNTIME_PACKAGE=containerd\n" in script
    assert "hosts/w1/files/etc/containerd/config.toml" in files
    assert not any("crio" in path for path in files)
    _, cp_docs = documents(cluster, "cp1")
    assert cp_docs[0]["nodeRegistration"]["criSocket"] == "unix:///var/run/crio/crio.sock"


def test_debian_containerd_with_config_format_3_is_warned_about():
    cluster = cluster_of(spec(nodes=NODES))
    assert spec_warnings(cluster)[-1] == (
        "node(s) w1 get Debian's own containerd (1.6 on Debian 12, 1.7 on Debian 13), which "
        "cannot read config format 3 (containerd 2.x); provision.sh would stop at the runtime "
        "phase: set spec.runtime.containerdConfigVersion: 2"
    )
    format_2 = cluster_of(spec(nodes=NODES, runtime={"name": "crio", "containerdConfigVersion": 2}))
    assert not any("containerd" in w for w in spec_warnings(format_2))


def test_ssh_settings_take_the_node_over_the_cluster_default_key_by_key():
    cluster = cluster_of(
        spec(
            nodes=NODES,
            ssh={
                "user": "debian",
                "port": 22,
                "identityFile": "~/.ssh/lab",
                "bastion": "ops@jump.example:2200",
            },
            upgrade={"maxUnavailable": 3, "drainTimeoutSeconds": 60},
        )
    )
    files = {f.path: f.content.encode() for n in cluster.nodes for f in render_node(cluster, n)}
    inventory = build_inventory(cluster, files)
    jump = SshSettings(host="jump.example", port=2200, user="ops")
    assert inventory.node("cp1").ssh == SshSettings(
        host="10.0.0.10", port=22, user="debian", identity_file="~/.ssh/lab", bastion=jump
    )
    assert inventory.node("w1").ssh == SshSettings(
        host="w1.mgmt.example",
        port=2222,
        user="debian",
        identity_file="~/.ssh/lab",
        bastion=jump,
        host_key="ssh-ed25519 AAAAC3Nz",
    )
    assert (inventory.policy.max_unavailable, inventory.policy.drain_timeout) == (3, 60)
    # the control-plane taint kubeadm registers is one kgit keeps on the Node
    assert inventory.node("cp1").taints == (
        ("node-role.kubernetes.io/control-plane", "", "NoSchedule"),
    )


def test_the_kube_vip_pod_is_a_valid_pod_on_control_planes_only():
    import kubernetes_validate

    cluster = cluster_of(
        spec(
            kubernetes={"version": "1.31.4"},
            controlPlane={"vip": {"address": "10.0.0.100", "interface": "bond0.10"}},
        )
    )
    files = {f.path: f.content for n in cluster.nodes for f in render_node(cluster, n)}
    path = "files/etc/kubernetes/manifests/kube-vip.yaml"
    assert sorted(p for p in files if p.endswith(path)) == [
        f"hosts/cp1/{path}",
        f"hosts/cp2/{path}",
    ]
    for name in ("cp1", "cp2"):
        pod = yaml.safe_load(files[f"hosts/{name}/{path}"])
        kubernetes_validate.validate(pod, "1.31", strict=True)
        env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
        assert (env["address"], env["vip_interface"], env["cp_enable"]) == (
            "10.0.0.100",
            "bond0.10",
            "true",
        )
    _, docs = documents(cluster, "cp1")
    assert docs[1]["controlPlaneEndpoint"] == "10.0.0.100:6443"
