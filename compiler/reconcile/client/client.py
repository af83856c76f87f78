"""One cluster connection for one run: discovery once, and every verb through one
request path.

``ClusterClient._send`` is that path: it finds the served resource, names the target for
messages, applies the request timeout, retries transient failures (``retry``), and turns
what remains into one sentence (``errors.classify``). The verbs (get, list, create,
replace, apply, delete) only say which DynamicClient method to call and with what.

Discovery is fetched from the server once per run and never cached on disk (the
library's default caches it in /tmp across runs, which would hide a CRD installed since).
Options (retry policy, timeouts, parallelism) are fixed when the client is built.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
from kubernetes.dynamic.resource import Resource, ResourceList

from compiler.core.identity import ObjectId
from compiler.reconcile.client.credentials import Credentials, load_credentials
from compiler.reconcile.client.errors import (
    TRANSPORT_ERRORS,
    ApiRejected,
    UnservedKind,
    classify,
)
from compiler.reconcile.client.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry
from compiler.reconcile.model import DEFAULT_PARALLELISM

T = TypeVar("T")
Body = dict[str, Any]

FIELD_MANAGER = "kgit"
LIST_PAGE_SIZE = 500


@dataclass(frozen=True)
class ClientOptions:
    # Transient failures (429, 5xx, dropped connections) are retried in guard(); no
    # attempt starts after retry.total_timeout, and none outlasts it (see _Deadline).
    retry: RetryPolicy = DEFAULT_POLICY
    # (connect, read) seconds for each attempt of every request, discovery and Lease
    # renewals included: a dead address fails fast, a server that accepts and never
    # answers fails too. A LIST page (500 objects) answers in well under a second.
    request_timeout: tuple[float, float] = (10.0, 30.0)
    # Requests the caller keeps in flight at once (sizes the connection pool).
    parallelism: int = DEFAULT_PARALLELISM


class _Deadline(threading.local):
    """When the request this thread is making must have ended (monotonic seconds), or
    None outside ``guard``: each attempt's timeout is cut to what is left, so a request
    and its retries together end within the retry policy's total_timeout."""

    at: float | None = None


class _TimedDynamicClient(DynamicClient):
    """The DynamicClient with a timeout on every request it sends, discovery included
    (the library's discovery sends none, so a server that accepts a connection and never
    answers hung kgit forever)."""

    def __init__(self, *args: Any, timeout: Callable[[], tuple[float, float]], **kw: Any):
        self._kgit_timeout = timeout  # set first: the constructor already runs discovery
        super().__init__(*args, **kw)

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        params["_request_timeout"] = self._kgit_timeout()
        return super().request(method, path, body=body, **params)


class _RunDiscoverer(LazyDiscoverer):
    """The library's lazy discovery, with its on-disk cache turned off (fresh every run)."""

    def _write_cache(self) -> None:  # the library would write /tmp/osrcp-<hash>.json
        return None


def _raw(_client: Any, data: Any) -> Any:
    """A DynamicClient serializer that keeps the plain decoded JSON."""
    return data


@dataclass
class ClusterClient:
    api_client: k8s_client.ApiClient
    credentials: Credentials
    options: ClientOptions = ClientOptions()
    _dynamic: DynamicClient | None = None
    _resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    _deadline: _Deadline = field(default_factory=_Deadline)

    @property
    def context(self) -> str:
        return self.credentials.context

    @property
    def server(self) -> str:
        return self.credentials.server

    # -- the request path ---------------------------------------------------------------

    def guard(self, verb: str, what: str, call: Callable[[], T]) -> T:
        """Run one request, retried on transient failures; failures that remain become
        sentences naming ``verb`` and ``what``."""
        outermost = self._deadline.at is None
        if outermost:
            self._deadline.at = time.monotonic() + self.options.retry.total_timeout
        try:
            return call_with_retry(call, policy=self.options.retry)
        except (ApiException, *TRANSPORT_ERRORS) as exc:
            raise classify(
                exc, verb=verb, what=what, server=self.server, context=self.context
            ) from None
        finally:
            if outermost:
                self._deadline.at = None

    def attempt_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds for the next attempt: the configured timeouts, cut to
        what is left of the current request's total time."""
        connect, read = self.options.request_timeout
        if self._deadline.at is None:
            return connect, read
        left = max(0.1, self._deadline.at - time.monotonic())
        return min(connect, left), min(read, left)

    def _send(
        self, verb: str, ref: ObjectId, method: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> Any:
        """One request about one object: ``DynamicClient.<method>(resource, **kwargs)``,
        namespaced as ``ref`` is; with ``missing_ok`` a 404 is answered as None."""
        resource = self.resource_for(ref.api_version, ref.kind)
        what = self.describe(ref.api_version, ref.kind, ref.namespace, ref.name)
        call = getattr(self.dynamic, method)
        try:
            return self.guard(
                verb,
                what,
                lambda: call(
                    resource,
                    namespace=ref.namespace or None,
                    serializer=_raw,
                    **kwargs,
                ),
            )
        except ApiRejected as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    # -- discovery ----------------------------------------------------------------------

    @property
    def dynamic(self) -> DynamicClient:
        """The DynamicClient; created (and the server first contacted) on first use."""
        if self._dynamic is None:
            # A cache path that never exists: discovery is always fetched, never written.
            nowhere = os.path.join(tempfile.gettempdir(), f"kgit-no-cache-{uuid.uuid4().hex}")
            self._dynamic = self.guard(
                "discover",
                "the API groups",
                lambda: _TimedDynamicClient(
                    self.api_client,
                    cache_file=nowhere,
                    discoverer=_RunDiscoverer,
                    timeout=self.attempt_timeout,
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
                    "discover", f"{kind} ({api_version})", lambda: dynamic.resources.get(**search)
                )
            except (ResourceNotFoundError, ResourceNotUniqueError):
                raise UnservedKind(
                    f"the cluster does not serve {kind} in {api_version} "
                    f"(context {self.context!r}); is its API or CRD installed?"
                ) from None
            self._resources[key] = found
        return self._resources[key]

    def served_kinds(self) -> dict[str, tuple[str, str]]:
        """group kind -> (apiVersion, kind) of every kind the server lists, in its
        preferred version: all of discovery (a dozen requests), for rare needs such as
        finding objects of kinds out/ no longer has."""
        found = self.guard("discover", "every API group", lambda: self.dynamic.resources.search())
        kinds: dict[str, tuple[str, str]] = {}
        for resource in sorted(found, key=lambda r: not getattr(r, "preferred", False)):
            if isinstance(resource, ResourceList) or "/" in str(resource.name or "/"):
                continue  # the library's *List pseudo-kinds, and subresources
            if "list" not in (resource.verbs or ()):
                continue
            group_kind = f"{resource.kind}.{resource.group or ''}".rstrip(".")
            kinds.setdefault(group_kind, (str(resource.group_version), str(resource.kind)))
        return dict(sorted(kinds.items()))

    def describe(self, api_version: str, kind: str, namespace: str = "", name: str = "") -> str:
        """'deployments.apps web/nginx' or 'namespaces web': how errors name a target."""
        resource = self.resource_for(api_version, kind)
        group = api_version.rpartition("/")[0]
        plural = f"{resource.name}.{group}" if group else str(resource.name)
        target = f"{namespace}/{name}" if namespace and name else name or ""
        if not target:
            return f"{plural} in namespace {namespace}" if namespace else f"{plural}"
        return f"{plural} {target}"

    # -- verbs --------------------------------------------------------------------------

    def get(self, ref: ObjectId) -> Body | None:
        """The live object, or None when it does not exist."""
        result: Body | None = self._send("get", ref, "get", missing_ok=True, name=ref.name)
        return result

    def list_pages(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str | None = None,
        namespace: str | None = None,
        field_selector: str | None = None,
    ) -> Iterator[Body]:
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
            page: Body = self.guard(
                "list",
                what,
                lambda token=token: self.dynamic.get(  # type: ignore[misc]
                    resource,
                    namespace=namespace if resource.namespaced and namespace else None,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    limit=LIST_PAGE_SIZE,
                    _continue=token,
                    serializer=_raw,
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

    def list(self, api_version: str, kind: str, **selectors: str | None) -> list[Body]:
        """``list_pages`` read to the end (label_selector, namespace, field_selector)."""
        return list(self.list_pages(api_version, kind, **selectors))

    def create(self, body: Body) -> Body:
        """Create an object (POST); returns the server's object."""
        result: Body = self._send("create", ObjectId.of(body), "create", body=body)
        return result

    def replace(self, body: Body) -> Body:
        """Replace an object (PUT; its resourceVersion makes it conditional)."""
        ref = ObjectId.of(body)
        result: Body = self._send("update", ref, "replace", body=body, name=ref.name)
        return result

    def apply(
        self,
        body: Body,
        *,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
    ) -> Body:
        """Server-side apply of one object (optionally dry-run); returns the server's object."""
        ref = ObjectId.of(body)
        result: Body = self._send(
            "apply (dry run)" if dry_run else "apply",
            ref,
            "server_side_apply",
            body=body,
            name=ref.name,
            field_manager=field_manager,
            force_conflicts=force,
            dry_run="All" if dry_run else None,
        )
        return result

    def delete(
        self,
        ref: ObjectId,
        *,
        propagation_policy: str = "Background",
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> Body | None:
        """Delete one object; None when it was already gone."""
        options: Body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation_policy,
        }
        if preconditions:
            options["preconditions"] = preconditions
        if dry_run:
            options["dryRun"] = ["All"]
        result: Body | None = self._send(
            "delete", ref, "delete", missing_ok=True, name=ref.name, body=options
        )
        return result

    def close(self) -> None:
        self.api_client.close()


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    options: ClientOptions = ClientOptions(),
) -> ClusterClient:
    """Connect and run discovery, so that a dead or refusing server fails here, clearly."""
    api_client, credentials = load_credentials(kubeconfig, context, parallelism=options.parallelism)
    cluster = ClusterClient(api_client, credentials, options)
    cluster.dynamic  # noqa: B018 - first contact: /version and /apis
    return cluster
