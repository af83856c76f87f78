"""Test nodes behind a real OpenSSH server (Debian's openssh-server), on loopback addresses.

One ``sshd`` listens on 127.0.0.<11..> (one address per node, one port for all). A
``Match LocalAddress`` block per node sets, with ``SetEnv``, what makes a session "on node X":
``KGIT_HOST_ROOT`` (the node's root directory, which kgit passes to ``provision.sh --root``),
``PATH`` with the node's shims first, and the shims' state directories. No ForceCommand, no
chroot: the commands kgit sends run as sent.

The shims are the ones of tests/hosts_helpers.py (they record calls and keep state:
installed versions, services), plus kubeadm and the kubelet restart in Python
(tests/ssh_shim_helper.py), which talk to the test API server as a real cluster would.

Keys are made per test session: the host key by ``ssh-keygen -A``-style generation into the
harness directory, the client key likewise; the test writes known_hosts itself.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.hosts_helpers import OS_RELEASE, SHIM_PROLOGUE, SHIMS

SSHD = "/usr/sbin/sshd"
HELPER = Path(__file__).with_name("ssh_shim_helper.py")
FIRST_HOST = 11  # 127.0.0.11 is the first node
MAX_LISTEN = 16  # sshd's MAX_LISTEN_SOCKS


def sshd_available() -> str | None:
    """Why the real-sshd tests cannot run here, or None."""
    if not Path(SSHD).exists():
        return "openssh-server is not installed (make test installs it with apt-get)"
    if os.geteuid() != 0:
        return "sshd serving test nodes must run as root"
    return None


def _log_shim(name: str) -> str:
    return f'log {name} "$@"'


_RESTART = 'touch "$SHIM_STATE/active/$1" ;;'
_KUBELET_HOOK = 'if [ "$1" = kubelet ]; then "$SHIM_PYTHON" "$SHIM_HELPER" kubelet-restarted; fi'


def _with_kubelet_hook(systemctl: str) -> str:
    assert _RESTART in systemctl, "provision.sh's systemctl shim no longer ends restart so"
    return systemctl.replace(_RESTART, f'touch "$SHIM_STATE/active/$1"; {_KUBELET_HOOK} ;;')


# The shims kgit's host commands meet besides provision.sh's: kubeadm and the kubelet's
# restart go to the Python helper; the package queries answer from the state directory.
EXTRA_SHIMS = {
    "kubeadm": 'exec "$SHIM_PYTHON" "$SHIM_HELPER" kubeadm "$@"',
    # provision.sh's systemctl shim, plus a word to the helper when the kubelet restarts.
    "systemctl": _with_kubelet_hook(SHIMS["systemctl"]),
}

LOG_TO_CLUSTER = """
log() {
  printf '%s\\n' "$*" >>"$SHIM_STATE/calls.log"
  { flock 9; printf '%s: %s\\n' "$SHIM_NODE" "$*" >&9; } 9>>"$SHIM_LOG"
}
"""


@dataclass
class TestNode:
    name: str
    address: str
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def bin(self) -> Path:
        return self.base / "bin"

    def calls(self) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def installed(self, package: str) -> str:
        path = self.state / "pkg" / package
        return path.read_text().strip() if path.exists() else ""

    def fail(self, step: str, on: bool = True) -> None:
        """Make the next ``kubeadm <step>`` on this node fail (upgrade, join)."""
        flag = self.state / f"fail-{step}"
        if on:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)


@dataclass
class SshNodes:
    """The sshd, its keys and the test nodes; ``start()`` it, ``stop()`` it."""

    base: Path
    names: list[str]
    admin_kubeconfig: str  # what kubeadm init writes to admin.conf (the test API server)
    os_release: str = OS_RELEASE["debian"]
    port: int = 0
    nodes: dict[str, TestNode] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def host_key(self) -> Path:
        return self.base / "ssh" / "host_ed25519"

    @property
    def client_key(self) -> Path:
        return self.base / "ssh" / "client_ed25519"

    @property
    def cluster_state(self) -> Path:
        return self.base / "cluster"

    @property
    def call_log(self) -> Path:
        return self.base / "cluster" / "calls.log"

    def start(self) -> SshNodes:
        (self.base / "ssh").mkdir(parents=True, exist_ok=True)
        self.cluster_state.mkdir(parents=True, exist_ok=True)
        for key in (self.host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kgit-test", "-f", str(key)],
                check=True,
            )
        (self.base / "ssh" / "authorized_keys").write_text(
            self.client_key.with_suffix(".pub").read_text()
        )
        self._write_cluster_ca()
        (self.cluster_state / "admin.conf").write_text(self.admin_kubeconfig)
        self.call_log.touch()
        for index, name in enumerate(self.names):
            number = FIRST_HOST + index
            self.add_node(name, f"127.0.{number // 250}.{number % 250}")
        self._start_sshd()
        return self

    def add_node(self, name: str, address: str) -> TestNode:
        node = TestNode(name, address, self.base / "nodes" / name)
        for directory in (node.root / "etc", node.root / "proc", node.state, node.bin):
            directory.mkdir(parents=True, exist_ok=True)
        (node.base / "tmp").mkdir(exist_ok=True)
        (node.root / "etc/os-release").write_text(self.os_release)
        (node.root / "etc/fstab").write_text("UUID=1234 / ext4 errors=remount-ro 0 1\n")
        (node.root / "proc/swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
        for shim_name, body in {**SHIMS, **EXTRA_SHIMS}.items():
            shim = node.bin / shim_name
            shim.write_text(SHIM_PROLOGUE + LOG_TO_CLUSTER + body + "\n")
            shim.chmod(0o755)
        self.nodes[name] = node
        return node

    def _write_cluster_ca(self) -> None:
        """A real self-signed CA certificate, and its kubeadm discovery hash."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        (self.cluster_state / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self.cluster_state / "ca.hash").write_text("sha256:" + hashlib.sha256(spki).hexdigest())

    def _free_port(self) -> int:
        for _ in range(50):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            if all(self._can_bind(node.address, port) for node in self.nodes.values()):
                return port
        raise RuntimeError("no free port for sshd on the test addresses")

    @staticmethod
    def _can_bind(address: str, port: int) -> bool:
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                return False
        return True

    def _config(self, nodes: list[TestNode], index: int) -> str:
        ssh = self.base / "ssh"
        lines = [f"Port {self.port}"]
        lines += [f"ListenAddress {node.address}" for node in nodes]
        lines += [
            f"HostKey {self.host_key}",
            f"PidFile {ssh / f'sshd-{index}.pid'}",
            f"AuthorizedKeysFile {ssh / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "MaxStartups 300",
            "MaxSessions 100",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
        ]
        for node in nodes:
            env = {
                "KGIT_HOST_ROOT": node.root,
                "PATH": f"{node.bin}:/usr/bin:/bin:/usr/sbin:/sbin",
                "SHIM_ROOT": node.root,
                "SHIM_STATE": node.state,
                "SHIM_NODE": node.name,
                "SHIM_CLUSTER": self.cluster_state,
                "SHIM_LOG": self.call_log,
                "SHIM_PYTHON": sys.executable,
                "SHIM_HELPER": HELPER,
                "TMPDIR": node.base / "tmp",
                "LC_ALL": "C",
            }
            pairs = " ".join(f'"{key}={value}"' for key, value in env.items())
            lines += [f"Match LocalAddress {node.address}", f"  SetEnv {pairs}"]
        return "\n".join(lines) + "\n"

    def _start_sshd(self) -> None:
        """One sshd per 16 nodes (OpenSSH listens on at most 16 sockets), one port."""
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation dir
        self.port = self._free_port()
        nodes = list(self.nodes.values())
        for index, first in enumerate(range(0, len(nodes), MAX_LISTEN)):
            config = self.base / "ssh" / f"sshd_config-{index}"
            config.write_text(self._config(nodes[first : first + MAX_LISTEN], index))
            subprocess.run([SSHD, "-t", "-f", str(config)], check=True)
            self.processes.append(
                subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(config)],
                    stdout=subprocess.DEVNULL,
                    stderr=open(self.base / "ssh" / "sshd.log", "ab"),  # noqa: SIM115
                )
            )
        deadline = time.monotonic() + 10
        for node in nodes:
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection((node.address, self.port), timeout=1),
                ):
                    break
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                    raise RuntimeError(f"sshd did not start: {self.sshd_log()}")
                time.sleep(0.05)

    def restart(self) -> None:
        """Pick up nodes added since start (a new ListenAddress needs a new sshd)."""
        self.stop()
        self._start_sshd()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes = []

    def sshd_log(self) -> str:
        path = self.base / "ssh" / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def known_hosts(self, names: list[str] | None = None) -> str:
        """known_hosts lines for these nodes (all by default), as the test's user keeps it."""
        key = " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])
        chosen = self.names if names is None else names
        return "".join(f"[{self.nodes[n].address}]:{self.port} {key}\n" for n in chosen)

    def host_key_line(self) -> str:
        return " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])

    def host_key_fingerprint(self) -> str:
        blob = base64.b64decode(self.host_key_line().split()[1])
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")

    def cluster_log(self) -> list[str]:
        return self.call_log.read_text().splitlines()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
