"""One apply at a time per cluster: a coordination.k8s.io/v1 Lease used as a lock.

The Lease ``kgit-<cluster>-lock`` lives in kube-system next to the ApplySet parent. Its
``holderIdentity`` says who holds it ("alice@laptop pid 4242 commit 1a2b3c4"), so a blocked
apply can name the holder. The holder renews ``renewTime`` from a background thread every
third of ``leaseDurationSeconds``; a holder that was killed stops renewing, and the Lease
may be taken over once ``renewTime + leaseDurationSeconds`` has passed (client-go's leader
election uses the same rule).

Every write is guarded by resourceVersion: a create that answers 409 AlreadyExists, or an
update that answers 409 Conflict, means someone else won the race, and we read again. A
random token in an annotation tells our own Lease from another process's with the same
identity text (a create retried after a dropped response finds its own Lease).

Released on exit by deleting the Lease (``with lease_lock(...)``, so also on Ctrl-C); a
killed process leaves it to expire. ``kgit force-unlock`` deletes it whoever holds it.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from compiler.core.errors import KgitError
from compiler.core.ownership import LOCK_NAMESPACE, lock_name
from compiler.reconcile.client.retry import status_of

Body = dict[str, Any]
TOKEN_ANNOTATION = "kgit.dev/lock-token"
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"


class LeaseApi(Protocol):
    """The four Lease requests the lock makes (adapted from the cluster client)."""

    def read_lease(self, namespace: str, name: str) -> Body | None: ...

    def create_lease(self, namespace: str, body: Body) -> Body: ...

    def replace_lease(self, namespace: str, body: Body) -> Body: ...

    def delete_lease(self, namespace: str, name: str, resource_version: str | None) -> None: ...


class LockError(KgitError):
    reference = "locked"


def default_identity(commit: str | None) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    commit_text = commit[:12] if commit else "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()} commit {commit_text}"


@dataclass(frozen=True)
class LockOptions:
    timeout: float = 60.0  # how long to wait for another holder before failing
    lease_duration: int = 60  # seconds; the Lease expires this long after its last renewal
    poll_interval: float = 1.0  # seconds between attempts while someone else holds it
    renew_interval: float | None = None  # seconds between renewals; None: a third of the lease

    def renew_every(self) -> float:
        """A third of the lease by default: two renewals may fail before it expires."""
        if self.renew_interval is not None:
            return self.renew_interval
        return max(0.05, self.lease_duration / 3)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(MICROTIME)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    for pattern in (MICROTIME, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def expires_at(lease: Body) -> datetime | None:
    """When the Lease stops being held; None when it has no holder or no renewTime."""
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
    if not spec.get("holderIdentity") or renewed is None:
        return None
    return renewed + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))


def is_free(lease: Body, now: datetime) -> bool:
    expiry = expires_at(lease)
    return expiry is None or expiry < now


def describe_holder(lease: Body) -> str:
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or "(nobody)"
    parts = [holder]
    if spec.get("acquireTime"):
        parts.append(f"since {spec['acquireTime']}")
    expiry = expires_at(lease)
    if expiry is not None:
        parts.append(f"lease expires {format_time(expiry)} unless renewed")
    return ", ".join(parts)


@dataclass
class LeaseLock:
    """A held lock; ``lost`` turns true when renewing showed someone else took it over."""

    api: LeaseApi
    name: str
    identity: str
    options: LockOptions = field(default_factory=LockOptions)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    lease: Body | None = None
    lost: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _guard: threading.Lock = field(default_factory=threading.Lock)

    # -- acquiring --------------------------------------------------------------------

    def _body(self, previous: Body | None) -> Body:
        stamp = format_time(self.now())
        transitions = int(((previous or {}).get("spec") or {}).get("leaseTransitions") or 0)
        metadata: Body = {
            "name": self.name,
            "namespace": LOCK_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "kgit"},
            "annotations": {TOKEN_ANNOTATION: self.token},
        }
        if previous is not None:
            metadata["resourceVersion"] = previous["metadata"]["resourceVersion"]
            transitions += 1
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.options.lease_duration,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": transitions,
            },
        }

    def _ours(self, lease: Body | None) -> bool:
        annotations = ((lease or {}).get("metadata") or {}).get("annotations") or {}
        return annotations.get(TOKEN_ANNOTATION) == self.token

    def try_acquire(self) -> Body | None:
        """One attempt; returns the Lease when we hold it, None when someone else does."""
        current = self.api.read_lease(LOCK_NAMESPACE, self.name)
        if self._ours(current):
            self.lease = current
            return current
        if current is not None and not is_free(current, self.now()):
            return None
        try:
            if current is None:
                self.lease = self.api.create_lease(LOCK_NAMESPACE, self._body(None))
            else:
                self.lease = self.api.replace_lease(LOCK_NAMESPACE, self._body(current))
        except Exception as error:
            if status_of(error) == 409:  # AlreadyExists or Conflict: someone else won
                return None
            raise
        return self.lease

    def acquire(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        deadline = clock() + self.options.timeout
        announced = False
        while True:
            if self.try_acquire() is not None:
                self._start_renewing()
                return
            holder = self.api.read_lease(LOCK_NAMESPACE, self.name)
            if holder is not None and not announced and on_wait is not None:
                on_wait(f"waiting for the lock held by {describe_holder(holder)}")
                announced = True
            if clock() >= deadline:
                who = describe_holder(holder) if holder else "another apply"
                raise LockError(
                    f"another apply holds the lock {LOCK_NAMESPACE}/{self.name}: {who}; "
                    f"gave up after {self.options.timeout:g}s",
                    hint="wait for it to finish, or if it was killed, let the lease expire "
                    "or run 'kgit force-unlock'",
                )
            sleep(min(self.options.poll_interval, max(0.0, deadline - clock())))

    # -- renewing ---------------------------------------------------------------------

    def renew(self) -> None:
        """Push renewTime forward; marks the lock lost if someone else holds it now."""
        with self._guard:
            if self.lease is None or self.lost:
                return
            body = dict(self.lease)
            body["metadata"] = dict(self.lease["metadata"])
            body["spec"] = {**self.lease["spec"], "renewTime": format_time(self.now())}
            try:
                self.lease = self.api.replace_lease(LOCK_NAMESPACE, body)
            except Exception as error:
                if status_of(error) not in (404, 409):
                    return  # transient: the next renewal tries again before expiry
                current = self.api.read_lease(LOCK_NAMESPACE, self.name)
                if self._ours(current):
                    self.lease = current
                    return
                holder = describe_holder(current) if current else "nobody (deleted)"
                self.lost = f"the lock {LOCK_NAMESPACE}/{self.name} was taken over by {holder}"

    def _start_renewing(self) -> None:
        interval = self.options.renew_every()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.renew()
                except Exception:
                    continue

        self._thread = threading.Thread(target=loop, name="kgit-lock-renewal", daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Raise if the lock was lost; called between apply stages."""
        if self.lost:
            raise LockError(f"{self.lost}; stopping", hint="run 'kgit plan' to see the state")

    # -- releasing --------------------------------------------------------------------

    def release(self) -> str | None:
        """Delete our Lease; never raises (it runs while another error may be on its way
        up), but returns a warning when the Lease could not be deleted and must expire."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._guard:
            if self.lease is None or self.lost:
                return None
            version = self.lease["metadata"].get("resourceVersion")
            try:
                self.api.delete_lease(LOCK_NAMESPACE, self.name, version)
            except Exception as error:
                # 404: already gone; 409: someone else's by now. Otherwise it expires.
                if status_of(error) not in (404, 409):
                    return (
                        f"could not release the lock {LOCK_NAMESPACE}/{self.name} ({error}); "
                        f"it expires {self.options.lease_duration}s after its last renewal"
                    )
            finally:
                self.lease = None
        return None


@contextmanager
def lease_lock(
    api: LeaseApi,
    cluster: str,
    *,
    identity: str,
    options: LockOptions = LockOptions(),
    on_wait: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LeaseLock]:
    """Hold the cluster's apply lock for the ``with`` block; released on any exit.

    ``on_wait`` receives messages for the user: whom we wait for, or a failed release.
    """
    lock = LeaseLock(api, lock_name(cluster), identity, options)
    lock.acquire(on_wait=on_wait, sleep=sleep)
    try:
        yield lock
    finally:
        problem = lock.release()
        if problem and on_wait is not None:
            on_wait(f"warning: {problem}")


def force_unlock(api: LeaseApi, cluster: str, shown: Body | None = None) -> Body | None:
    """Delete the lock whoever holds it; returns the Lease that was deleted, if any.

    ``shown`` is the Lease the user was shown and agreed to delete: only that one is
    deleted (a resourceVersion precondition), never a lock another apply took meanwhile.
    """
    name = lock_name(cluster)
    current = shown or api.read_lease(LOCK_NAMESPACE, name)
    if current is None:
        return None
    try:
        api.delete_lease(LOCK_NAMESPACE, name, current["metadata"].get("resourceVersion"))
    except Exception as error:
        if status_of(error) == 409:
            raise LockError(
                f"the lock {LOCK_NAMESPACE}/{name} changed while you were asked (renewed, or "
                "taken by another apply); it was not deleted",
                hint="run kgit force-unlock again to see who holds it now",
            ) from None
        if status_of(error) != 404:
            raise
    return current
