"""Connect to a cluster: kubeconfig or in-cluster credentials, discovery once per run.

``connect()`` returns a ``ClusterClient``: the official client's ``ApiClient`` plus a
``DynamicClient`` whose discovery is fetched from the server once per run and never
cached on disk (the library's default caches discovery in /tmp across runs, which would
hide a CRD installed since). Every request goes through ``ClusterClient.guard``, which
turns transport and HTTP failures into one-sentence ``ClusterError``s that name the
verb and the resource refused.

Only the plan and apply commands import this module: the ``kubernetes`` package never
loads on the compile path.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
from kubernetes.dynamic.resource import Resource

from compiler.core.errors import ClusterError
from compiler.reconcile.model import DEFAULT_PARALLELISM, ObjectRef
from compiler.reconcile.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry

T = TypeVar("T")

FIELD_MANAGER = "kgit"
IN_CLUSTER_CONTEXT = "in-cluster"
LIST_PAGE_SIZE = 500
# (connect, read) seconds: a dead address fails fast, a big LIST still has time.
REQUEST_TIMEOUT = (10.0, 120.0)
# Connections beyond the worker threads: the main thread and the lock's renewal thread.
SPARE_CONNECTIONS = 2
_SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class ApiRejected(ClusterError):
    """The API server answered a request with an error status (other than 401/403).

    Keeps the Status object's parts so that callers can tell an immutable field (422)
    from a conflict (409) or a missing namespace (404) without parsing the sentence.
    """

    reference = "cluster-rejected"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str = "",
        causes: tuple[dict[str, Any], ...] = (),
        server_message: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.causes = causes
        self.server_message = server_message


class ClusterUnreachable(ClusterError):
    """The request never got an answer (refused, reset, dropped, timed out): may be retried."""

    reference = "cluster-unreachable"


class UnservedKind(ClusterError):
    """Discovery does not list the kind (its CRD is not installed yet, or the API is off)."""

    reference = "cluster-unserved-kind"


class _RunDiscoverer(LazyDiscoverer):
    """The library's lazy discovery, with its on-disk cache turned off (fresh every run)."""

    def _write_cache(self) -> None:  # the library would write /tmp/osrcp-<hash>.json
        return None


def _raw(_client: Any, data: Any) -> Any:
    """A DynamicClient serializer that keeps the plain decoded JSON."""
    return data


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
        raise ClusterError(f"cannot read kubeconfig {paths}: {_first_line(exc)}") from None
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
            f"cannot use context {chosen!r} of kubeconfig {paths}: {_first_line(exc)}"
        ) from None
    return k8s_client.ApiClient(configuration), Credentials(chosen, configuration.host, paths)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _status_body(exc: ApiException) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {"message": str(body).strip()}
    return data if isinstance(data, dict) else {}


def _network_reason(exc: BaseException) -> str:
    """A short reason for a transport failure: 'connection refused', 'timed out', ..."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text or isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if "timed out" in text.lower() or isinstance(reason, TimeoutError):
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    return text.split(": ", 1)[-1][:200]


@dataclass
class ClusterClient:
    """One cluster connection for one run: credentials, discovery, and guarded requests."""

    api_client: k8s_client.ApiClient
    credentials: Credentials
    _dynamic: DynamicClient | None = None
    _resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    # Transient failures (429, 5xx, dropped connections) are retried inside guard().
    retry: RetryPolicy = DEFAULT_POLICY

    @property
    def context(self) -> str:
        return self.credentials.context

    @property
    def server(self) -> str:
        return self.credentials.server

    # -- errors ---------------------------------------------------------------------------

    def guard(self, verb: str, what: str, call: Callable[[], T]) -> T:
        """Run one request, retried on transient failures (compiler.reconcile.retry);
        failures that remain become sentences naming ``verb`` and ``what``."""
        try:
            return call_with_retry(call, policy=self.retry)
        except ApiException as exc:
            raise self._api_error(verb, what, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnreachable(
                f"cannot reach the Kubernetes API server at {self.server} "
                f"(context {self.context!r}): {_network_reason(exc)}"
            ) from None

    def _api_error(self, verb: str, what: str, exc: ApiException) -> ClusterError:
        status = int(exc.status or 0)
        body = _status_body(exc)
        server_message = str(body.get("message") or exc.reason or "").strip()
        if status == 401:
            return ClusterError(
                f"the API server at {self.server} rejected the credentials of context "
                f"{self.context!r} (401 Unauthorized) when kgit tried to {verb} {what}"
            )
        if status == 403:
            return ClusterError(
                f"forbidden: context {self.context!r} may not {verb} {what} "
                f"(403 Forbidden: {server_message})"
            )
        details = body.get("details") or {}
        causes = tuple(c for c in details.get("causes") or () if isinstance(c, dict))
        return ApiRejected(
            f"cannot {verb} {what}: {server_message or exc.reason} ({status})",
            status=status,
            reason=str(body.get("reason") or exc.reason or ""),
            causes=causes,
            server_message=server_message,
        )

    # -- discovery ------------------------------------------------------------------------

    @property
    def dynamic(self) -> DynamicClient:
        """The DynamicClient; created (and the server first contacted) on first use."""
        if self._dynamic is None:
            # A cache path that never exists: discovery is always fetched, never written.
            nowhere = os.path.join(tempfile.gettempdir(), f"kgit-no-cache-{uuid.uuid4().hex}")
            self._dynamic = self.guard(
                "discover",
                "the API groups",
                lambda: DynamicClient(
                    self.api_client, cache_file=nowhere, discoverer=_RunDiscoverer
                ),
            )
        return self._dynamic

    def resource_for(self, api_version: str, kind: str) -> Resource:
        """The served resource for a kind (plural, scope), discovered once per run."""
        key = (api_version, kind)
        if key not in self._resources:
            dynamic = self.dynamic
            group, _, version = api_version.rpartition("/")
            # Naming the prefix and group makes lazy discovery fetch this one group-version;
            # "v1" alone would match (and fetch) every group that serves a v1.
            search = {
                "prefix": "apis" if group else "api",
                "group": group or None,
                "api_version": version,
                "kind": kind,
            }
            try:
                found = self.guard(
                    "discover",
                    f"{kind} ({api_version})",
                    lambda: dynamic.resources.get(**search),
                )
            except (ResourceNotFoundError, ResourceNotUniqueError):
                raise UnservedKind(
                    f"the cluster does not serve {kind} in {api_version} "
                    f"(context {self.context!r}); is its API or CRD installed?"
                ) from None
            self._resources[key] = found
        return self._resources[key]

    def describe(self, api_version: str, kind: str, namespace: str = "", name: str = "") -> str:
        """'deployments.apps web/nginx' or 'namespaces web': how errors name a target."""
        resource = self.resource_for(api_version, kind)
        group = api_version.rpartition("/")[0]
        plural = f"{resource.name}.{group}" if group else str(resource.name)
        target = f"{namespace}/{name}" if namespace and name else name or ""
        if not target:
            return f"{plural} in namespace {namespace}" if namespace else f"{plural}"
        return f"{plural} {target}"

    # -- requests -------------------------------------------------------------------------

    def _target(self, ref: ObjectRef) -> tuple[Resource, str]:
        """The served resource of one object, and how errors name it."""
        resource = self.resource_for(ref.api_version, ref.kind)
        return resource, self.describe(ref.api_version, ref.kind, ref.namespace, ref.name)

    def _unless_missing(self, verb: str, what: str, call: Callable[[], T]) -> T | None:
        """``guard``, with 404 Not Found answered as None (gone, or never there)."""
        try:
            return self.guard(verb, what, call)
        except ApiRejected as exc:
            if exc.status == 404:
                return None
            raise

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The live object, or None when it does not exist."""
        resource, what = self._target(ref)
        return self._unless_missing(
            "get",
            what,
            lambda: self.dynamic.get(
                resource,
                name=ref.name,
                namespace=ref.namespace or None,
                serializer=_raw,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def list_pages(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str | None = None,
        namespace: str | None = None,
        field_selector: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every object of a kind, across all namespaces unless ``namespace`` is given, one
        page (limit/continue) at a time."""
        resource = self.resource_for(api_version, kind)
        what = self.describe(api_version, kind, namespace or "")
        if resource.namespaced and not namespace:
            what += " in all namespaces"
        if label_selector:
            what += f" (labels {label_selector})"
        if field_selector:
            what += f" (fields {field_selector})"
        token: str | None = None
        while True:
            page = self.guard(
                "list",
                what,
                lambda token=token: self.dynamic.get(
                    resource,
                    namespace=namespace if resource.namespaced and namespace else None,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    limit=LIST_PAGE_SIZE,
                    _continue=token,
                    serializer=_raw,
                    _request_timeout=REQUEST_TIMEOUT,
                ),
            )
            for item in page.get("items") or ():
                # LIST items carry no apiVersion/kind; put them back so each stands alone.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                yield item
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def list(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str | None = None,
        namespace: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        return list(
            self.list_pages(
                api_version,
                kind,
                label_selector=label_selector,
                namespace=namespace,
                field_selector=field_selector,
            )
        )

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an object (POST); returns the server's object."""
        ref = ObjectRef.of(body)
        resource, what = self._target(ref)
        return self.guard(
            "create",
            what,
            lambda: self.dynamic.create(
                resource,
                body=body,
                namespace=ref.namespace or None,
                serializer=_raw,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace an object (PUT; its resourceVersion makes it conditional)."""
        ref = ObjectRef.of(body)
        resource, what = self._target(ref)
        return self.guard(
            "update",
            what,
            lambda: self.dynamic.replace(
                resource,
                body=body,
                name=ref.name,
                namespace=ref.namespace or None,
                serializer=_raw,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def apply(
        self,
        body: dict[str, Any],
        *,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
    ) -> dict[str, Any]:
        """Server-side apply of one object (optionally dry-run); returns the server's object."""
        ref = ObjectRef.of(body)
        resource, what = self._target(ref)
        return self.guard(
            "apply (dry run)" if dry_run else "apply",
            what,
            lambda: self.dynamic.server_side_apply(
                resource,
                body=body,
                name=ref.name,
                namespace=ref.namespace or None,
                field_manager=field_manager,
                force_conflicts=force,
                dry_run="All" if dry_run else None,
                serializer=_raw,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def delete(
        self,
        ref: ObjectRef,
        *,
        propagation_policy: str = "Background",
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """Delete one object; None when it was already gone."""
        resource, what = self._target(ref)
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation_policy,
        }
        if preconditions:
            body["preconditions"] = preconditions
        if dry_run:
            body["dryRun"] = ["All"]
        return self._unless_missing(
            "delete",
            what,
            lambda: self.dynamic.delete(
                resource,
                name=ref.name,
                namespace=ref.namespace or None,
                body=body,
                serializer=_raw,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )

    def close(self) -> None:
        self.api_client.close()


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
) -> ClusterClient:
    """Connect and run discovery, so that a dead or refusing server fails here, clearly.
    ``parallelism``: how many requests the caller makes at once (sizes the connection pool)."""
    api_client, credentials = load_credentials(kubeconfig, context, parallelism=parallelism)
    cluster = ClusterClient(api_client, credentials)
    cluster.dynamic  # noqa: B018 - first contact: /version and /apis
    return cluster
