# ruff: noqa: E501  (expected messages are asserted exactly, and they are long lines)
"""kgit validate on invalid specs: the exact ``file:line:col: message`` of each mistake.

Each spec is the minimal valid spec below with one mutation (a few add a section first).
Every expected message was checked by hand: it points at the offending key or value and
says what is wrong in plain words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.cli.app import main

MINIMAL = """\
apiVersion: kgit.dev/v1alpha1
kind: Cluster
metadata:
  name: lab
spec:
  kubernetes:
    version: "1.31.4"
  nodes:
    - name: cp-1
      address: 192.168.10.10
      role: control-plane
"""


def sub(old: str, new: str) -> str:
    assert MINIMAL.count(old) == 1, old
    return MINIMAL.replace(old, new)


def add(fragment: str) -> str:
    """Append lines under spec (fragment is indented by two spaces already); line 12 onward."""
    return MINIMAL + fragment


APP = "  apps:\n    - name: web\n      image: nginx:1.25\n"  # lines 12-14

INVALID_SPECS = [
    pytest.param(
        sub("kgit.dev/v1alpha1", "v1"),
        [
            "cluster.yaml:1:13: apiVersion: must be 'kgit.dev/v1alpha1', not 'v1'",
        ],
        id="wrong-api-version",
    ),
    pytest.param(
        sub("kind: Cluster", "kind: Clutser"),
        [
            "cluster.yaml:2:7: kind: must be 'Cluster', not 'Clutser'",
        ],
        id="wrong-kind",
    ),
    pytest.param(
        sub("  name: lab\n", "  labels: {}\n"),
        [
            "cluster.yaml:3:1: metadata: missing required key 'name'",
            "cluster.yaml:4:3: metadata: unknown key 'labels' (allowed: name)",
        ],
        id="missing-metadata-name",
    ),
    pytest.param(
        MINIMAL + "status: {}\n",
        [
            "cluster.yaml:12:1: unknown key 'status' (allowed: apiVersion, kind, metadata, spec)",
        ],
        id="unknown-top-level-key",
    ),
    pytest.param(
        sub("    version:", "    verison:"),
        [
            "cluster.yaml:7:5: spec.kubernetes: unknown key 'verison'; did you mean 'version'?",
        ],
        id="misspelled-key-did-you-mean",
    ),
    pytest.param(
        sub(
            """  nodes:
    - name: cp-1
      address: 192.168.10.10
      role: control-plane
""",
            "",
        ),
        [
            "cluster.yaml:5:1: spec: missing required key 'nodes'",
        ],
        id="missing-nodes",
    ),
    pytest.param(
        sub(
            """  nodes:
    - name: cp-1
      address: 192.168.10.10
      role: control-plane
""",
            "  nodes: []\n",
        ),
        [
            "cluster.yaml:8:10: spec.nodes: needs at least 1 item",
        ],
        id="empty-node-list",
    ),
    pytest.param(
        sub('"1.31.4"', "1.31"),
        [
            "cluster.yaml:7:14: spec.kubernetes.version: must be a string, not a decimal number (quote values such as yes, on, 1.30 or 2024-01-01 to keep them strings)",
        ],
        id="version-unquoted-float",
    ),
    pytest.param(
        sub('"1.31.4"', '"1.31"'),
        [
            "cluster.yaml:7:14: spec.kubernetes.version: '1.31' is not valid: expected a full version such as \"1.31.4\" (quoted)",
        ],
        id="version-not-full",
    ),
    pytest.param(
        sub('"1.31.4"', '"1.23.9"'),
        [
            "cluster.yaml:7:14: spec.kubernetes.version: Kubernetes 1.23.9 is not supported (supported: 1.24 to 1.36)",
        ],
        id="version-too-old",
    ),
    pytest.param(
        sub('"1.31.4"', '"1.40.0"'),
        [
            "cluster.yaml:7:14: spec.kubernetes.version: Kubernetes 1.40.0 is not supported (supported: 1.24 to 1.36)",
        ],
        id="version-too-new",
    ),
    pytest.param(
        sub("cp-1", "CP_1"),
        [
            "cluster.yaml:9:13: spec.nodes[0].name: 'CP_1' is not valid: expected a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters",
        ],
        id="node-name-uppercase",
    ),
    pytest.param(
        sub("192.168.10.10", "192.168.10.300"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: '192.168.10.300' is not a valid IP address",
        ],
        id="node-address-not-ip",
    ),
    pytest.param(
        sub("192.168.10.10", "127.0.0.1"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 127.0.0.1 is a loopback address; a node needs a routable address",
        ],
        id="node-address-loopback",
    ),
    pytest.param(
        sub("192.168.10.10", "10.244.1.5"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 10.244.1.5 is inside podSubnet 10.244.0.0/16",
        ],
        id="node-address-in-pod-subnet",
    ),
    pytest.param(
        sub("192.168.10.10", "10.96.0.10"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 10.96.0.10 is inside serviceSubnet 10.96.0.0/12",
        ],
        id="node-address-in-service-subnet",
    ),
    pytest.param(
        sub("role: control-plane", "role: controlplane"),
        [
            "cluster.yaml:11:13: spec.nodes[0].role: 'controlplane' is not one of: control-plane, worker; did you mean 'control-plane'?",
        ],
        id="node-role-typo",
    ),
    pytest.param(
        sub("role: control-plane", "role: worker"),
        [
            "cluster.yaml:8:3: spec.nodes: at least one node must have role control-plane (it runs kubeadm init)",
        ],
        id="no-control-plane",
    ),
    pytest.param(
        add("    - name: cp-1\n      address: 192.168.10.11\n      role: worker\n"),
        [
            "cluster.yaml:12:13: spec.nodes[1].name: duplicate node name 'cp-1' (also nodes[0])",
        ],
        id="duplicate-node-name",
    ),
    pytest.param(
        add("    - name: w-1\n      address: 192.168.10.10\n      role: worker\n"),
        [
            "cluster.yaml:13:16: spec.nodes[1].address: duplicate node address 192.168.10.10 (also nodes[0])",
        ],
        id="duplicate-node-address",
    ),
    pytest.param(
        add("    - name: cp-2\n      address: 192.168.10.11\n      role: control-plane\n"),
        [
            "cluster.yaml:14:13: spec.nodes[1].role: a second control-plane node needs spec.kubernetes.controlPlaneEndpoint (a load-balanced address for the API servers) or spec.controlPlane.vip",
        ],
        id="second-control-plane-without-endpoint",
    ),
    pytest.param(
        add(
            "    - name: w-1\n      address: 192.168.10.11\n      role: worker\n      schedulable: true\n"
        ),
        [
            "cluster.yaml:15:7: spec.nodes[1].schedulable: applies to control-plane nodes only",
        ],
        id="schedulable-on-worker",
    ),
    pytest.param(
        add('      labels:\n        node-role.kubernetes.io/worker: ""\n'),
        [
            "cluster.yaml:13:9: spec.nodes[0].labels[\"node-role.kubernetes.io/worker\"]: the kubelet may not set label 'node-role.kubernetes.io/worker' on its own node (labels under kubernetes.io/ and k8s.io/ are reserved); use your own prefix",
        ],
        id="reserved-node-label",
    ),
    pytest.param(
        add("      labels:\n        ingress: yes\n"),
        [
            "cluster.yaml:13:18: spec.nodes[0].labels.ingress: must be a string, not a boolean (quote values such as yes, on, 1.30 or 2024-01-01 to keep them strings)",
        ],
        id="bad-label-value",
    ),
    pytest.param(
        add('      labels:\n        "bad key": x\n'),
        [
            "cluster.yaml:13:9: spec.nodes[0].labels: key 'bad key' is not valid: expected a key such as app or example.com/role: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
        ],
        id="bad-label-key",
    ),
    pytest.param(
        add("      taints:\n        - {key: dedicated}\n"),
        [
            "cluster.yaml:13:11: spec.nodes[0].taints[0]: missing required key 'effect'",
        ],
        id="taint-missing-effect",
    ),
    pytest.param(
        add(
            "      taints:\n        - {key: a, effect: NoSchedule}\n        - {key: a, effect: NoSchedule}\n"
        ),
        [
            "cluster.yaml:14:11: spec.nodes[0].taints[1]: duplicate taint a:NoSchedule (also taints[0])",
        ],
        id="duplicate-taint",
    ),
    pytest.param(
        add("  network:\n    podSubnet: 10.244.1.0/16\n"),
        [
            "cluster.yaml:13:16: spec.network.podSubnet: 10.244.1.0/16 has host bits set; the network is 10.244.0.0/16 (write that, or a larger prefix)",
        ],
        id="cidr-host-bits",
    ),
    pytest.param(
        add("  network:\n    podSubnet: 10.244.0.0/33\n"),
        [
            "cluster.yaml:13:16: spec.network.podSubnet: '10.244.0.0/33' is not a valid CIDR such as 10.244.0.0/16",
        ],
        id="cidr-garbage",
    ),
    pytest.param(
        add("  network:\n    serviceSubnet: 10.244.128.0/20\n"),
        [
            "cluster.yaml:13:20: spec.network.serviceSubnet: 10.244.128.0/20 overlaps podSubnet 10.244.0.0/16",
        ],
        id="subnets-overlap",
    ),
    pytest.param(
        add("  network:\n    serviceSubnet: 10.0.0.0/8\n"),
        [
            "cluster.yaml:13:20: spec.network.serviceSubnet: 10.0.0.0/8 is too large: kubeadm allows at most /12 for IPv4 (1048576 addresses)",
            "cluster.yaml:13:20: spec.network.serviceSubnet: 10.0.0.0/8 overlaps podSubnet 10.244.0.0/16",
        ],
        id="service-subnet-too-large",
    ),
    pytest.param(
        add("  network:\n    podSubnet: 10.244.0.0/25\n"),
        [
            "cluster.yaml:13:16: spec.network.podSubnet: 10.244.0.0/25 is smaller than one node's share (/24); use a larger subnet",
        ],
        id="pod-subnet-too-small",
    ),
    pytest.param(
        add("  network:\n    serviceSubnet: fd00:10:96::/112\n"),
        [
            "cluster.yaml:13:20: spec.network.serviceSubnet: fd00:10:96::/112 is IPv6 but podSubnet 10.244.0.0/16 is IPv4; kgit builds single-stack clusters, use one family",
        ],
        id="mixed-ip-families",
    ),
    pytest.param(
        sub("192.168.10.10", "fd00::10"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: fd00::10 is IPv6 but podSubnet 10.244.0.0/16 is IPv4; nodes and subnets must use one IP family",
        ],
        id="node-family-differs",
    ),
    pytest.param(
        sub('"1.31.4"', '"1.28.3"') + "  network:\n    kubeProxyMode: nftables\n",
        [
            "cluster.yaml:13:20: spec.network.kubeProxyMode: nftables needs Kubernetes 1.29 or newer, not 1.28.3",
        ],
        id="nftables-too-old",
    ),
    pytest.param(
        sub('"1.31.4"', '"1.30.2"') + "  network:\n    kubeProxyMode: nftables\n",
        [
            "cluster.yaml:13:20: spec.network.kubeProxyMode: nftables is alpha in Kubernetes 1.30: set spec.kubernetes.featureGates.NFTablesProxyMode: true, or use 1.31 or newer",
        ],
        id="nftables-alpha-without-gate",
    ),
    pytest.param(
        add("  network:\n    kubeProxyMode: ipvs2\n"),
        [
            "cluster.yaml:13:20: spec.network.kubeProxyMode: 'ipvs2' is not one of: iptables, ipvs, nftables; did you mean 'ipvs'?",
        ],
        id="kube-proxy-mode-typo",
    ),
    pytest.param(
        add("  runtime:\n    name: cri-o\n"),
        [
            "cluster.yaml:13:11: spec.runtime.name: 'cri-o' is not one of: crio, containerd; did you mean 'crio'?",
        ],
        id="runtime-name-typo",
    ),
    pytest.param(
        add("  runtime:\n    pauseImage: Registry.example/Pause:3.10\n"),
        [
            "cluster.yaml:13:17: spec.runtime.pauseImage: 'Registry.example/Pause:3.10' is not a valid image reference: the repository path must be lowercase ('Pause')",
        ],
        id="pause-image-uppercase",
    ),
    pytest.param(
        add(
            "  runtime:\n    registryMirrors:\n      - registry: docker.io\n        endpoints: [mirror.example]\n"
        ),
        [
            "cluster.yaml:15:21: spec.runtime.registryMirrors[0].endpoints[0]: 'mirror.example' is not valid: expected an http(s) URL such as https://mirror.example",
        ],
        id="mirror-endpoint-not-url",
    ),
    pytest.param(
        add(
            "  runtime:\n    registryMirrors:\n      - {registry: docker.io, endpoints: ['https://a.example']}\n      - {registry: docker.io, endpoints: ['https://b.example']}\n"
        ),
        [
            "cluster.yaml:15:20: spec.runtime.registryMirrors[1].registry: registry docker.io is already mirrored by registryMirrors[0]",
        ],
        id="duplicate-mirror",
    ),
    pytest.param(
        sub(
            '    version: "1.31.4"\n',
            '    version: "1.31.4"\n    controlPlaneEndpoint: api.lab.example:70000\n',
        ),
        [
            "cluster.yaml:8:27: spec.kubernetes.controlPlaneEndpoint: port 70000 is outside 1-65535",
        ],
        id="control-plane-endpoint-bad-port",
    ),
    pytest.param(
        sub(
            '    version: "1.31.4"\n',
            '    version: "1.31.4"\n    featureGates: {SomeGate: "yes"}\n',
        ),
        [
            "cluster.yaml:8:30: spec.kubernetes.featureGates.SomeGate: must be true or false, not a string",
        ],
        id="feature-gate-not-bool",
    ),
    pytest.param(
        sub(
            '    version: "1.31.4"\n',
            '    version: "1.31.4"\n    apiServer:\n      extraArgs: {Audit-Log: x}\n',
        ),
        [
            "cluster.yaml:9:19: spec.kubernetes.apiServer.extraArgs: key 'Audit-Log' is not valid: expected a flag name without the leading --, such as audit-log-maxage",
        ],
        id="extra-args-uppercase-flag",
    ),
    pytest.param(
        add("  apps:\n    - name: web\n"),
        [
            "cluster.yaml:13:7: spec.apps[0]: missing required key 'image'",
        ],
        id="app-missing-image",
    ),
    pytest.param(
        add("  apps:\n    - name: 1web\n      image: nginx:1.25\n"),
        [
            "cluster.yaml:13:13: spec.apps[0].name: '1web' is not valid: expected a DNS-1035 label (it names a Service): lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters",
        ],
        id="app-name-starts-with-digit",
    ),
    pytest.param(
        add("  apps:\n    - name: web\n      image: Nginx:1.25\n"),
        [
            "cluster.yaml:14:14: spec.apps[0].image: 'Nginx:1.25' is not a valid image reference: the repository path must be lowercase ('Nginx')",
        ],
        id="image-uppercase-path",
    ),
    pytest.param(
        add("  apps:\n    - name: web\n      image: nginx@sha256:abc\n"),
        [
            "cluster.yaml:14:14: spec.apps[0].image: 'nginx@sha256:abc' is not a valid image reference: the digest 'sha256:abc' must end in at least 32 hexadecimal digits",
        ],
        id="image-bad-digest",
    ),
    pytest.param(
        add("  apps:\n    - name: web\n      image: nginx:" + "a" * 129 + "\n"),
        [
            "cluster.yaml:14:14: spec.apps[0].image: 'nginx:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is not a valid image reference: the tag is 129 characters long; at most 128 are allowed",
        ],
        id="image-tag-too-long",
    ),
    pytest.param(
        add("  apps:\n    - name: web\n      image: registry.example//nginx:1\n"),
        [
            "cluster.yaml:14:14: spec.apps[0].image: 'registry.example//nginx:1' is not a valid image reference: the name has an empty path component ('//' or a trailing '/')",
        ],
        id="image-empty-path-component",
    ),
    pytest.param(
        add(APP + "    - name: web\n      image: nginx:1.26\n"),
        [
            "cluster.yaml:15:13: spec.apps[1].name: duplicate app 'web' in namespace 'default' (also apps[0])",
        ],
        id="duplicate-app",
    ),
    pytest.param(
        add(APP + "  externalServices:\n    - name: web\n      externalName: web.example\n"),
        [
            "cluster.yaml:13:13: spec.apps[0].name: externalServices[0] already defines a Service 'web' in namespace 'default'",
        ],
        id="app-clashes-with-external-service",
    ),
    pytest.param(
        add(APP + "      ports: [70000]\n"),
        [
            "cluster.yaml:15:15: spec.apps[0].ports[0]: 70000 must be at most 65535",
        ],
        id="port-out-of-range",
    ),
    pytest.param(
        add(APP + '      ports: ["80"]\n'),
        [
            "cluster.yaml:15:15: spec.apps[0].ports[0]: must be a whole number or a mapping, not a string",
        ],
        id="port-as-string",
    ),
    pytest.param(
        add(APP + "      ports: [{containerPort: 80, hostPort: 80}]\n"),
        [
            "cluster.yaml:15:35: spec.apps[0].ports[0]: unknown key 'hostPort' (allowed: containerPort, name, protocol, servicePort)",
        ],
        id="port-unknown-key",
    ),
    pytest.param(
        add(APP + "      ports: [80, {containerPort: 80}]\n"),
        [
            "cluster.yaml:15:19: spec.apps[0].ports[1]: port 80/TCP is listed twice (also ports[0])",
        ],
        id="duplicate-port",
    ),
    pytest.param(
        add(
            APP
            + "      env:\n        - name: A\n          value: x\n          valueFrom: {secretKeyRef: {name: s, key: k}}\n"
        ),
        [
            "cluster.yaml:16:11: spec.apps[0].env[0]: set either value or valueFrom, not both",
        ],
        id="env-value-and-value-from",
    ),
    pytest.param(
        add(APP + "      env:\n        - name: A\n"),
        [
            "cluster.yaml:16:11: spec.apps[0].env[0]: needs either value or valueFrom",
        ],
        id="env-neither",
    ),
    pytest.param(
        add(APP + "      hostAliases:\n        - {ip: 10.1.2, hostnames: [foo.local]}\n"),
        [
            "cluster.yaml:16:16: spec.apps[0].hostAliases[0].ip: '10.1.2' is not a valid IP address",
        ],
        id="host-alias-bad-ip",
    ),
    pytest.param(
        add(APP + "      ingress: {host: web.lab.example}\n"),
        [
            "cluster.yaml:15:7: spec.apps[0].ingress: needs ports: the Ingress routes to the app's Service, which exists only when ports are set",
        ],
        id="ingress-without-ports",
    ),
    pytest.param(
        add(
            APP + "      ports: [{containerPort: 53, protocol: UDP}]\n"
            "      ingress: {host: web.lab.example}\n"
        ),
        [
            "cluster.yaml:16:7: spec.apps[0].ingress: needs a TCP port: the Ingress routes HTTP to the app's first TCP port",
        ],
        id="ingress-without-tcp-port",
    ),
    pytest.param(
        add(APP + "      ports: [80]\n      ingress: {host: 10.0.0.1}\n"),
        [
            "cluster.yaml:16:23: spec.apps[0].ingress.host: must be a DNS name, not the IP address 10.0.0.1",
        ],
        id="ingress-host-is-ip",
    ),
    pytest.param(
        add(
            APP
            + "      ports: [80]\n      ingress: {host: web.example, tlsSecret: web-tls}\n  secrets:\n    - {name: web-tls, fromEnv: {tls.crt: CRT, tls.key: KEY}}\n"
        ),
        [
            "cluster.yaml:16:47: spec.apps[0].ingress.tlsSecret: secret 'web-tls' must have type kubernetes.io/tls to hold a certificate",
        ],
        id="ingress-tls-secret-wrong-type",
    ),
    pytest.param(
        add(
            APP
            + "      ports: [80]\n      ingress: {host: web.example}\n    - name: api\n      image: api:1\n      ports: [80]\n      ingress: {host: web.example}\n"
        ),
        [
            "cluster.yaml:20:16: spec.apps[1].ingress.path: web.example/ is already routed to apps[0]",
        ],
        id="duplicate-ingress-route",
    ),
    pytest.param(
        add(APP + "      overlays: [patches/web.yaml]\n"),
        [
            "cluster.yaml:15:18: spec.apps[0].overlays[0]: 'patches/web.yaml' must be a file under overlays/",
        ],
        id="overlay-outside-overlays",
    ),
    pytest.param(
        add(APP + "      overlays: [overlays/web.yaml]\n"),
        [
            "cluster.yaml:15:18: spec.apps[0].overlays[0]: file 'overlays/web.yaml' does not exist in the repository (paths are relative to the directory of the spec and may not leave it)",
        ],
        id="overlay-missing",
    ),
    pytest.param(
        add(APP + "      overlays: [overlays/../../etc/passwd]\n"),
        [
            "cluster.yaml:15:18: spec.apps[0].overlays[0]: 'overlays/../../etc/passwd' is not valid: expected a relative path inside the repository, without '..', using letters, digits, '.', '_', '-' and '/'",
        ],
        id="overlay-path-traversal",
    ),
    pytest.param(
        add("  network:\n    flannel:\n      source: /etc/passwd\n"),
        [
            "cluster.yaml:14:15: spec.network.flannel.source: '/etc/passwd' is not valid: expected a relative path inside the repository, without '..', using letters, digits, '.', '_', '-' and '/'",
        ],
        id="source-absolute-path",
    ),
    pytest.param(
        add("  network:\n    flannel:\n      source: vendor/kube-flannel.yml\n"),
        [
            "cluster.yaml:14:15: spec.network.flannel.source: file 'vendor/kube-flannel.yml' does not exist in the repository (paths are relative to the directory of the spec and may not leave it)",
        ],
        id="flannel-source-missing",
    ),
    pytest.param(
        add('  network:\n    flannel:\n      iface: "eth0; rm -rf /"\n'),
        [
            "cluster.yaml:14:14: spec.network.flannel.iface: 'eth0; rm -rf /' is not valid: expected an interface name such as eth0: at most 15 letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
        ],
        id="flannel-iface-shell",
    ),
    pytest.param(
        add("  ingress:\n    nginx:\n      replicas: 2\n"),
        [
            "cluster.yaml:14:7: spec.ingress.nginx.replicas: is only valid with kind: Deployment",
        ],
        id="ingress-replicas-with-daemonset",
    ),
    pytest.param(
        add("  ingress:\n    nginx:\n      nodePorts: {http: 8080}\n"),
        [
            "cluster.yaml:14:25: spec.ingress.nginx.nodePorts.http: 8080 is outside the NodePort range 30000-32767",
        ],
        id="node-port-out-of-range",
    ),
    pytest.param(
        add("  ingress:\n    nginx:\n      nodePorts: {http: 30080, https: 30080}\n"),
        [
            "cluster.yaml:14:39: spec.ingress.nginx.nodePorts.https: 30080 is already the http node port",
        ],
        id="node-ports-equal",
    ),
    pytest.param(
        add(
            "  ingress:\n    nginx:\n      exposure: HostNetwork\n      nodePorts: {http: 30080}\n"
        ),
        [
            "cluster.yaml:15:7: spec.ingress.nginx.nodePorts: is only valid with exposure: NodePort",
        ],
        id="node-ports-with-host-network",
    ),
    pytest.param(
        add(
            "  ingress:\n    nginx:\n      tolerations:\n        - {key: a, operator: Exists, value: b}\n"
        ),
        [
            "cluster.yaml:15:38: spec.ingress.nginx.tolerations[0].value: must be empty when operator is Exists",
        ],
        id="toleration-exists-with-value",
    ),
    pytest.param(
        add("  ingress:\n    nginx:\n      resources:\n        requests: {gpu: 1}\n"),
        [
            "cluster.yaml:15:20: spec.ingress.nginx.resources.requests: key 'gpu' is not one of: cpu, memory, ephemeral-storage",
        ],
        id="resources-unknown-name",
    ),
    pytest.param(
        add(
            "  externalServices:\n    - name: db\n      externalName: db.example\n      addresses: [10.0.0.5]\n      ports: [5432]\n"
        ),
        [
            "cluster.yaml:13:7: spec.externalServices[0]: set either addresses and ports, or externalName, not both",
        ],
        id="external-service-both-forms",
    ),
    pytest.param(
        add("  externalServices:\n    - name: db\n      addresses: [10.0.0.5]\n"),
        [
            "cluster.yaml:13:7: spec.externalServices[0]: missing required key 'ports' (set either addresses and ports, or externalName)",
        ],
        id="external-service-addresses-without-ports",
    ),
    pytest.param(
        add("  externalServices:\n    - name: db\n"),
        [
            "cluster.yaml:13:7: spec.externalServices[0]: needs either addresses and ports, or externalName",
        ],
        id="external-service-neither",
    ),
    pytest.param(
        add("  externalServices:\n    - name: db\n      externalName: 10.0.0.5\n"),
        [
            "cluster.yaml:14:21: spec.externalServices[0].externalName: must be a DNS name, not the IP address 10.0.0.5; use addresses and ports for an IP",
        ],
        id="external-name-is-ip",
    ),
    pytest.param(
        add(
            "  externalServices:\n    - name: db\n      addresses: [127.0.0.1]\n      ports: [5432]\n"
        ),
        [
            "cluster.yaml:14:19: spec.externalServices[0].addresses[0]: 127.0.0.1 is a loopback address; an endpoint needs a routable address",
        ],
        id="external-address-loopback",
    ),
    pytest.param(
        add("  secrets:\n    - name: s\n"),
        [
            "cluster.yaml:13:7: spec.secrets[0]: missing required key 'fromEnv'",
        ],
        id="secret-without-from-env",
    ),
    pytest.param(
        add('  secrets:\n    - name: s\n      fromEnv: {password: "db-password"}\n'),
        [
            "cluster.yaml:14:27: spec.secrets[0].fromEnv.password: 'db-password' is not valid: expected an environment variable name such as DB_PASSWORD",
        ],
        id="secret-env-var-name-bad",
    ),
    pytest.param(
        add(
            APP
            + "      env:\n        - name: A\n          valueFrom: {secretKeyRef: {name: s, key: user}}\n  secrets:\n    - name: s\n      fromEnv: {password: DB_PASSWORD}\n"
        ),
        [
            "cluster.yaml:17:52: spec.apps[0].env[0].valueFrom.secretKeyRef.key: secret 's' has no key 'user' (it has: password)",
        ],
        id="env-secret-key-not-declared",
    ),
    pytest.param(
        sub('"1.31.4"', '"1.31.4\\n"'),
        [
            "cluster.yaml:7:14: spec.kubernetes.version: '1.31.4\\n' must not contain newlines or control characters",
        ],
        id="newline-in-version",
    ),
    pytest.param(
        sub(
            '    version: "1.31.4"\n',
            '    version: "1.31.4"\n    apiServer:\n      extraArgs: {v: "2\\nrm -rf /"}\n',
        ),
        [
            "cluster.yaml:9:22: spec.kubernetes.apiServer.extraArgs.v: '2\\nrm -rf /' is not valid: expected a flag value on a single line",
        ],
        id="newline-in-extra-arg-value",
    ),
    pytest.param(
        sub("192.168.10.10", "not-an-ip").replace("kind: Cluster", "kind: Cluster\nfoo: 1"),
        [
            "cluster.yaml:3:1: unknown key 'foo' (allowed: apiVersion, kind, metadata, spec)",
            "cluster.yaml:11:16: spec.nodes[0].address: 'not-an-ip' is not valid: expected an IPv4 or IPv6 address",
        ],
        id="several-errors-reported-together",
    ),
]


def _validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> tuple[int, list[str], str]:
    (tmp_path / "cluster.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["validate", "-f", "cluster.yaml"])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if not line.startswith("warning: ")]
    return code, errors, captured.out


def test_the_minimal_spec_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, errors, out = _validate(tmp_path, monkeypatch, capsys, MINIMAL)
    assert (code, errors) == (0, [])
    assert out == "cluster.yaml: valid (1 nodes, 0 apps)\n"


def test_the_corpus_is_large_enough() -> None:
    assert len(INVALID_SPECS) >= 50
    assert len({p.id for p in INVALID_SPECS}) == len(INVALID_SPECS)


@pytest.mark.parametrize(("text", "expected"), INVALID_SPECS)
def test_invalid_spec_is_reported_at_the_offending_key_or_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    expected: list[str],
) -> None:
    code, errors, out = _validate(tmp_path, monkeypatch, capsys, text)
    count = len(expected)
    assert errors == [f"error: {line}" for line in expected] + [
        f"{count} error{'s' if count != 1 else ''} found"
    ]
    assert code == 1
    assert out == ""
    assert "Traceback" not in "\n".join(errors)
