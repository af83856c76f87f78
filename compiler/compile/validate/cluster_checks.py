"""Semantic checks of the cluster itself: Kubernetes version, runtime, network, nodes."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from compiler.compile.load import PathKey
from compiler.compile.model import DEFAULT_POD_SUBNET, DEFAULT_SERVICE_SUBNET
from compiler.compile.validate.checker import FieldChecker
from compiler.compile.validate.fields import (
    DIGITS,
    DNS_SUBDOMAIN,
    Address,
    Network,
    as_dict,
    as_list,
    as_str,
    ip_family,
    is_ip,
    show,
)
from compiler.core.versions import (
    NFTABLES_ALPHA_MINOR,
    NFTABLES_BETA_MINOR,
    SUPPORTED_RANGE,
    KubeVersion,
)

# kubeadm refuses a Service subnet with more than 2^20 addresses (/12 for IPv4, /108 for
# IPv6: MaximumBitsForServiceSubnet in cmd/kubeadm/app/constants), and a pod subnet that
# is smaller than one node's share or more than 2^16 node shares (PodSubnetNodeMaskMaxDiff).
MAX_SERVICE_SUBNET_BITS = 20
MAX_POD_SUBNET_NODE_MASK_DIFF = 16
DEFAULT_NODE_MASK = {4: 24, 6: 64}  # kube-controller-manager --node-cidr-mask-size-ipv4/6


def _short(digits: str) -> str:
    return digits if len(digits) <= 10 else digits[:10] + "…"


_LAX_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+$")  # the schema's pattern

# The kubelet may only set node labels under kubernetes.io/ and k8s.io/ from this list
# (NodeRestriction; kubelet --node-labels fails otherwise). node-role.kubernetes.io/* is
# famously not on it.
KUBELET_ALLOWED_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)
KUBELET_ALLOWED_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")


class ClusterChecks(FieldChecker):
    """spec.kubernetes, spec.runtime, spec.network and spec.nodes."""

    def run(self, spec: dict[str, Any]) -> None:
        kube = as_dict(spec.get("kubernetes"))
        version = self.kubernetes(kube)
        self.runtime(as_dict(spec.get("runtime")))
        subnets = self.network(as_dict(spec.get("network")), kube, version)
        has_vip = bool(as_dict(as_dict(spec.get("controlPlane")).get("vip")))
        self.nodes(as_list(spec.get("nodes")), subnets, kube, has_vip)
        self.ssh(spec)
        self.vip(spec, kube)

    def kubernetes(self, kube: dict[str, Any]) -> KubeVersion | None:
        base = ("spec", "kubernetes")
        text = as_str(kube.get("version"))
        version = None
        if text is not None:
            try:
                version = KubeVersion.parse(text)
            except ValueError:
                version = None  # the schema's pattern reports it, unless a part is too long
                if _LAX_VERSION.match(text):
                    shown = text if len(text) <= 20 else text[:16] + "…"
                    self.report(
                        (*base, "version"),
                        f"Kubernetes version {shown!r} is not supported "
                        f"(supported: {SUPPORTED_RANGE})",
                    )
            if version is not None and not version.supported:
                self.report(
                    (*base, "version"),
                    f"Kubernetes {version} is not supported (supported: {SUPPORTED_RANGE})",
                )
                version = None
        endpoint = as_str(kube.get("controlPlaneEndpoint"))
        if endpoint is not None:
            self._host_port((*base, "controlPlaneEndpoint"), endpoint)
        repository = as_str(kube.get("imageRepository"))
        if repository is not None:
            self._image((*base, "imageRepository"), f"{repository}/name:tag", repository)
        seen: dict[str, int] = {}
        for i, san in enumerate(as_list(kube.get("certSANs"))):
            text = as_str(san)
            if text is None:
                continue
            if text.lower() in seen:
                self.report(
                    (*base, "certSANs", i),
                    f"duplicate certSAN {show(text)} (also certSANs[{seen[text.lower()]}])",
                )
            seen.setdefault(text.lower(), i)
            if ":" in text and not is_ip(text):
                self.report((*base, "certSANs", i), f"{show(text)} is not an IPv6 address")
        return version

    def vip(self, spec: dict[str, Any], kube: dict[str, Any]) -> None:
        """The VIP is the endpoint's address, and no node's own address."""
        vip = as_dict(as_dict(spec.get("controlPlane")).get("vip"))
        address = as_str(vip.get("address"))
        if address is None or not is_ip(address):
            return
        path = ("spec", "controlPlane", "vip", "address")
        endpoint = as_str(kube.get("controlPlaneEndpoint"))
        if endpoint is not None:
            host = (
                endpoint[1:].partition("]")[0]
                if endpoint.startswith("[")
                else (endpoint.partition(":")[0])
            )
            if host != address:
                self.report(
                    ("spec", "kubernetes", "controlPlaneEndpoint"),
                    f"{show(endpoint)} is not the VIP {address} (spec.controlPlane.vip): "
                    "with a VIP, leave controlPlaneEndpoint out or point it at the VIP",
                )
        for i, node in enumerate(as_list(spec.get("nodes"))):
            if as_str(as_dict(node).get("address")) == address:
                self.report(
                    path, f"{address} is the address of spec.nodes[{i}]; a VIP must be free"
                )

    def ssh(self, spec: dict[str, Any]) -> None:
        """Bastion ports (the schema checks the shape); a bastion is host[:port]."""
        places: list[tuple[PathKey, Any]] = [(("spec", "ssh"), spec.get("ssh"))]
        places += [
            (("spec", "nodes", i, "ssh"), as_dict(n).get("ssh"))
            for i, n in enumerate(as_list(spec.get("nodes")))
        ]
        for path, raw in places:
            bastion = as_str(as_dict(raw).get("bastion"))
            if bastion is None:
                continue
            _, colon, port = bastion.rpartition("@")[2].partition(":")
            if colon and DIGITS.fullmatch(port) and not 1 <= int(port) <= 65535:
                self.report((*path, "bastion"), f"port {port} is outside 1-65535")

    def _host_port(self, path: PathKey, text: str) -> None:
        if text.startswith("["):
            host, _, port = text[1:].partition("]")
            port = port.removeprefix(":")
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                self.report(path, f"{show(host)} in brackets is not an IPv6 address")
                return
        else:
            host, _, port = text.partition(":")
            if not is_ip(host) and not DNS_SUBDOMAIN.fullmatch(host):
                self.report(path, f"{show(host)} is not an IP address or a lowercase DNS name")
                return
        if port and not DIGITS.fullmatch(port):
            self.report(path, f"port {show(port)} is not a number")
        elif port and (len(port) > 5 or not 1 <= int(port) <= 65535):
            self.report(path, f"port {_short(port)} is outside 1-65535")

    def runtime(self, runtime: dict[str, Any]) -> None:
        base = ("spec", "runtime")
        pause = as_str(runtime.get("pauseImage"))
        if pause is not None:
            self._image((*base, "pauseImage"), pause)
        seen: dict[str, int] = {}
        for i, mirror in enumerate(as_list(runtime.get("registryMirrors"))):
            registry = as_str(as_dict(mirror).get("registry"))
            if registry is None:
                continue
            path = (*base, "registryMirrors", i, "registry")
            if registry in seen:
                self.report(
                    path,
                    f"registry {registry} is already mirrored by registryMirrors[{seen[registry]}]",
                )
            seen.setdefault(registry, i)
            for j, endpoint in enumerate(as_list(as_dict(mirror).get("endpoints"))):
                port = re.match(r"^https?://[^/:]+:([0-9]+)", as_str(endpoint) or "")
                digits = port.group(1) if port else ""
                if digits and (len(digits) > 5 or not 1 <= int(digits) <= 65535):
                    self.report(
                        (*base, "registryMirrors", i, "endpoints", j),
                        f"port {_short(digits)} is outside 1-65535",
                    )

    # network ------------------------------------------------------------------------

    def _cidr(self, path: PathKey, text: str) -> Network | None:
        try:
            return ipaddress.ip_network(text, strict=True)
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.report(path, f"{show(text)} is not a valid CIDR such as 10.244.0.0/16")
            return None
        self.report(
            path,
            f"{text} has host bits set; the network is {loose} (write that, or a larger prefix)",
        )
        return None

    def network(
        self, net: dict[str, Any], kube: dict[str, Any], version: KubeVersion | None
    ) -> dict[str, Network]:
        base = ("spec", "network")
        subnets: dict[str, Network] = {}
        for key, default in (
            ("podSubnet", DEFAULT_POD_SUBNET),
            ("serviceSubnet", DEFAULT_SERVICE_SUBNET),
        ):
            text = as_str(net.get(key, default))
            parsed = self._cidr((*base, key), text) if text is not None else None
            if parsed is not None:
                subnets[key] = parsed
        pods, services = subnets.get("podSubnet"), subnets.get("serviceSubnet")
        if services is not None:
            if services.max_prefixlen - services.prefixlen > MAX_SERVICE_SUBNET_BITS:
                limit = services.max_prefixlen - MAX_SERVICE_SUBNET_BITS
                self.report(
                    (*base, "serviceSubnet"),
                    f"{services} is too large: kubeadm allows at most /{limit} for "
                    f"{ip_family(services.version)} ({2**MAX_SERVICE_SUBNET_BITS} addresses)",
                )
            elif services.num_addresses < 10:
                # kubeadm puts the DNS Service at the tenth address.
                self.report(
                    (*base, "serviceSubnet"),
                    f"{services} is too small: it needs at least 10 addresses",
                )
        if pods is not None:
            self._pod_subnet_size(pods, kube)
        if pods is not None and services is not None:
            if pods.version != services.version:
                self.report(
                    (*base, "serviceSubnet"),
                    f"{services} is {ip_family(services.version)} but podSubnet {pods} is "
                    f"{ip_family(pods.version)}; kgit builds single-stack clusters, use one family",
                )
            elif pods.overlaps(services):
                self.report((*base, "serviceSubnet"), f"{services} overlaps podSubnet {pods}")
        flannel_source = as_str(as_dict(net.get("flannel")).get("source"))
        self._source((*base, "flannel", "source"), flannel_source)
        mode = net.get("kubeProxyMode")
        if mode == "nftables" and version is not None:
            self._nftables(version, as_dict(kube.get("featureGates")))
        return subnets

    def _pod_subnet_size(self, pods: Network, kube: dict[str, Any]) -> None:
        args = as_dict(as_dict(kube.get("controllerManager")).get("extraArgs"))
        flag = f"node-cidr-mask-size-ipv{pods.version}"
        node_mask = DEFAULT_NODE_MASK[pods.version]
        for name in (flag, "node-cidr-mask-size"):
            text = str(args.get(name, ""))
            if DIGITS.fullmatch(text):
                node_mask = int(text)
                break
        path = ("spec", "network", "podSubnet")
        if pods.prefixlen > node_mask:
            self.report(
                path, f"{pods} is smaller than one node's share (/{node_mask}); use a larger subnet"
            )
        elif node_mask - pods.prefixlen > MAX_POD_SUBNET_NODE_MASK_DIFF:
            self.report(
                path,
                f"{pods} is too large: with node shares of /{node_mask} kubeadm allows at most "
                f"/{node_mask - MAX_POD_SUBNET_NODE_MASK_DIFF}",
            )

    def _nftables(self, version: KubeVersion, gates: dict[str, Any]) -> None:
        path = ("spec", "network", "kubeProxyMode")
        if version.minor < NFTABLES_ALPHA_MINOR:
            self.report(path, f"nftables needs Kubernetes 1.29 or newer, not {version}")
        elif version.minor < NFTABLES_BETA_MINOR and gates.get("NFTablesProxyMode") is not True:
            self.report(
                path,
                f"nftables is alpha in Kubernetes {version.minor_series[1:]}: set "
                "spec.kubernetes.featureGates.NFTablesProxyMode: true, or use 1.31 or newer",
            )

    # nodes --------------------------------------------------------------------------

    def nodes(
        self,
        nodes: list[Any],
        subnets: dict[str, Network],
        kube: dict[str, Any],
        has_vip: bool = False,
    ) -> None:
        base = ("spec", "nodes")
        entries = [as_dict(n) for n in nodes]
        self._control_planes(entries, kube, has_vip)
        names: dict[str, int] = {}
        addresses: dict[Address, int] = {}
        for i, node in enumerate(entries):
            name = as_str(node.get("name"))
            if name is not None:
                if name in names:
                    self.report(
                        (*base, i, "name"),
                        f"duplicate node name {name!r} (also nodes[{names[name]}])",
                    )
                names.setdefault(name, i)
            self._node_address((*base, i, "address"), node.get("address"), subnets, addresses, i)
            if "schedulable" in node and node.get("role") == "worker":
                self.report(
                    (*base, i, "schedulable"), "applies to control-plane nodes only", key=True
                )
            for key in as_dict(node.get("labels")):
                self._node_label((*base, i, "labels", key), str(key))
            self._node_taints((*base, i, "taints"), as_list(node.get("taints")))

    def _control_planes(
        self, entries: list[dict[str, Any]], kube: dict[str, Any], has_vip: bool
    ) -> None:
        base = ("spec", "nodes")
        control_planes = [i for i, n in enumerate(entries) if n.get("role") == "control-plane"]
        if entries and not control_planes:
            self.report(
                base,
                "at least one node must have role control-plane (it runs kubeadm init)",
                key=True,
            )
        if len(control_planes) > 1 and "controlPlaneEndpoint" not in kube and not has_vip:
            self.report(
                (*base, control_planes[1], "role"),
                "a second control-plane node needs spec.kubernetes.controlPlaneEndpoint "
                "(a load-balanced address for the API servers) or spec.controlPlane.vip",
            )

    def _node_address(
        self,
        path: PathKey,
        value: Any,
        subnets: dict[str, Network],
        seen: dict[Address, int],
        index: int,
    ) -> None:
        """A unicast address, unique, of the subnets' family and outside both subnets."""
        ip = self._ip(path, value)
        if ip is None or self._special(path, ip, "a node"):
            return
        if ip in seen:
            self.report(path, f"duplicate node address {ip} (also nodes[{seen[ip]}])")
        seen.setdefault(ip, index)
        pods = subnets.get("podSubnet")
        if pods is not None and ip.version != pods.version:
            self.report(
                path,
                f"{ip} is {ip_family(ip.version)} but podSubnet {pods} is "
                f"{ip_family(pods.version)}; nodes and subnets must use one IP family",
            )
        for key, net in subnets.items():
            if ip.version == net.version and ip in net:
                self.report(path, f"{ip} is inside {key} {net}")

    def _node_taints(self, path: PathKey, taints: list[Any]) -> None:
        seen: dict[tuple[str | None, str | None], int] = {}
        for j, taint in enumerate(taints):
            ident = (as_str(as_dict(taint).get("key")), as_str(as_dict(taint).get("effect")))
            if ident in seen:
                self.report(
                    (*path, j),
                    f"duplicate taint {ident[0]}:{ident[1]} (also taints[{seen[ident]}])",
                )
            seen.setdefault(ident, j)

    def _node_label(self, path: PathKey, key: str) -> None:
        self._qualified_name(path, key)
        prefix, slash, _ = key.rpartition("/")
        if not slash:
            return
        restricted = any(
            prefix == domain or prefix.endswith("." + domain)
            for domain in ("kubernetes.io", "k8s.io")
        )
        allowed = key in KUBELET_ALLOWED_LABELS or any(
            prefix == domain or prefix.endswith("." + domain)
            for domain in KUBELET_ALLOWED_LABEL_DOMAINS
        )
        if restricted and not allowed:
            self.report(
                path,
                f"the kubelet may not set label {key!r} on its own node (labels under "
                "kubernetes.io/ and k8s.io/ are reserved); use your own prefix",
                key=True,
            )

    def _qualified_name(self, path: PathKey, key: str) -> None:
        prefix, slash, _ = key.rpartition("/")
        if slash and len(prefix) > 253:
            self.report(path, "the prefix of this key is longer than 253 characters", key=True)
