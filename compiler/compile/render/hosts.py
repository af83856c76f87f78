"""Host files: provision.sh, kubeadm.yaml and the config files they install, per node.

For every node, out/hosts/<node>/ holds:

- ``provision.sh``: an idempotent bash script in phases (preflight, kernel, runtime, packages,
  kubeadm, post), rendered from ``host_scripts/provision.sh.j2``;
- ``kubeadm.yaml``: the kubeadm configuration the script installs at
  /etc/kubernetes/kgit/kubeadm.yaml (Init+Cluster+Kubelet+KubeProxy, or Join);
- ``files/<absolute path>``: every other config file the script installs, so that a reviewer
  reads them as plain files.

Each installed file is an ``InstalledFile`` built once here; the script embeds exactly the
same text (single source). Pure: no disk besides the packaged template, no clock, no env.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

import jinja2

from compiler.compile.emit import HostFile
from compiler.compile.model import Cluster, Node, RegistryMirror
from compiler.compile.render import kube_vip, kubeadm
from compiler.core import yamlout
from compiler.core.errors import KgitError

KUBEADM_CONFIG_PATH = "/etc/kubernetes/kgit/kubeadm.yaml"
HEREDOC_END = "KGIT_EOF"

PKGS_K8S_IO = "https://pkgs.k8s.io/core:/stable:"
# CRI-O left pkgs.k8s.io in 2025; its packages are built on the openSUSE Build Service.
CRIO_REPOSITORY = "https://download.opensuse.org/repositories/isv:/cri-o:/stable:"
# RHEL-family distributions ship no containerd; Docker's repository has containerd.io.
DOCKER_RPM_REPOSITORY = "https://download.docker.com/linux/centos"

KUBE_PACKAGES = ("kubelet", "kubeadm", "kubectl")
KERNEL_MODULES = ("overlay", "br_netfilter")
IPVS_MODULES = ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack")
SYSCTLS = (
    ("net.bridge.bridge-nf-call-iptables", "1"),
    ("net.bridge.bridge-nf-call-ip6tables", "1"),
    ("net.ipv4.ip_forward", "1"),
)
CONTROL_PLANE_PORTS = ("6443", "2379", "2380", "10250", "10257", "10259")
WORKER_PORTS = ("10250",)


@dataclass(frozen=True)
class InstalledFile:
    """A config file provision.sh installs on the host, at an absolute path."""

    path: str
    mode: str  # octal, as chmod takes it
    content: str

    @property
    def heredoc(self) -> str:
        """The content as the body of a quoted heredoc (no expansion inside)."""
        if any(line == HEREDOC_END for line in self.content.splitlines()):
            raise KgitError(f"{self.path} contains the line {HEREDOC_END!r}")
        return self.content if self.content.endswith("\n") else self.content + "\n"


@dataclass(frozen=True)
class AptKey:
    url: str
    keyring: str


@dataclass(frozen=True)
class RuntimePlan:
    service: str  # systemd unit
    package: str
    repository: tuple[InstalledFile, ...]
    apt_keys: tuple[AptKey, ...]
    config: tuple[InstalledFile, ...]


@dataclass(frozen=True)
class HostPlan:
    """Everything the provision.sh template needs for one node."""

    cluster: Cluster
    node: Node
    header: str
    kernel_modules: tuple[str, ...]
    kernel_files: tuple[InstalledFile, ...]
    runtime: RuntimePlan
    kube_repository: InstalledFile
    kube_apt_keys: tuple[AptKey, ...]
    kube_package_version: str  # as the package manager names it: 1.31.4-1.1 or 1.31.4
    kubeadm_config: InstalledFile
    required_ports: tuple[str, ...]
    kube_vip: InstalledFile | None = None  # control-plane nodes with spec.controlPlane.vip

    @property
    def installed_files(self) -> tuple[InstalledFile, ...]:
        """Every file written beside the script under files/ (kubeadm.yaml has its own place)."""
        return (
            *self.kernel_files,
            *self.runtime.repository,
            *self.runtime.config,
            self.kube_repository,
            *((self.kube_vip,) if self.kube_vip else ()),
        )


def spec_name(cluster: Cluster) -> str:
    # The file name only: out/ must not depend on how -f was spelled on the command line.
    return PurePosixPath(cluster.spec_file).name or "cluster.yaml"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable text is a TOML basic string


# --- kernel ---------------------------------------------------------------------------------


def kernel_modules(cluster: Cluster) -> tuple[str, ...]:
    if cluster.network.kube_proxy_mode == "ipvs":
        return KERNEL_MODULES + IPVS_MODULES
    return KERNEL_MODULES


def kernel_files(cluster: Cluster, header: str) -> tuple[InstalledFile, ...]:
    modules = header + "".join(f"{m}\n" for m in kernel_modules(cluster))
    sysctls = header + "".join(f"{key} = {value}\n" for key, value in SYSCTLS)
    return (
        InstalledFile("/etc/modules-load.d/k8s.conf", "0644", modules),
        InstalledFile("/etc/sysctl.d/k8s.conf", "0644", sysctls),
    )


# --- container runtime ----------------------------------------------------------------------


def _crio_config(cluster: Cluster, header: str) -> str:
    runtime = cluster.runtime
    lines = [
        header.rstrip("\n"),
        "# Read after the package's 10-crio.conf (drop-ins load in name order), so these win.",
        "[crio.image]",
        f"pause_image = {_toml_string(runtime.pause_image)}",
        "",
        "[crio.runtime]",
        f"cgroup_manager = {_toml_string(runtime.cgroup_driver)}",
    ]
    if runtime.cgroup_driver == "systemd":
        lines.append('conmon_cgroup = "pod"')
    return "\n".join(lines) + "\n"


def _mirror_host(endpoint: str) -> str:
    return endpoint.split("://", 1)[1].rstrip("/")


def _crio_mirrors(mirrors: Iterable[RegistryMirror], header: str) -> str:
    lines = [header.rstrip("\n")]
    for mirror in mirrors:
        lines += ["", "[[registry]]", f"prefix = {_toml_string(mirror.registry)}"]
        lines.append(f"location = {_toml_string(mirror.registry)}")
        for endpoint in mirror.endpoints:
            lines += [
                "",
                "[[registry.mirror]]",
                f"location = {_toml_string(_mirror_host(endpoint))}",
            ]
            if endpoint.startswith("http://"):
                lines.append("insecure = true")
    return "\n".join(lines) + "\n"


def _containerd_config(cluster: Cluster, header: str) -> str:
    runtime = cluster.runtime
    systemd = "true" if runtime.cgroup_driver == "systemd" else "false"
    pause = _toml_string(runtime.pause_image)
    certs = _toml_string("/etc/containerd/certs.d")
    if runtime.containerd_config_version == 2:  # containerd 1.x
        cri = '[plugins."io.containerd.grpc.v1.cri"'
        body = [
            "version = 2",
            "",
            f"{cri}]",
            f"  sandbox_image = {pause}",
            "",
            f"{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            "",
            f"{cri}.containerd.runtimes.runc.options]",
            f"  SystemdCgroup = {systemd}",
            "",
            f"{cri}.registry]",
            f"  config_path = {certs}",
        ]
    else:  # containerd 2.x: the CRI plugin is split into images and runtime plugins
        images = "[plugins.'io.containerd.cri.v1.images'"
        runtime_plugin = "[plugins.'io.containerd.cri.v1.runtime'"
        body = [
            "version = 3",
            "",
            f"{images}.pinned_images]",
            f"  sandbox = {pause}",
            "",
            f"{images}.registry]",
            f"  config_path = {certs}",
            "",
            f"{runtime_plugin}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            "",
            f"{runtime_plugin}.containerd.runtimes.runc.options]",
            f"  SystemdCgroup = {systemd}",
        ]
    return header + "\n".join(body) + "\n"


def _containerd_hosts(mirror: RegistryMirror, header: str) -> InstalledFile:
    if "/" in mirror.registry:
        raise KgitError(
            f"containerd cannot mirror {mirror.registry!r}: its mirrors are per registry host",
            hint="name only the registry host (and port) in spec.runtime.registryMirrors",
        )
    upstream = "registry-1.docker.io" if mirror.registry == "docker.io" else mirror.registry
    lines = [header.rstrip("\n"), f"server = {_toml_string('https://' + upstream)}"]
    for endpoint in mirror.endpoints:
        lines += ["", f"[host.{_toml_string(endpoint)}]", '  capabilities = ["pull", "resolve"]']
    return InstalledFile(
        f"/etc/containerd/certs.d/{mirror.registry}/hosts.toml", "0644", "\n".join(lines) + "\n"
    )


def runtime_plan(cluster: Cluster, node: Node, header: str) -> RuntimePlan:
    runtime = cluster.runtime
    series = cluster.kubernetes.version.minor_series
    if node.runtime == "crio":
        base = f"{CRIO_REPOSITORY}/{series}"
        config = [
            InstalledFile(
                "/etc/crio/crio.conf.d/10-kgit.conf", "0644", _crio_config(cluster, header)
            )
        ]
        if runtime.registry_mirrors:
            config.append(
                InstalledFile(
                    "/etc/containers/registries.conf.d/10-kgit-mirrors.conf",
                    "0644",
                    _crio_mirrors(runtime.registry_mirrors, header),
                )
            )
        if node.os == "debian":
            repo, key = _apt_repository("cri-o", base, header)
            keys: tuple[AptKey, ...] = (key,)
        else:
            repo = InstalledFile(
                "/etc/yum.repos.d/cri-o.repo",
                "0644",
                header
                + f"[cri-o]\nname=CRI-O {series}\nbaseurl={base}/rpm/\nenabled=1\ngpgcheck=1\n"
                + f"gpgkey={base}/rpm/repodata/repomd.xml.key\n",
            )
            keys = ()
        return RuntimePlan("crio", "cri-o", (repo,), keys, tuple(config))
    config = [
        InstalledFile("/etc/containerd/config.toml", "0644", _containerd_config(cluster, header))
    ]
    config += [_containerd_hosts(m, header) for m in runtime.registry_mirrors]
    if node.os == "debian":
        # The distribution's containerd: in the main archive, with the distribution's
        # security updates, and no third-party repository to trust.
        return RuntimePlan("containerd", "containerd", (), (), tuple(config))
    repo = InstalledFile(
        "/etc/yum.repos.d/docker-ce.repo",
        "0644",
        header
        + "[docker-ce-stable]\nname=Docker CE Stable - $basearch\n"
        + f"baseurl={DOCKER_RPM_REPOSITORY}/$releasever/$basearch/stable\n"
        + f"enabled=1\ngpgcheck=1\ngpgkey={DOCKER_RPM_REPOSITORY}/gpg\n",
    )
    return RuntimePlan("containerd", "containerd.io", (repo,), (), tuple(config))


# --- Kubernetes packages --------------------------------------------------------------------


def _apt_repository(name: str, base: str, header: str) -> tuple[InstalledFile, AptKey]:
    """An apt source for a pkgs.k8s.io-style repository (``<base>/deb/``), trusted only
    through its own keyring (signed-by), and the key that goes into that keyring."""
    keyring = f"/etc/apt/keyrings/{name}-apt-keyring.gpg"
    source = InstalledFile(
        f"/etc/apt/sources.list.d/{name}.list",
        "0644",
        header + f"deb [signed-by={keyring}] {base}/deb/ /\n",
    )
    return source, AptKey(f"{base}/deb/Release.key", keyring)


def kube_repository(
    cluster: Cluster, node: Node, header: str
) -> tuple[InstalledFile, tuple[AptKey, ...]]:
    series = cluster.kubernetes.version.minor_series
    base = f"{PKGS_K8S_IO}/{series}"
    if node.os == "debian":
        repo, key = _apt_repository("kubernetes", base, header)
        return repo, (key,)
    # The exclude line is dnf's hold: a plain `dnf upgrade` never moves these packages;
    # provision.sh installs them with --disableexcludes=kubernetes.
    repo = InstalledFile(
        "/etc/yum.repos.d/kubernetes.repo",
        "0644",
        header
        + f"[kubernetes]\nname=Kubernetes {series}\nbaseurl={base}/rpm/\nenabled=1\ngpgcheck=1\n"
        + f"gpgkey={base}/rpm/repodata/repomd.xml.key\n"
        + "exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n",
    )
    return repo, ()


def kube_package_version(cluster: Cluster, node: Node) -> str:
    # pkgs.k8s.io names Debian packages <version>-1.1; dnf matches the upstream version.
    version = str(cluster.kubernetes.version)
    return f"{version}-1.1" if node.os == "debian" else version


# --- putting one node together --------------------------------------------------------------


def host_plan(cluster: Cluster, node: Node) -> HostPlan:
    header = yamlout.header_comment(spec_name(cluster))
    repo, keys = kube_repository(cluster, node, header)
    config = header + yamlout.dump_all(kubeadm.kubeadm_documents(cluster, node))
    return HostPlan(
        cluster=cluster,
        node=node,
        header=header,
        kernel_modules=kernel_modules(cluster),
        kernel_files=kernel_files(cluster, header),
        runtime=runtime_plan(cluster, node, header),
        kube_repository=repo,
        kube_apt_keys=keys,
        kube_package_version=kube_package_version(cluster, node),
        kubeadm_config=InstalledFile(KUBEADM_CONFIG_PATH, "0600", config),
        required_ports=CONTROL_PLANE_PORTS if node.role == "control-plane" else WORKER_PORTS,
        kube_vip=_kube_vip_file(cluster, node, header),
    )


def _kube_vip_file(cluster: Cluster, node: Node, header: str) -> InstalledFile | None:
    if cluster.vip is None or node.role != "control-plane":
        return None
    manifest = header + yamlout.dump(kube_vip.kube_vip_pod(cluster, node))
    return InstalledFile(kube_vip.MANIFEST_PATH, "0600", manifest)


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("compiler.compile.render", "host_scripts"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # bash, not HTML: values are shell-quoted with the q filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # bash uses {# (as in ${#array[@]}), so template comments need other delimiters.
        comment_start_string="{=#",
        comment_end_string="#=}",
    )
    environment.filters["q"] = lambda value: shlex.quote(str(value))
    environment.globals.update(KUBE_PACKAGES=KUBE_PACKAGES, HEREDOC_END=HEREDOC_END)
    return environment.get_template("provision.sh.j2")


def provision_script(plan: HostPlan) -> str:
    return _template().render(plan=plan, kubeadm=kubeadm)


def render_node(cluster: Cluster, node: Node) -> list[HostFile]:
    plan = host_plan(cluster, node)
    base = f"hosts/{node.name}"
    files = [
        HostFile(f"{base}/provision.sh", provision_script(plan), executable=True),
        HostFile(f"{base}/kubeadm.yaml", plan.kubeadm_config.content),
    ]
    files += [HostFile(f"{base}/files{f.path}", f.content) for f in plan.installed_files]
    return files


def render_hosts(cluster: Cluster) -> list[HostFile]:
    """Every file under out/hosts/ for every node."""
    return [file for node in cluster.nodes for file in render_node(cluster, node)]
