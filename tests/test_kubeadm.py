"""kubeadm.yaml per node, field by field, against ../shared/upstream/kubeadm-api-reference.md.

Every expected document below is written by hand from the reference: apiVersion by
Kubernetes version (v1beta3 before 1.31, v1beta4 from 1.31), extraArgs as a map (v1beta3)
or a list of {name, value} (v1beta4) for control-plane components AND kubeletExtraArgs,
taints always explicit (absent = control-plane taint; [] = none).
"""

from __future__ import annotations

import re

import pytest
import yaml

from compiler.compile.render.hosts import render_hosts
from compiler.compile.render.kubeadm import kubeadm_documents
from compiler.compile.warnings import spec_warnings
from compiler.core.versions import KubeVersion, pause_image_warning
from tests.hosts_helpers import cluster_of, spec

FULL = {
    "kubernetes": {
        "version": "1.31.4",
        "imageRepository": "registry.example/k8s",
        "controlPlaneEndpoint": "api.lab.example:6443",
        "clusterName": "lab",
        "featureGates": {"SomeGate": True, "OtherGate": False},
        "apiServer": {
            "extraArgs": {"audit-log-maxage": "30", "enable-admission-plugins": "NodeRestriction"}
        },
        "controllerManager": {"extraArgs": {"node-monitor-grace-period": "40s"}},
    },
    "runtime": {"name": "containerd"},
    "network": {
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/16",
        "dnsDomain": "lab.local",
        "kubeProxyMode": "ipvs",
    },
    "nodes": [
        {
            "name": "cp1",
            "address": "10.0.0.10",
            "role": "control-plane",
            "labels": {"zone": "a", "disk": "ssd"},
        },
        {"name": "cp2", "address": "10.0.0.11", "role": "control-plane", "schedulable": True},
        {
            "name": "w1",
            "address": "10.0.0.20",
            "role": "worker",
            "taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}],
        },
    ],
}


def documents(version: str, node: str, **overrides) -> list[dict]:
    body = {**FULL, "kubernetes": {**FULL["kubernetes"], "version": version}, **overrides}
    cluster = cluster_of(spec(**body))
    return kubeadm_documents(cluster, next(n for n in cluster.nodes if n.name == node))


def test_init_node_v1beta4_for_1_31():
    init, cluster_config, kubelet, proxy = documents("1.31.4", "cp1")
    assert init == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "InitConfiguration",
        "localAPIEndpoint": {"advertiseAddress": "10.0.0.10", "bindPort": 6443},
        "nodeRegistration": {
            "name": "cp1",
            "criSocket": "unix:///run/containerd/containerd.sock",
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            "kubeletExtraArgs": [{"name": "node-labels", "value": "disk=ssd,zone=a"}],
        },
    }
    gates = {"name": "feature-gates", "value": "OtherGate=false,SomeGate=true"}
    assert cluster_config == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": "v1.31.4",
        "clusterName": "lab",
        "controlPlaneEndpoint": "api.lab.example:6443",
        "imageRepository": "registry.example/k8s",
        "networking": {
            "podSubnet": "10.244.0.0/16",
            "serviceSubnet": "10.96.0.0/16",
            "dnsDomain": "lab.local",
        },
        "apiServer": {
            "extraArgs": [
                {"name": "audit-log-maxage", "value": "30"},
                {"name": "enable-admission-plugins", "value": "NodeRestriction"},
                gates,
            ]
        },
        "controllerManager": {
            "extraArgs": [gates, {"name": "node-monitor-grace-period", "value": "40s"}]
        },
        "scheduler": {"extraArgs": [gates]},
    }
    assert kubelet == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
        "featureGates": {"OtherGate": False, "SomeGate": True},
    }
    assert proxy == {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "ipvs",
        "clusterCIDR": "10.244.0.0/16",
        "featureGates": {"OtherGate": False, "SomeGate": True},
    }


def test_init_node_v1beta3_for_1_30_uses_maps_for_extra_args():
    init, cluster_config, _kubelet, _proxy = documents("1.30.8", "cp1")
    assert init["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert init["nodeRegistration"]["kubeletExtraArgs"] == {"node-labels": "disk=ssd,zone=a"}
    assert cluster_config["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert cluster_config["kubernetesVersion"] == "v1.30.8"
    assert cluster_config["apiServer"] == {
        "extraArgs": {
            "audit-log-maxage": "30",
            "enable-admission-plugins": "NodeRestriction",
            "feature-gates": "OtherGate=false,SomeGate=true",
        }
    }
    assert cluster_config["scheduler"] == {
        "extraArgs": {"feature-gates": "OtherGate=false,SomeGate=true"}
    }


@pytest.mark.parametrize("version", ["1.30.8", "1.31.4"])
def test_control_plane_join_has_placeholders_and_no_taint_when_schedulable(version):
    (join,) = documents(version, "cp2")
    api = "kubeadm.k8s.io/v1beta4" if version == "1.31.4" else "kubeadm.k8s.io/v1beta3"
    assert join == {
        "apiVersion": api,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": "api.lab.example:6443",
                "token": "${KGIT_JOIN_TOKEN}",
                "caCertHashes": ["${KGIT_CA_CERT_HASH}"],
            }
        },
        "nodeRegistration": {
            "name": "cp2",
            "criSocket": "unix:///run/containerd/containerd.sock",
            "taints": [],
        },
        "controlPlane": {
            "localAPIEndpoint": {"advertiseAddress": "10.0.0.11", "bindPort": 6443},
            "certificateKey": "${KGIT_CERT_KEY}",
        },
    }


def test_worker_join_keeps_its_own_taints_and_has_no_control_plane_section():
    (join,) = documents("1.31.4", "w1")
    assert "controlPlane" not in join
    assert join["nodeRegistration"]["taints"] == [
        {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}
    ]


def test_schedulable_init_node_registers_with_an_empty_taint_list():
    nodes = [dict(FULL["nodes"][0], schedulable=True), *FULL["nodes"][1:]]
    init = documents("1.31.4", "cp1", nodes=nodes)[0]
    assert init["nodeRegistration"]["taints"] == []


def test_kubeadm_yaml_keeps_an_empty_taint_list_on_the_wire():
    """yaml must say `taints: []`: an absent key would bring the control-plane taint back."""
    nodes = [dict(FULL["nodes"][0], schedulable=True), *FULL["nodes"][1:]]
    cluster = cluster_of(spec(**{**FULL, "nodes": nodes}))
    text = {f.path: f.content for f in render_hosts(cluster)}["hosts/cp1/kubeadm.yaml"]
    init = next(yaml.safe_load_all(text))
    assert init["nodeRegistration"]["taints"] == []
    assert "  taints: []\n" in text


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("1.29.3", {"NFTablesProxyMode": True}, id="1.29-alpha-gate"),
        pytest.param("1.30.8", {"NFTablesProxyMode": True}, id="1.30-alpha-gate"),
        pytest.param("1.31.4", None, id="1.31-on-by-default"),
    ],
)
def test_nftables_mode_turns_its_gate_on_where_needed(version, expected):
    network = {**FULL["network"], "kubeProxyMode": "nftables"}
    kubernetes = {**FULL["kubernetes"], "version": version, "featureGates": {}}
    if expected:  # validation asks for the gate in the spec before 1.31
        kubernetes["featureGates"] = {"NFTablesProxyMode": True}
    proxy = documents(version, "cp1", network=network, kubernetes=kubernetes)[3]
    assert proxy["mode"] == "nftables"
    assert proxy.get("featureGates") == expected


def test_ipvs_with_a_load_balancer_sets_strict_arp():
    ingress = {"nginx": {"exposure": "LoadBalancer"}}
    proxy = documents("1.31.4", "cp1", ingress=ingress)[3]
    assert proxy["ipvs"] == {"strictARP": True}


def test_crio_socket_and_kubelet_before_1_27_leaves_the_endpoint_to_kubeadm():
    kubernetes = {**FULL["kubernetes"], "version": "1.26.5", "featureGates": {}}
    kubelet = documents("1.26.5", "cp1", runtime={"name": "crio"}, kubernetes=kubernetes)[2]
    assert kubelet == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
    }
    init = documents("1.31.4", "cp1", runtime={"name": "crio"})[0]
    assert init["nodeRegistration"]["criSocket"] == "unix:///var/run/crio/crio.sock"


@pytest.mark.parametrize(
    ("minor", "pause"),
    [
        (24, "3.7"),
        (25, "3.8"),
        (26, "3.9"),
        (30, "3.9"),
        (31, "3.10"),
        (33, "3.10"),
        (34, "3.10.1"),
        (35, "3.10.1"),
    ],
)
def test_pause_versions_match_kubeadm_constants(minor, pause):
    # By hand from kubeadm's constants.PauseVersion of each release.
    assert KubeVersion(1, minor, 0).pause_version == pause


def test_derived_pause_image_agrees_with_kubeadm_and_is_in_the_runtime_config():
    cluster = cluster_of(spec(**FULL))
    assert cluster.runtime.pause_image == "registry.example/k8s/pause:3.10"
    files = {f.path: f.content for f in render_hosts(cluster)}
    toml = files["hosts/cp1/files/etc/containerd/config.toml"]
    assert '  sandbox = "registry.example/k8s/pause:3.10"\n' in toml
    assert not any("pauseImage" in w for w in spec_warnings(cluster))


def test_explicit_pause_image_with_another_tag_is_warned_about():
    runtime = {"name": "crio", "pauseImage": "mirror.example/pause:3.9"}
    cluster = cluster_of(spec(**{**FULL, "runtime": runtime}))
    assert (
        "spec.runtime.pauseImage mirror.example/pause:3.9 has tag 3.9, but kubeadm v1.31 "
        "expects pause:3.10: kubeadm's preflight will warn and the kubelet will pull a second "
        "pause image; use tag 3.10 or leave pauseImage out"
    ) in spec_warnings(cluster)
    assert pause_image_warning("mirror.example/pause:3.10", KubeVersion(1, 31, 4)) is None
    assert (
        pause_image_warning("mirror.example/pause@sha256:" + "0" * 64, KubeVersion(1, 31, 4))
        is None
    )


# --- every key kgit writes is one the reference documents for that apiVersion -------------

# By hand from the reference's "v1beta3: how it differs from v1beta4" section, and the keys
# v1beta4 removed (timeoutForControlPlane, discovery.timeout moved to timeouts.*).
V1BETA3_LACKS = {
    "timeouts",
    "dryRun",
    "extraEnvs",
    "proxy",
    "encryptionAlgorithm",
    "certificateValidityPeriod",
    "caCertificateValidityPeriod",
    "imagePullSerial",
    "httpEndpoints",
}
V1BETA4_LACKS = {"timeoutForControlPlane", "timeout"}
# Values that are maps of user-chosen names, not API keys.
FREE_MAPS = {"featureGates"}


def _section_keys(reference: str, start: str, end: str) -> set[str]:
    section = reference[reference.index(start) : reference.index(end)]
    spans = re.findall(r"`([^`]+)`", section)
    return {word for span in spans for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", span)}


def _keys(value, free_maps: set[str]):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            if key not in free_maps:
                yield from _keys(item, free_maps)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item, free_maps)


@pytest.mark.parametrize("version", ["1.30.8", "1.31.4"])
def test_every_key_written_is_in_the_reference_for_its_api_version(upstream, version):
    reference = (upstream / "kubeadm-api-reference.md").read_text()
    kubeadm_keys = _section_keys(reference, "## kubeadm.k8s.io/v1beta4", "## KubeletConfiguration")
    allowed = {
        "kubeadm": kubeadm_keys - (V1BETA3_LACKS if version == "1.30.8" else V1BETA4_LACKS),
        "kubelet": _section_keys(reference, "## KubeletConfiguration", "## KubeProxyConfiguration"),
        "kubeproxy": _section_keys(reference, "## KubeProxyConfiguration", "## Pod CIDR"),
    }
    # v1beta3's extraArgs/kubeletExtraArgs are maps of flag names; v1beta4's are lists.
    free = FREE_MAPS | ({"extraArgs", "kubeletExtraArgs"} if version == "1.30.8" else set())
    ingress = {"nginx": {"exposure": "LoadBalancer"}}  # so that ipvs.strictARP is written
    written = [
        doc for node in ("cp1", "cp2", "w1") for doc in documents(version, node, ingress=ingress)
    ]
    assert {doc["kind"] for doc in written} == {
        "InitConfiguration",
        "ClusterConfiguration",
        "JoinConfiguration",
        "KubeletConfiguration",
        "KubeProxyConfiguration",
    }
    for doc in written:
        group = doc["apiVersion"].split(".")[0]
        unknown = set(_keys(doc, free)) - allowed[group] - {"apiVersion", "kind"}
        assert unknown == set(), (doc["kind"], version)
