"""Fault injection: per-test rules that make matching requests fail, slow down or drop.

Deterministic: a rule's probability is drawn from a ``random.Random(seed)``.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

from tests.apiserver.status import ApiError


@dataclass
class Fault:
    action: str  # "status", "latency" or "drop"
    verb: str | None = None  # HTTP method (GET, PATCH, ...) or API verb (list, patch, ...)
    path: str = ".*"  # regular expression searched in the URL path
    status: int = 500
    retry_after: int | None = None
    latency: float = 0.0
    probability: float = 1.0
    times: int | None = None  # only the next N matching requests; None = always
    after: int = 0  # let the first N matching requests through (a process killed later)
    hits: int = 0
    passed: int = 0  # matching requests let through because of ``after``

    def matches(self, method: str, verb: str, path: str) -> bool:
        if self.verb is not None and self.verb not in (method, verb):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return re.search(self.path, path) is not None


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def seed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    def error(
        self,
        status: int = 500,
        *,
        verb: str | None = None,
        path: str = ".*",
        times: int | None = None,
        probability: float = 1.0,
        retry_after: int | None = None,
        after: int = 0,
    ) -> Fault:
        """Answer matching requests with ``status`` (500, 503, 429, ...) as a Status
        object; 429 and 503 carry ``Retry-After`` (default 1 second). ``after=N`` lets
        the first N matching requests through and fails every one after them."""
        if retry_after is None and status in (429, 503):
            retry_after = 1
        return self.add(
            Fault("status", verb, path, status, retry_after, 0.0, probability, times, after)
        )

    def latency(
        self,
        seconds: float,
        *,
        verb: str | None = None,
        path: str = ".*",
        times: int | None = None,
        probability: float = 1.0,
        after: int = 0,
    ) -> Fault:
        return self.add(
            Fault(
                "latency",
                verb,
                path,
                latency=seconds,
                probability=probability,
                times=times,
                after=after,
            )
        )

    def drop(
        self,
        *,
        verb: str | None = None,
        path: str = ".*",
        times: int | None = None,
        probability: float = 1.0,
        after: int = 0,
    ) -> Fault:
        """Close the connection without answering (``after``: as for ``error``)."""
        return self.add(
            Fault("drop", verb, path, probability=probability, times=times, after=after)
        )

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, method: str, verb: str, path: str) -> list[Fault]:
        """The faults that fire for this request (consuming ``times`` budgets)."""
        fired = []
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, verb, path):
                    continue
                if rule.passed < rule.after:
                    rule.passed += 1
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                fired.append(rule)
        return fired


def fault_error(code: int) -> ApiError:
    """The Status a real server sends with ``code`` (reason and message as upstream)."""
    reasons = {
        429: (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
        500: ("InternalError", "Internal error occurred: injected fault"),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504: (
            "Timeout",
            "the server was unable to return a response in the time "
            "allotted, but may still be processing the request",
        ),
    }
    reason, message = reasons.get(code, ("InternalError", f"injected fault {code}"))
    return ApiError(code, reason, message, {"retryAfterSeconds": 1} if code in (429, 503) else {})
