"""Retries: which failures, how long between attempts, and when to give up."""

from __future__ import annotations

import pytest
from urllib3.exceptions import ProtocolError

from compiler.reconcile.client.retry import RetryPolicy, call_with_retry, no_jitter


class Status(Exception):
    def __init__(self, status: int, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = {"Retry-After": retry_after} if retry_after else {}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


POLICY = RetryPolicy(
    max_attempts=6, base_delay=0.1, max_delay=1.0, total_timeout=30, jitter=no_jitter
)


def failing(*errors: BaseException):
    remaining = list(errors)

    def call() -> str:
        if remaining:
            raise remaining.pop(0)
        return "ok"

    return call


def run(call, policy: RetryPolicy = POLICY) -> tuple[str, list[float]]:
    clock = Clock()
    result = call_with_retry(call, policy=policy, sleep=clock.sleep, clock=lambda: clock.now)
    return result, clock.sleeps


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(Status(500), id="500"),
        pytest.param(Status(502), id="502"),
        pytest.param(Status(503), id="503"),
        pytest.param(Status(504), id="504"),
        pytest.param(Status(429), id="429"),
        pytest.param(ConnectionResetError("reset by peer"), id="reset"),
        pytest.param(ProtocolError("Connection aborted."), id="dropped"),
    ],
)
def test_transient_failures_are_retried(error):
    assert run(failing(error)) == ("ok", [0.1])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_other_client_errors_are_not_retried(status):
    clock = Clock()
    with pytest.raises(Status):
        call_with_retry(failing(Status(status)), policy=POLICY, sleep=clock.sleep)
    assert clock.sleeps == []


def test_backoff_doubles_up_to_the_cap():
    errors = [Status(500)] * 5
    assert run(failing(*errors)) == ("ok", [0.1, 0.2, 0.4, 0.8, 1.0])


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    assert run(failing(Status(429, "3"), Status(503, "0"))) == ("ok", [3.0, 0.2])


def test_gives_up_after_max_attempts_with_the_last_error():
    call = failing(*[Status(500)] * 6)
    with pytest.raises(Status):
        run(call)


def test_gives_up_when_the_next_wait_would_pass_the_total_timeout():
    policy = RetryPolicy(
        max_attempts=10, base_delay=1, max_delay=1, total_timeout=2.5, jitter=no_jitter
    )
    clock = Clock()
    with pytest.raises(Status):
        call_with_retry(
            failing(*[Status(503)] * 9),
            policy=policy,
            sleep=clock.sleep,
            clock=lambda: clock.now,
        )
    assert clock.sleeps == [1, 1]


def test_jitter_is_applied_to_each_delay():
    halved = RetryPolicy(base_delay=0.1, jitter=lambda delay: delay / 2)
    assert run(failing(Status(500), Status(500)), halved) == ("ok", [0.05, 0.1])
