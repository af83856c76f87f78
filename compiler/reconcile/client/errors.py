"""What can go wrong talking to an API server, and how a failure becomes one sentence.

``classify`` is the one place that turns the client library's exceptions (an HTTP error
status, or a transport failure) into kgit's ``ClusterError`` family: 401 and 403 name the
context, other statuses keep the Status object's parts (``ApiRejected``), and anything
that never got an answer is ``ClusterUnreachable`` (which the retry policy retries).
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from compiler.core.errors import ClusterError


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


def classify(
    exc: BaseException, *, verb: str, what: str, server: str, context: str
) -> ClusterError:
    """The sentence for a request that failed with ``exc``; ``verb`` and ``what`` name the
    request (``apply``, ``deployments.apps web/nginx``)."""
    if isinstance(exc, ApiException):
        return _api_error(exc, verb=verb, what=what, server=server, context=context)
    return ClusterUnreachable(
        f"cannot reach the Kubernetes API server at {server} "
        f"(context {context!r}): {_network_reason(exc)}"
    )


TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)


def _api_error(
    exc: ApiException, *, verb: str, what: str, server: str, context: str
) -> ClusterError:
    status = int(exc.status or 0)
    body = _status_body(exc)
    server_message = str(body.get("message") or exc.reason or "").strip()
    if status == 401:
        return ClusterError(
            f"the API server at {server} rejected the credentials of context "
            f"{context!r} (401 Unauthorized) when kgit tried to {verb} {what}"
        )
    if status == 403:
        return ClusterError(
            f"forbidden: context {context!r} may not {verb} {what} "
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
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return "timed out waiting for an answer"
    if "timed out" in text.lower() or isinstance(reason, TimeoutError):
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    return text.split(": ", 1)[-1][:200]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
