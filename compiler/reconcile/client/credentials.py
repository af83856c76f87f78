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

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from compiler.core.errors import ClusterError
from compiler.reconcile.client.errors import first_line
from compiler.reconcile.model import DEFAULT_PARALLELISM

IN_CLUSTER_CONTEXT = "in-cluster"
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


def _check_context(paths: str, context: str | None) -> str:
    """The context that will be used; a missing file or context is a clear error."""
    missing = [p for p in paths.split(os.pathsep) if p and not Path(p).expanduser().is_file()]
    if missing and len(missing) == len([p for p in paths.split(os.pathsep) if p]):
        raise ClusterError(f"kubeconfig file {missing[0]} does not exist")
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=paths)
    except (ConfigException, OSError, ValueError) as exc:
        raise ClusterError(f"cannot read kubeconfig {paths}: {first_line(exc)}") from None
    names = [c["name"] for c in contexts or []]
    if context is None:
        if not current:
            raise ClusterError(
                f"kubeconfig {paths} has no current context",
                hint="pass --context NAME (contexts: " + ", ".join(names) + ")",
            )
        return str(current["name"])
    if context not in names:
        available = ", ".join(sorted(names)) or "none"
        raise ClusterError(
            f"context {context!r} not found in kubeconfig {paths} (available: {available})"
        )
    return context


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
    chosen = _check_context(paths, context)
    try:
        k8s_config.load_kube_config(
            config_file=paths,
            context=chosen,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError) as exc:
        raise ClusterError(
            f"cannot use context {chosen!r} of kubeconfig {paths}: {first_line(exc)}"
        ) from None
    return k8s_client.ApiClient(configuration), Credentials(chosen, configuration.host, paths)
