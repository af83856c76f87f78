# ruff: noqa: E501  (expected messages are asserted exactly, and they are long lines)
"""kgit validate on the host fields (ssh, upgrade, certSANs, a node's runtime): the exact
``file:line:col: message`` of each mistake, checked by hand against the spec text; and the
hostile values (option-like hosts, shell text in a user name) refused before any SSH."""

from __future__ import annotations

import pytest

from tests.test_validate import MINIMAL, _validate

assert MINIMAL  # the spec every case mutates

CASES = [
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    username: root\n',
        ["cluster.yaml:13:5: spec.ssh: unknown key 'username'; did you mean 'user'?"],
        id="ssh-unknown-key",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    port: 70000\n',
        ["cluster.yaml:13:11: spec.ssh.port: 70000 must be at most 65535"],
        id="ssh-port-range",
    ),
    pytest.param(
        "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: \"1.31.4\"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    user: 'root; rm -rf /'\n",
        [
            "cluster.yaml:13:11: spec.ssh.user: 'root; rm -rf /' is not valid: expected a login name such as root or debian (lowercase letters, digits, '_' or '-')"
        ],
        id="ssh-user-hostile",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    host: 10.0.0.1\n',
        [
            "cluster.yaml:13:5: spec.ssh: unknown key 'host' (allowed: bastion, identityFile, port, user)"
        ],
        id="ssh-host-on-cluster",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n      ssh:\n        host: -oProxyCommand=sh\n',
        [
            "cluster.yaml:13:15: spec.nodes[0].ssh.host: '-oProxyCommand=sh' is not valid: expected a host name, IP address or ~/.ssh/config Host alias"
        ],
        id="node-ssh-host-dash",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n      ssh:\n        hostKey: ssh-dss AAAA\n',
        [
            "cluster.yaml:13:18: spec.nodes[0].ssh.hostKey: 'ssh-dss AAAA' is not valid: expected a public key such as \"ssh-ed25519 AAAAC3Nza...\" (type and base64, no comment)"
        ],
        id="node-ssh-hostkey",
    ),
    pytest.param(
        "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: \"1.31.4\"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    bastion: 'a b'\n",
        [
            "cluster.yaml:13:14: spec.ssh.bastion: 'a b' is not valid: expected [user@]host[:port], such as admin@bastion.example:22"
        ],
        id="bastion-bad",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    bastion: admin@jump.example:99999\n',
        ["cluster.yaml:13:14: spec.ssh.bastion: port 99999 is outside 1-65535"],
        id="bastion-port",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  ssh:\n    identityFile: "a\\nb"\n',
        [
            "cluster.yaml:13:19: spec.ssh.identityFile: 'a\\nb' is not valid: expected a path such as ~/.ssh/id_ed25519"
        ],
        id="identity-newline",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n      runtime: docker\n',
        ["cluster.yaml:12:16: spec.nodes[0].runtime: 'docker' is not one of: crio, containerd"],
        id="node-runtime",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n    certSANs: [api.example, API.example]\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n',
        [
            "cluster.yaml:8:29: spec.kubernetes.certSANs[1]: duplicate certSAN 'API.example' (also certSANs[0])"
        ],
        id="certsans-dup",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n    certSANs: ["a b"]\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n',
        [
            "cluster.yaml:8:16: spec.kubernetes.certSANs[0]: 'a b' is not valid: expected a DNS name (optionally *.wildcard) or an IP address"
        ],
        id="certsans-bad",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  upgrade:\n    maxUnavailable: 0\n',
        ["cluster.yaml:13:21: spec.upgrade.maxUnavailable: 0 must be at least 1"],
        id="upgrade-zero",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  upgrade:\n    maxSurge: 1\n',
        [
            "cluster.yaml:13:5: spec.upgrade: unknown key 'maxSurge' (allowed: drainTimeoutSeconds, maxUnavailable)"
        ],
        id="upgrade-unknown",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  upgrade:\n    drainTimeoutSeconds: "5m"\n',
        [
            "cluster.yaml:13:26: spec.upgrade.drainTimeoutSeconds: must be a whole number, not a string"
        ],
        id="upgrade-drain",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  controlPlane:\n    vip: {address: 192.168.10.100}\n',
        ["cluster.yaml:13:5: spec.controlPlane.vip: missing required key 'interface'"],
        id="vip-missing-interface",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  controlPlane:\n    vip: {address: 192.168.10.10, interface: eth0}\n',
        [
            "cluster.yaml:13:20: spec.controlPlane.vip.address: 192.168.10.10 is the address of spec.nodes[0]; a VIP must be free"
        ],
        id="vip-is-a-node-address",
    ),
    pytest.param(
        'apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: "1.31.4"\n    controlPlaneEndpoint: 192.168.10.5:6443\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  controlPlane:\n    vip: {address: 192.168.10.100, interface: eth0}\n',
        [
            "cluster.yaml:8:27: spec.kubernetes.controlPlaneEndpoint: '192.168.10.5:6443' is not the VIP 192.168.10.100 (spec.controlPlane.vip): with a VIP, leave controlPlaneEndpoint out or point it at the VIP"
        ],
        id="vip-not-the-endpoint",
    ),
    pytest.param(
        "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: \"1.31.4\"\n  nodes:\n    - name: cp-1\n      address: 192.168.10.10\n      role: control-plane\n  controlPlane:\n    vip: {address: 192.168.10.100, interface: 'eth0; reboot'}\n",
        [
            "cluster.yaml:13:47: spec.controlPlane.vip.interface: 'eth0; reboot' is not valid: expected an interface name such as eth0: at most 15 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
        ],
        id="vip-interface-hostile",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_host_field_mistakes_are_reported_at_their_position(
    tmp_path, monkeypatch, capsys, text, expected
):
    code, errors, out = _validate(tmp_path, monkeypatch, capsys, text)
    assert errors == [f"error: {line}" for line in expected] + ["1 error found"]
    assert (code, out) == (1, "")
