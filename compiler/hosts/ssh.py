"""SSH to the nodes: connect with verified host keys, run one bash program per call.

Built on asyncssh rather than paramiko or ``subprocess ssh``: it is maintained, pure Python
with no C extension of its own, reads ``~/.ssh/config`` (Host, HostName, User, Port,
IdentityFile, ProxyJump) and uses ssh-agent (``SSH_AUTH_SOCK``) like OpenSSH does, supports
jump hosts natively (``tunnel=``), and is asyncio-native, so facts from 100 nodes are one
event loop with a semaphore instead of 100 threads. Paramiko has no ProxyJump and no
``ssh_config`` support for it; string-built ``ssh`` command lines are where quoting bugs live.

Host keys are never accepted blindly. The key must be the one pinned for the node in
cluster.yaml (``ssh.hostKey``) or one listed for the host in known_hosts; a host with no
key known is refused unless ``accept_new`` (``--accept-new-host-keys``) is set, which then
records the key it saw in the first known_hosts file (OpenSSH's
``StrictHostKeyChecking=accept-new``). A key that differs from a known one is refused always.

Every remote call is ``bash -s`` (``sudo -n bash -s`` for a non-root user) with the program
on the channel's stdin: the command line sshd sees is a constant, so no node name, path or
secret ever reaches a remote argv, and secrets travel only inside the encrypted channel.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.core.errors import KgitError

with warnings.catch_warnings():
    # cryptography deprecates DSA; asyncssh still imports it (it never uses it here).
    warnings.simplefilter("ignore")
    import asyncssh

if TYPE_CHECKING:
    from compiler.hosts.inventory import SshSettings

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
CONNECT_TIMEOUT = 20.0
COMMAND_TIMEOUT = 3600.0  # kubeadm init and upgrades take minutes, not hours


class SshError(KgitError):
    """A node could not be reached or refused us; the message names the node."""

    reference = "ssh"


class HostKeyError(SshError):
    reference = "host-key"


@dataclass(frozen=True)
class HostKeyTrust:
    """Where trusted host keys come from, and whether an unknown one may be recorded."""

    known_hosts: tuple[Path, ...] = (DEFAULT_KNOWN_HOSTS,)
    accept_new: bool = False


@dataclass(frozen=True)
class RunResult:
    exit_status: int
    stdout: str
    stderr: str


def _host_pattern(host: str, port: int | None) -> str:
    return host if port in (None, 22) else f"[{host}]:{port}"


def _read_known_hosts(paths: Sequence[Path]) -> asyncssh.SSHKnownHosts | None:
    texts = []
    for path in paths:
        expanded = path.expanduser()
        if expanded.exists():
            texts.append(expanded.read_text())
    text = "".join(t if t.endswith("\n") else t + "\n" for t in texts)
    return asyncssh.import_known_hosts(text) if text.strip() else None


def _record_host_key(path: Path, host: str, port: int | None, key: Any) -> None:
    line = f"{_host_pattern(host, port)} {key.export_public_key('openssh').decode().strip()}\n"
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("a") as handle:
        handle.write(line)


def fingerprint(key: Any) -> str:
    return str(key.get_fingerprint("sha256"))


@dataclass
class Connection:
    """One authenticated SSH connection to one node."""

    node: str
    conn: Any  # asyncssh.SSHClientConnection
    sudo: bool
    jump: Any = None
    new_host_key: str | None = None  # the fingerprint recorded with accept_new
    _closed: bool = field(default=False)

    async def run(self, program: str, *, timeout: float = COMMAND_TIMEOUT) -> RunResult:
        """Run a bash program (sent on stdin); never raises on a non-zero exit."""
        command = "sudo -n bash -s" if self.sudo else "bash -s"
        try:
            done = await self.conn.run(command, input=program, check=False, timeout=timeout)
        except (OSError, asyncssh.Error) as exc:
            raise SshError(f"node {self.node}: the SSH session failed: {exc}") from None
        except TimeoutError:
            raise SshError(f"node {self.node}: no answer within {timeout:.0f}s") from None
        status = done.exit_status if done.exit_status is not None else 255
        return RunResult(status, str(done.stdout or ""), str(done.stderr or ""))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.conn.close()
        await self.conn.wait_closed()
        if self.jump is not None:
            self.jump.close()
            await self.jump.wait_closed()


def _options(settings: SshSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    if settings.user:
        options["username"] = settings.user
    if settings.identity_file:
        options["client_keys"] = [str(Path(settings.identity_file).expanduser())]
    return options


async def _open_jump(node: str, settings: SshSettings, trust: HostKeyTrust) -> Any:
    """The bastion's connection; its host key is checked like any node's."""
    bastion = settings.bastion
    if bastion is None:
        return None
    return await _connect_verified(f"{node} (bastion)", bastion, trust, None, None)


def _unknown(node: str, where: str, trust: HostKeyTrust) -> HostKeyError:
    files = ", ".join(str(p) for p in trust.known_hosts)
    return HostKeyError(
        f"node {node} ({where}): its host key is not known (no entry in {files}); check the "
        "key's fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), "
        "then add it to known_hosts, pin it in cluster.yaml (ssh.hostKey), or pass "
        "--accept-new-host-keys to record the key the host presents"
    )


def _changed(node: str, where: str, reason: str) -> HostKeyError:
    return HostKeyError(
        f"node {node} ({where}): host key verification failed ({reason}): the host "
        "presents another key than the one known for it; if the host was reinstalled, "
        "remove its old entry from known_hosts (ssh-keygen -R) and check the new one"
    )


async def _open(node: str, where: str, host: str, port: int | None, **options: Any) -> Any:
    try:
        return await asyncssh.connect(host, port if port is not None else (), **options)
    except asyncssh.HostKeyNotVerifiable:
        raise
    except asyncssh.PermissionDenied:
        raise SshError(
            f"node {node} ({where}): permission denied (no key accepted; "
            "check ssh.user, ssh.identityFile or the ssh-agent)"
        ) from None
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise SshError(f"node {node} ({where}): cannot connect: {detail or 'timed out'}") from None


async def _connect_verified(
    node: str,
    settings: SshSettings,
    trust: HostKeyTrust,
    tunnel: Any,
    pinned: str | None,
) -> Any:
    """Connect with the host key checked by asyncssh itself (after ~/.ssh/config has
    resolved the host and port); an unknown key is recorded only with ``accept_new`` and
    only when no other key is known for the host it resolved to."""
    host, port = settings.host, settings.port
    options = _options(settings)
    if tunnel is not None:
        options["tunnel"] = tunnel
    where = host if port is None else f"{host}:{port}"
    if pinned:
        # The node's own key, whatever name ~/.ssh/config resolves it to.
        known: Any = asyncssh.import_known_hosts(f"* {pinned}\n")
    else:
        known = _read_known_hosts(trust.known_hosts) or asyncssh.import_known_hosts("")
    try:
        return await _open(node, where, host, port, known_hosts=known, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        if pinned or known.match(host, host, port or 22)[0]:
            raise _changed(node, where, exc.reason) from None
        if not trust.accept_new:
            raise _unknown(node, where, trust) from None
    conn = await _open(node, where, host, port, known_hosts=None, **options)
    peer_host, peer_port = conn.get_extra_info("peername")[:2]
    if known.match(peer_host, peer_host, peer_port)[0]:
        conn.close()  # a key is known for the address it resolved to, and this is not it
        raise _changed(node, where, "another key is known for the address")
    key = conn.get_server_host_key()
    _record_host_key(trust.known_hosts[0], host, port or peer_port, key)
    conn.set_extra_info(kgit_new_host_key=fingerprint(key))
    return conn


async def connect(node: str, settings: SshSettings, trust: HostKeyTrust) -> Connection:
    """Connect to a node (through its bastion, if any) with its host key verified."""
    jump = await _open_jump(node, settings, trust)
    try:
        conn = await _connect_verified(node, settings, trust, jump, settings.host_key)
    except BaseException:
        if jump is not None:
            jump.close()
        raise
    user = settings.user or conn.get_extra_info("username") or ""
    return Connection(
        node,
        conn,
        sudo=user != "root",
        jump=jump,
        new_host_key=conn.get_extra_info("kgit_new_host_key"),
    )


async def bounded(limit: int, jobs: Sequence[Any]) -> list[Any]:
    """Await coroutines with at most ``limit`` running at a time; results in order."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def one(job: Any) -> Any:
        async with semaphore:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))
