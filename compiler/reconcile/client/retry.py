"""Retrying API calls that failed for a reason that may go away: exponential backoff.

Retried: 429 Too Many Requests (waiting at least its Retry-After), 5xx, and connection
errors (refused, reset, dropped mid-response, timed out). Not retried: every other 4xx,
because the same request would fail the same way (a 409 Conflict is retried only where a
caller says so). Attempts and total time are both bounded, so a dead API server fails an
apply in about a minute, not never.

Every call kgit retries is idempotent: server-side apply, GET, LIST, DELETE (a 404 on a
retried delete means the first one went through), and Lease writes guarded by
resourceVersion. The delay before attempt n+1 is ``min(max_delay, base_delay * 2**n)``
passed through ``jitter`` (equal jitter by default, so concurrent kgit processes do not
retry in lock-step); tests pass an identity jitter and a fake ``sleep``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

from compiler.reconcile.client.errors import ClusterUnreachable

T = TypeVar("T")
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def equal_jitter(delay: float, _rng: random.Random = random.Random()) -> float:  # noqa: B008
    """A delay in [delay/2, delay] (AWS architecture blog, "Exponential Backoff And Jitter")."""
    return delay / 2 + _rng.uniform(0, delay / 2)


def no_jitter(delay: float) -> float:
    return delay


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.2  # seconds before the second attempt
    max_delay: float = 10.0
    total_timeout: float = 60.0  # no attempt starts after this many seconds
    jitter: Callable[[float], float] = field(default=equal_jitter, compare=False)

    def backoff(self, failures: int) -> float:
        """The delay after ``failures`` failed attempts (1, 2, ...), jitter applied."""
        return self.jitter(min(self.max_delay, self.base_delay * 2 ** (failures - 1)))


DEFAULT_POLICY = RetryPolicy()


def status_of(error: BaseException) -> int | None:
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else None


def is_connection_error(error: BaseException) -> bool:
    """Refused, reset or dropped connections and timeouts, from urllib3 or the stdlib
    (or the cluster client's ClusterUnreachable, which stands for them)."""
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    if isinstance(error, ClusterUnreachable):
        return True
    try:
        from urllib3 import exceptions as urllib3_exceptions
    except ImportError:  # pragma: no cover - urllib3 comes with the kubernetes client
        return False
    return isinstance(
        error,
        urllib3_exceptions.ProtocolError
        | urllib3_exceptions.MaxRetryError
        | urllib3_exceptions.TimeoutError
        | urllib3_exceptions.NewConnectionError,
    )


def is_transient(error: BaseException) -> bool:
    status = status_of(error)
    if status is not None:
        return status in RETRIABLE_STATUS
    return is_connection_error(error)


def retry_after(error: BaseException, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait (RFC 9110 Retry-After: seconds or HTTP date)."""
    headers = getattr(error, "headers", None)
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


def call_with_retry(
    call: Callable[[], T],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    retry_on: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``call()``, retried on transient failures; the last error is raised when giving up
    (the caller, ClusterClient.guard, turns it into a sentence)."""
    started = clock()
    failures = 0
    while True:
        try:
            return call()
        except Exception as error:
            failures += 1
            if not retry_on(error) or failures >= policy.max_attempts:
                raise
            delay = policy.backoff(failures)
            asked = retry_after(error) if status_of(error) in (429, 503) else None
            if asked is not None:
                delay = max(delay, asked)
            if clock() + delay - started > policy.total_timeout:
                raise
            sleep(delay)
