"""Stage 3, model: typed, immutable objects with every default filled in.

This is the only module that knows the defaults, and the only one after ``validate`` that
reads the raw spec. Everything downstream (render, emit, reconcile) reads these objects.
``build_cluster`` assumes its input passed validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from compiler.core.versions import KubeVersion

Role = Literal["control-plane", "worker"]
OsFamily = Literal["debian", "rhel"]

DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"
DEFAULT_DNS_DOMAIN = "cluster.local"
DEFAULT_POD_SUBNET = "10.244.0.0/16"
DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
API_SERVER_PORT = 6443
# Node ports of ingress-nginx and of the gateway with NodePort exposure (validation reads
# them too: while both controllers are in the spec their ports must differ).
DEFAULT_NODE_PORTS = {"http": 30080, "https": 30443}


def frozen_map(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only, key-sorted copy (sorted so that output order never depends on input)."""
    items = value or {}
    return MappingProxyType({k: items[k] for k in sorted(items)})


def entry_source(collection: str, *names: str) -> str:
    """The stable identity of a list entry of the spec: 'apps/web/nginx', 'nodes/k8s-master'.

    It names the entry by what makes it unique (namespace and name), never by its index:
    the index moves when an entry before it is removed, inserted or reordered, and every
    object stamped with it would then change in out/ although nothing about it did.
    """
    return "/".join((collection, *names))


@dataclass(frozen=True)
class ControlPlaneComponent:
    extra_args: Mapping[str, str] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class Kubernetes:
    version: KubeVersion
    image_repository: str
    control_plane_endpoint: str
    cluster_name: str
    feature_gates: Mapping[str, bool]
    api_server: ControlPlaneComponent
    controller_manager: ControlPlaneComponent
    scheduler: ControlPlaneComponent
    cert_sans: tuple[str, ...] = ()  # extra names in the API server's certificate


@dataclass(frozen=True)
class RegistryMirror:
    registry: str
    endpoints: tuple[str, ...]


@dataclass(frozen=True)
class Runtime:
    name: Literal["crio", "containerd"]
    pause_image: str
    cgroup_driver: Literal["systemd", "cgroupfs"]
    registry_mirrors: tuple[RegistryMirror, ...]
    # containerd's config format: 2 for containerd 1.x, 3 for containerd 2.x.
    containerd_config_version: int

    @property
    def cri_socket(self) -> str:
        return cri_socket(self.name)


def cri_socket(runtime: str) -> str:
    if runtime == "crio":
        return "unix:///var/run/crio/crio.sock"
    return "unix:///run/containerd/containerd.sock"


@dataclass(frozen=True)
class Flannel:
    backend: str
    backend_options: Mapping[str, Any]
    iface: str | None
    source: str | None
    image_registry: str | None  # mirror to rewrite flannel's images through, if any


@dataclass(frozen=True)
class Network:
    pod_subnet: str
    service_subnet: str
    dns_domain: str
    kube_proxy_mode: Literal["iptables", "ipvs", "nftables"]
    flannel: Flannel


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


@dataclass(frozen=True)
class Ssh:
    """How `kgit hosts` reaches a node; None: ~/.ssh/config's (or OpenSSH's) default."""

    host: str | None = None  # default: the node's address
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    bastion: str | None = None  # [user@]host[:port], as ProxyJump
    host_key: str | None = None  # pinned "type base64", checked instead of known_hosts


KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.8.9"


@dataclass(frozen=True)
class Vip:
    """A control-plane virtual IP announced by kube-vip (ARP mode, leader election)."""

    address: str
    interface: str
    image: str = KUBE_VIP_IMAGE


@dataclass(frozen=True)
class Upgrade:
    max_unavailable: int = 1
    drain_timeout_seconds: int = 300


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    role: Role
    os: OsFamily
    schedulable: bool
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    is_init: bool  # the first control-plane node runs `kubeadm init`; all others join
    source: str  # stable identity in cluster.yaml, e.g. nodes/k8s-master (see entry_source)
    runtime: Literal["crio", "containerd"] = "containerd"  # spec.runtime.name unless set
    ssh: Ssh = field(default_factory=Ssh)


@dataclass(frozen=True)
class NodePorts:
    http: int
    https: int


@dataclass(frozen=True)
class IngressClass:
    name: str
    default: bool


@dataclass(frozen=True)
class Exposure:
    """How an ingress controller's pods (or the gateway's data plane) run and are reached."""

    kind: Literal["DaemonSet", "Deployment"]
    replicas: int | None  # only for kind Deployment
    exposure: Literal["NodePort", "HostNetwork", "LoadBalancer"]
    node_ports: NodePorts | None
    external_traffic_policy: Literal["Cluster", "Local"]
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    resources: Mapping[str, Any]
    source: str | None
    image_registry: str | None


@dataclass(frozen=True)
class IngressNginx(Exposure):
    ingress_class: IngressClass
    acknowledge_retirement: bool = False  # the user has read the retirement warning


@dataclass(frozen=True)
class IngressGateway(Exposure):
    """The Gateway API path: NGINX Gateway Fabric, its data plane shaped by NginxProxy."""


@dataclass(frozen=True)
class Addon:
    """A third-party add-on: a vendored upstream manifest, applied as it is plus overlays."""

    name: str
    source: str  # a file under vendor/, pinned in kgit.lock
    namespace: str | None  # move the namespaced objects here
    overlays: tuple[str, ...]
    spec_path: str  # JSON path in cluster.yaml, e.g. spec.addons[0] (for messages)
    entry: str  # stable identity, e.g. addons/cert-manager (see entry_source)


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    name: str
    protocol: Literal["TCP", "UDP", "SCTP"]
    service_port: int


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    secret_name: str | None = None  # valueFrom.secretKeyRef
    secret_key: str | None = None


@dataclass(frozen=True)
class InitContainer:
    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvVar, ...]


@dataclass(frozen=True)
class HostAlias:
    ip: str
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class AppIngress:
    host: str
    path: str
    path_type: Literal["Prefix", "Exact", "ImplementationSpecific"]
    tls_secret: str | None


@dataclass(frozen=True)
class App:
    name: str
    namespace: str
    image: str
    replicas: int
    ports: tuple[ContainerPort, ...]
    env: tuple[EnvVar, ...]
    resources: Mapping[str, Any]
    init_containers: tuple[InitContainer, ...]
    host_aliases: tuple[HostAlias, ...]
    ingress: AppIngress | None
    overlays: tuple[str, ...]
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"]
    source: str
    path: str = ""  # where it is now, e.g. spec.apps[0]: for error locations only


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int
    protocol: Literal["TCP", "UDP", "SCTP"]


@dataclass(frozen=True)
class ExternalService:
    name: str
    namespace: str
    ports: tuple[ServicePort, ...]
    addresses: tuple[str, ...]
    external_name: str | None
    source: str
    path: str = ""  # where it is now, e.g. spec.apps[0]: for error locations only


@dataclass(frozen=True)
class SecretRef:
    """A Secret whose values come from the environment at apply time, never from Git."""

    name: str
    namespace: str
    type: str
    from_env: Mapping[str, str]  # data key -> environment variable name
    source: str
    path: str = ""  # where it is now, e.g. spec.apps[0]: for error locations only


@dataclass(frozen=True)
class Cluster:
    name: str
    spec_file: str  # as given on the command line; used in source annotations
    kubernetes: Kubernetes
    runtime: Runtime
    network: Network
    nodes: tuple[Node, ...]
    ingress_nginx: IngressNginx | None
    apps: tuple[App, ...]
    external_services: tuple[ExternalService, ...]
    secrets: tuple[SecretRef, ...]
    ingress_gateway: IngressGateway | None = None
    addons: tuple[Addon, ...] = ()
    upgrade: Upgrade = field(default_factory=Upgrade)
    vip: Vip | None = None

    @property
    def init_node(self) -> Node:
        return next(node for node in self.nodes if node.is_init)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace that apps, external services and secrets use, sorted."""
        used = {a.namespace for a in self.apps}
        used |= {s.namespace for s in self.external_services}
        used |= {s.namespace for s in self.secrets}
        return tuple(sorted(used))


# --- building the model from a validated spec -------------------------------------------


def _component(raw: Mapping[str, Any] | None) -> ControlPlaneComponent:
    args = (raw or {}).get("extraArgs") or {}
    return ControlPlaneComponent(extra_args=frozen_map({k: str(v) for k, v in args.items()}))


def _vip(raw: Mapping[str, Any] | None) -> Vip | None:
    vip = (raw or {}).get("vip")
    if not vip:
        return None
    return Vip(vip["address"], vip["interface"], vip.get("image", KUBE_VIP_IMAGE))


def _kubernetes(raw: Mapping[str, Any], name: str, init_address: str) -> Kubernetes:
    return Kubernetes(
        version=KubeVersion.parse(str(raw["version"])),
        image_repository=raw.get("imageRepository", DEFAULT_IMAGE_REPOSITORY),
        # Without an explicit endpoint the init node's address is the only API server;
        # setting it anyway keeps the door open for more control-plane nodes later.
        control_plane_endpoint=raw.get("controlPlaneEndpoint", f"{init_address}:{API_SERVER_PORT}"),
        cluster_name=raw.get("clusterName", name),
        feature_gates=frozen_map(raw.get("featureGates")),
        api_server=_component(raw.get("apiServer")),
        controller_manager=_component(raw.get("controllerManager")),
        scheduler=_component(raw.get("scheduler")),
        cert_sans=tuple(raw.get("certSANs") or ()),
    )


def _runtime(raw: Mapping[str, Any], kube: Kubernetes) -> Runtime:
    pause = raw.get("pauseImage") or (f"{kube.image_repository}/pause:{kube.version.pause_version}")
    return Runtime(
        name=raw.get("name", "containerd"),
        pause_image=pause,
        cgroup_driver=raw.get("cgroupDriver", "systemd"),
        registry_mirrors=tuple(
            RegistryMirror(m["registry"], tuple(m["endpoints"]))
            for m in sorted(raw.get("registryMirrors") or [], key=lambda m: m["registry"])
        ),
        containerd_config_version=int(raw.get("containerdConfigVersion", 3)),
    )


def _network(raw: Mapping[str, Any]) -> Network:
    flannel = raw.get("flannel") or {}
    return Network(
        pod_subnet=raw.get("podSubnet", DEFAULT_POD_SUBNET),
        service_subnet=raw.get("serviceSubnet", DEFAULT_SERVICE_SUBNET),
        dns_domain=raw.get("dnsDomain", DEFAULT_DNS_DOMAIN),
        kube_proxy_mode=raw.get("kubeProxyMode", "iptables"),
        flannel=Flannel(
            backend=flannel.get("backend", "vxlan"),
            backend_options=frozen_map(flannel.get("backendOptions")),
            iface=flannel.get("iface"),
            source=flannel.get("source"),
            image_registry=flannel.get("imageRegistry"),
        ),
    )


_SSH_KEYS = {
    "host": "host",
    "port": "port",
    "user": "user",
    "identityFile": "identity_file",
    "bastion": "bastion",
    "hostKey": "host_key",
}


def _ssh(default: Mapping[str, Any] | None, own: Mapping[str, Any] | None) -> Ssh:
    """The node's own ssh settings over the cluster-wide ones, key by key."""
    merged = {**(default or {}), **(own or {})}
    return Ssh(**{field_name: merged.get(key) for key, field_name in _SSH_KEYS.items()})


def _nodes(
    raw: list[Mapping[str, Any]],
    default_os: OsFamily,
    default_runtime: str = "containerd",
    default_ssh: Mapping[str, Any] | None = None,
) -> tuple[Node, ...]:
    first_cp = next(i for i, n in enumerate(raw) if n.get("role") == "control-plane")
    return tuple(
        Node(
            name=n["name"],
            address=n["address"],
            role=n["role"],
            os=n.get("os", default_os),
            schedulable=bool(n.get("schedulable", n["role"] == "worker")),
            labels=frozen_map({k: str(v) for k, v in (n.get("labels") or {}).items()}),
            taints=tuple(
                Taint(t["key"], t.get("value"), t["effect"]) for t in n.get("taints") or []
            ),
            is_init=i == first_cp,
            source=entry_source("nodes", n["name"]),
            runtime=n.get("runtime", default_runtime),
            ssh=_ssh(default_ssh, n.get("ssh")),
        )
        for i, n in enumerate(raw)
    )


def _exposure(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an ingress controller and the gateway's data plane share: how many, where,
    and how traffic reaches them (one place for their defaults)."""
    kind = raw.get("kind", "DaemonSet")
    exposure = raw.get("exposure", "NodePort")
    ports = raw.get("nodePorts") or {}
    return {
        "kind": kind,
        "replicas": raw.get("replicas", 1) if kind == "Deployment" else None,
        "exposure": exposure,
        "node_ports": (
            NodePorts(**{**DEFAULT_NODE_PORTS, **ports}) if exposure == "NodePort" else None
        ),
        "external_traffic_policy": raw.get("externalTrafficPolicy", "Cluster"),
        "node_selector": frozen_map(raw.get("nodeSelector")),
        "tolerations": tuple(frozen_map(t) for t in raw.get("tolerations") or []),
        "resources": frozen_map(raw.get("resources")),
        "source": raw.get("source"),
        "image_registry": raw.get("imageRegistry"),
    }


def _ingress_nginx(raw: Mapping[str, Any] | None) -> IngressNginx | None:
    if raw is None:
        return None
    cls = raw.get("ingressClass") or {}
    return IngressNginx(
        **_exposure(raw),
        ingress_class=IngressClass(cls.get("name", "nginx"), bool(cls.get("default", True))),
        acknowledge_retirement=bool(raw.get("acknowledgeRetirement", False)),
    )


def _ingress_gateway(raw: Mapping[str, Any] | None) -> IngressGateway | None:
    if raw is None:
        return None
    return IngressGateway(**_exposure(raw))


def _env(raw: list[Mapping[str, Any]] | None) -> tuple[EnvVar, ...]:
    out = []
    for item in raw or []:
        ref = ((item.get("valueFrom") or {}).get("secretKeyRef")) or {}
        value = item.get("value")
        out.append(
            EnvVar(
                name=item["name"],
                value=None if value is None else str(value),
                secret_name=ref.get("name"),
                secret_key=ref.get("key"),
            )
        )
    return tuple(out)


def _container_port(raw: int | Mapping[str, Any]) -> ContainerPort:
    if isinstance(raw, int):
        raw = {"containerPort": raw}
    port = raw["containerPort"]
    protocol = raw.get("protocol", "TCP")
    default_name = f"{protocol.lower()}-{port}" if protocol != "TCP" else f"http-{port}"
    return ContainerPort(
        container_port=port,
        name=raw.get("name", default_name),
        protocol=protocol,
        service_port=raw.get("servicePort", port),
    )


def json_path(*parts: str | int) -> str:
    """'spec.apps[0]' from ('spec', 'apps', 0): where an entry is now, for error messages
    (never written to out/: see entry_source)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _app(raw: Mapping[str, Any], index: int) -> App:
    ingress = raw.get("ingress")
    return App(
        name=raw["name"],
        namespace=raw.get("namespace", "default"),
        image=raw["image"],
        replicas=raw.get("replicas", 1),
        ports=tuple(_container_port(p) for p in raw.get("ports") or []),
        env=_env(raw.get("env")),
        resources=frozen_map(raw.get("resources")),
        init_containers=tuple(
            InitContainer(
                name=c["name"],
                image=c["image"],
                command=tuple(str(x) for x in c.get("command") or []),
                args=tuple(str(x) for x in c.get("args") or []),
                env=_env(c.get("env")),
            )
            for c in raw.get("initContainers") or []
        ),
        host_aliases=tuple(
            HostAlias(h["ip"], tuple(h["hostnames"])) for h in raw.get("hostAliases") or []
        ),
        ingress=(
            AppIngress(
                host=ingress["host"],
                path=ingress.get("path", "/"),
                path_type=ingress.get("pathType", "Prefix"),
                tls_secret=ingress.get("tlsSecret"),
            )
            if ingress
            else None
        ),
        overlays=tuple(raw.get("overlays") or []),
        service_type=raw.get("serviceType", "ClusterIP"),
        source=entry_source("apps", raw.get("namespace", "default"), raw["name"]),
        path=json_path("spec", "apps", index),
    )


def _service_port(raw: int | Mapping[str, Any]) -> ServicePort:
    if isinstance(raw, int):
        raw = {"port": raw}
    protocol = raw.get("protocol", "TCP")
    return ServicePort(
        name=raw.get("name", f"{protocol.lower()}-{raw['port']}"),
        port=raw["port"],
        target_port=raw.get("targetPort", raw["port"]),
        protocol=protocol,
    )


def _external_service(raw: Mapping[str, Any], index: int) -> ExternalService:
    return ExternalService(
        name=raw["name"],
        namespace=raw.get("namespace", "default"),
        ports=tuple(_service_port(p) for p in raw.get("ports") or []),
        addresses=tuple(raw.get("addresses") or []),
        external_name=raw.get("externalName"),
        source=entry_source("externalServices", raw.get("namespace", "default"), raw["name"]),
        path=json_path("spec", "externalServices", index),
    )


def _secret(raw: Mapping[str, Any], index: int) -> SecretRef:
    return SecretRef(
        name=raw["name"],
        namespace=raw.get("namespace", "default"),
        type=raw.get("type", "Opaque"),
        from_env=frozen_map(raw["fromEnv"]),
        source=entry_source("secrets", raw.get("namespace", "default"), raw["name"]),
        path=json_path("spec", "secrets", index),
    )


def build_cluster(spec: Mapping[str, Any], spec_file: str = "cluster.yaml") -> Cluster:
    """The typed model of a validated spec document, with every default filled in."""
    name = spec["metadata"]["name"]
    body = spec["spec"]
    nodes = _nodes(
        body["nodes"],
        body.get("os", "debian"),
        (body.get("runtime") or {}).get("name", "containerd"),
        body.get("ssh"),
    )
    vip = _vip(body.get("controlPlane"))
    # With a VIP, the API servers are reached through it: it is the default endpoint.
    endpoint_address = vip.address if vip else next(n.address for n in nodes if n.is_init)
    kube = _kubernetes(body["kubernetes"], name, endpoint_address)
    return Cluster(
        name=name,
        spec_file=spec_file,
        kubernetes=kube,
        runtime=_runtime(body.get("runtime") or {}, kube),
        network=_network(body.get("network") or {}),
        nodes=nodes,
        ingress_nginx=_ingress_nginx((body.get("ingress") or {}).get("nginx")),
        apps=tuple(_app(a, i) for i, a in enumerate(body.get("apps") or [])),
        external_services=tuple(
            _external_service(s, i) for i, s in enumerate(body.get("externalServices") or [])
        ),
        secrets=tuple(_secret(s, i) for i, s in enumerate(body.get("secrets") or [])),
        ingress_gateway=_ingress_gateway((body.get("ingress") or {}).get("gateway")),
        addons=tuple(
            Addon(
                name=a["name"],
                source=a["source"],
                namespace=a.get("namespace"),
                overlays=tuple(a.get("overlays") or []),
                spec_path=json_path("spec", "addons", i),
                entry=entry_source("addons", a["name"]),
            )
            for i, a in enumerate(body.get("addons") or [])
        ),
        upgrade=Upgrade(
            max_unavailable=(body.get("upgrade") or {}).get("maxUnavailable", 1),
            drain_timeout_seconds=(body.get("upgrade") or {}).get("drainTimeoutSeconds", 300),
        ),
        vip=vip,
    )
