"""Which cluster, as kubectl chooses it: the kubeconfig (flag, then $KUBECONFIG, then
~/.kube/config) and its context, or the in-cluster service account of a pod.

``load_credentials`` returns the official client's ``ApiClient`` and a ``Credentials``
record of where it came from (for messages and for the plan's base). Nothing here sends a
request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from compiler.core.errors import ClusterError
from compiler.reconcile.client.errors import first_line
from compiler.reconcile.model import DEFAULT_PARALLELISM

IN_CLUSTER_CONTEXT = "in-cluster"
# Set to 1 to let credentials go to an http:// server (the in-repo test server only).
ALLOW_INSECURE_HTTP = "KGIT_ALLOW_INSECURE_HTTP"
# Connections beyond the worker threads: the main thread and the lock's renewal thread.
SPARE_CONNECTIONS = 2
_SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class Credentials:
    """Where the client configuration came from, for messages and the plan's base."""

    context: str
    server: str
    source: str  # kubeconfig path(s) or "in-cluster service account"


def _kubeconfig_paths(explicit: str | None) -> str | None:
    """The kubeconfig to use, as kubectl chooses it: flag, then $KUBECONFIG, then default."""
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG", "")
    if env.strip(os.pathsep):
        return env
    default = Path(os.path.expanduser("~/.kube/config"))
    return str(default) if default.is_file() else None


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and _SERVICE_ACCOUNT_TOKEN.is_file()


def _read_kubeconfig(paths: str) -> Any:
    """The kubeconfig file(s), merged as kubectl merges them, each read exactly once: a
    ``--kubeconfig <(...)`` (a pipe under /dev/fd) cannot be read twice."""
    given = [p for p in paths.split(os.pathsep) if p]
    present = [p for p in given if os.path.exists(os.path.expanduser(p))]
    if not present:
        raise ClusterError(f"kubeconfig file {given[0]} does not exist")
    directories = [p for p in present if os.path.isdir(os.path.expanduser(p))]
    if directories:
        raise ClusterError(f"kubeconfig {directories[0]} is a directory, not a file")
    try:
        merged = KubeConfigMerger(paths).config
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
        raise ClusterError(f"cannot read kubeconfig {paths}: {first_line(exc)}") from None
    if merged is None or not isinstance(merged.value, dict):
        raise ClusterError(f"cannot read kubeconfig {paths}: it holds no configuration")
    return merged


def _check_context(paths: str, config: Any, context: str | None) -> str:
    """The context that will be used; a missing context is a clear error."""
    names = [
        str(c.value.get("name")) for c in config.value.get("contexts") or () if c.value.get("name")
    ]
    current = config.value.get("current-context")
    if context is None:
        if not current:
            raise ClusterError(
                f"kubeconfig {paths} has no current context",
                hint="pass --context NAME (contexts: " + ", ".join(names) + ")",
            )
        context = str(current)
    if context not in names:
        available = ", ".join(sorted(names)) or "none"
        raise ClusterError(
            f"context {context!r} not found in kubeconfig {paths} (available: {available})"
        )
    return context


def _refuse_plain_http(configuration: k8s_client.Configuration, context: str) -> None:
    """Credentials never travel over plain HTTP: client-go (so kubectl) only sends them
    on a TLS connection. A test server on loopback may be allowed with the opt-in."""
    if not str(configuration.host).startswith("http://"):
        return
    sends_credentials = bool(configuration.api_key) or bool(configuration.username)
    if sends_credentials and os.environ.get(ALLOW_INSECURE_HTTP) != "1":
        raise ClusterError(
            f"refusing to send the credentials of context {context!r} to "
            f"{configuration.host} over plain HTTP (kubectl does not send them either)",
            hint=f"use the server's https:// address; for a local test server only, "
            f"set {ALLOW_INSECURE_HTTP}=1",
        )


def pool_size(parallelism: int) -> int:
    """Connections kept per host: one per worker thread and spares. urllib3 opens a new
    connection (a new TCP and TLS handshake) for each request that finds the pool empty and
    throws it away afterwards, so a pool smaller than the workers costs a handshake per
    request; the library's default is 5 per CPU, which is 5 on a one-CPU runner."""
    return max(1, parallelism) + SPARE_CONNECTIONS


def load_credentials(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> tuple[k8s_client.ApiClient, Credentials]:
    """An ApiClient for the chosen kubeconfig/context, or the in-cluster service account,
    with room in its connection pool for ``parallelism`` requests at once."""
    paths = _kubeconfig_paths(kubeconfig)
    configuration = k8s_client.Configuration()
    configuration.connection_pool_maxsize = max(
        configuration.connection_pool_maxsize or 0, pool_size(parallelism)
    )
    # No hidden retries inside urllib3 (3 by default, each waiting a full timeout): kgit
    # retries in one place (client.retry), where attempts and total time are bounded.
    configuration.retries = urllib3.util.Retry(total=0, redirect=False)
    if paths is None:
        if context is not None or not _in_cluster_available():
            raise ClusterError(
                "no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create "
                "~/.kube/config (or run inside a pod with a service account)"
            )
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise ClusterError(f"cannot use the in-cluster service account: {exc}") from None
        creds = Credentials(IN_CLUSTER_CONTEXT, configuration.host, "in-cluster service account")
        return k8s_client.ApiClient(configuration), creds
    config = _read_kubeconfig(paths)
    chosen = _check_context(paths, config, context)
    try:
        # The merged config read above, not the files again (config_base_path None:
        # relative paths resolve against the file each entry came from).
        loader = KubeConfigLoader(config_dict=config, config_base_path=None, active_context=chosen)
        loader.load_and_set(configuration)
    except (ConfigException, OSError, ValueError) as exc:
        raise ClusterError(
            f"cannot use context {chosen!r} of kubeconfig {paths}: {first_line(exc)}"
        ) from None
    _refuse_plain_http(configuration, chosen)
    return k8s_client.ApiClient(configuration), Credentials(chosen, configuration.host, paths)
