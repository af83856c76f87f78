"""The apply lock: a Lease in kube-system, against the test API server."""

from __future__ import annotations

import dataclasses
import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from compiler.reconcile.apply import apply_plan
from compiler.reconcile.calls import ApplyCluster
from compiler.reconcile.client import ApiRejected
from compiler.reconcile.lock import (
    LeaseLock,
    LockError,
    LockOptions,
    force_unlock,
    format_time,
    lease_lock,
)
from tests.reconcile_apply_helpers import FAST, client_for, converge, plan, web_app

LEASE = ("coordination.k8s.io/v1", "Lease", "kgit-lab-lock", "kube-system")


def _foreign_lease(renewed: datetime, holder: str = "bob@ci pid 7 commit abc1234") -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kgit-lab-lock", "namespace": "kube-system"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 60,
            "acquireTime": format_time(renewed),
            "renewTime": format_time(renewed),
        },
    }


def test_lock_is_held_during_the_block_and_released_after(any_cluster):
    cluster = ApplyCluster(client_for(any_cluster))
    with lease_lock(cluster, "lab", identity="alice@laptop pid 1 commit c0ffee0"):
        spec = any_cluster.get(*LEASE)["spec"]
        assert spec["holderIdentity"] == "alice@laptop pid 1 commit c0ffee0"
        assert spec["leaseDurationSeconds"] == 60
    assert any_cluster.get(*LEASE) is None


def test_lock_is_released_when_the_block_raises(any_cluster):
    cluster = ApplyCluster(client_for(any_cluster))
    with pytest.raises(KeyboardInterrupt), lease_lock(cluster, "lab", identity="alice"):
        raise KeyboardInterrupt
    assert any_cluster.get(*LEASE) is None


def test_second_apply_waits_then_fails_naming_the_holder(any_cluster):
    renewed = datetime.now(UTC)
    any_cluster.create(_foreign_lease(renewed))
    client = client_for(any_cluster)
    wanted, made = plan(client, web_app())
    options = dataclasses.replace(FAST, lock_timeout=0.2)
    with pytest.raises(LockError) as caught:
        apply_plan(client, made, wanted, options, out=io.StringIO())
    expires = format_time(renewed + timedelta(seconds=60))
    assert str(caught.value) == (
        "another apply holds the lock kube-system/kgit-lab-lock: bob@ci pid 7 commit abc1234, "
        f"since {format_time(renewed)}, lease expires {expires} unless renewed; gave up after "
        "0.2s (hint: wait for it to finish, or if it was killed, let the lease expire or run "
        "'kgit force-unlock')"
    )
    assert any_cluster.get("v1", "Namespace", "web") is None


def test_concurrent_apply_is_blocked_while_the_first_one_runs(apiserver):
    apiserver.controllers.set("Deployment", "ready", delay=0.5)
    first_client, second_client = client_for(apiserver), client_for(apiserver)
    wanted, made = plan(first_client, web_app())
    started = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            options = dataclasses.replace(FAST, identity="first@host pid 1 commit aaa")
            apply_plan(
                first_client,
                made,
                wanted,
                options,
                out=io.StringIO(),
                report=lambda change: started.set(),
            )
        except BaseException as error:
            errors.append(error)
            started.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(5)
    options = dataclasses.replace(FAST, lock_timeout=0.2, identity="second@host pid 2 commit b")
    with pytest.raises(LockError) as caught:
        apply_plan(second_client, made, wanted, options, out=io.StringIO())
    thread.join(10)
    assert not thread.is_alive(), "the first apply did not finish"
    assert errors == []
    assert str(caught.value).startswith(
        "another apply holds the lock kube-system/kgit-lab-lock: first@host pid 1 commit aaa, "
    )
    assert apiserver.get(*LEASE) is None


def test_expired_lock_of_a_killed_apply_is_taken_over(any_cluster):
    any_cluster.create(_foreign_lease(datetime.now(UTC) - timedelta(seconds=61)))
    result = converge(client_for(any_cluster), web_app())
    assert not result.failed()
    assert any_cluster.get(*LEASE) is None


def test_taken_over_lock_is_noticed_at_renewal(any_cluster):
    cluster = ApplyCluster(client_for(any_cluster))
    lock = LeaseLock(cluster, "kgit-lab-lock", "alice", LockOptions(lease_duration=600))
    assert lock.try_acquire() is not None
    # Someone force-unlocks, and another apply takes the lock.
    force_unlock(cluster, "lab")
    other = LeaseLock(cluster, "kgit-lab-lock", "bob")
    assert other.try_acquire() is not None
    lock.renew()
    assert lock.lost is not None and lock.lost.startswith(
        "the lock kube-system/kgit-lab-lock was taken over by bob, since "
    )
    with pytest.raises(LockError):
        lock.check()
    assert lock.release() is None
    assert any_cluster.get(*LEASE)["spec"]["holderIdentity"] == "bob"


def test_lease_is_renewed_while_held(any_cluster):
    cluster = ApplyCluster(client_for(any_cluster))
    lock = LeaseLock(cluster, "kgit-lab-lock", "alice", LockOptions(lease_duration=60))
    lock.try_acquire()
    first = any_cluster.get(*LEASE)["metadata"]["resourceVersion"]
    lock.renew()
    assert any_cluster.get(*LEASE)["metadata"]["resourceVersion"] != first
    assert lock.lost is None
    lock.release()


def _renewal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kgit-lock-renewal"]


def test_renewal_thread_keeps_the_lease_fresh_and_stops_on_release(any_cluster):
    cluster = ApplyCluster(client_for(any_cluster))
    lock = LeaseLock(cluster, "kgit-lab-lock", "alice", LockOptions(renew_interval=0.01))
    lock.acquire()
    acquired = any_cluster.get(*LEASE)["spec"]["renewTime"]
    seen = [acquired]
    deadline = time.monotonic() + 30  # generous for a loaded CI machine; exits early
    while len(seen) < 3 and time.monotonic() < deadline:  # two renewals by the thread
        renewed = any_cluster.get(*LEASE)["spec"]["renewTime"]
        if renewed != seen[-1]:
            seen.append(renewed)
        time.sleep(0.002)
    assert len(seen) == 3 and sorted(seen) == seen
    assert len(_renewal_threads()) == 1
    assert lock.release() is None
    assert _renewal_threads() == []
    assert any_cluster.get(*LEASE) is None


def test_apply_stops_before_its_next_stage_once_renewal_finds_the_lock_taken(
    any_cluster, monkeypatch
):
    client = client_for(any_cluster)
    cluster = ApplyCluster(client)
    wanted, made = plan(client, web_app())
    # Set once alice's renewal has marked the lock lost (not when the server has logged
    # the refused renewal: it logs before replying, and apply could run on meanwhile).
    noticed = threading.Event()
    renew = LeaseLock.renew

    def renew_and_tell(lock: LeaseLock) -> None:
        renew(lock)
        if lock.lost:
            noticed.set()

    monkeypatch.setattr(LeaseLock, "renew", renew_and_tell)

    def take_the_lock_after_stage_one(change) -> None:
        if change.subject.kind != "Namespace":
            return
        # Bob takes the Lease over in one update (as after an expiry), so that alice's
        # next renewal is refused with 409 and reads bob as the holder.
        # alice renews every 50 ms: retry our read-then-update on 409 until it lands (a
        # loaded machine can lose several rounds in a row).
        give_up = time.monotonic() + 30
        while True:
            lease = cluster.read_lease("kube-system", "kgit-lab-lock")
            lease["spec"]["holderIdentity"] = "bob"
            lease["metadata"]["annotations"] = {"kgit.dev/lock-token": "bob's"}
            try:
                cluster.replace_lease("kube-system", lease)
                break
            except ApiRejected as conflict:
                assert conflict.status == 409
                assert time.monotonic() < give_up, "could not take the Lease over from alice"
        assert noticed.wait(30), "alice's renewal never noticed the takeover"

    options = dataclasses.replace(FAST, lock_renew_interval=0.05, identity="alice")
    with pytest.raises(LockError) as caught:
        apply_plan(
            client, made, wanted, options, out=io.StringIO(), report=take_the_lock_after_stage_one
        )
    assert str(caught.value).startswith(
        "the lock kube-system/kgit-lab-lock was taken over by bob, since "
    )
    assert str(caught.value).endswith("; stopping (hint: run 'kgit plan' to see the state)")
    assert any_cluster.get("networking.k8s.io/v1", "Ingress", "nginx", "web") is None
    assert any_cluster.get(*LEASE)["spec"]["holderIdentity"] == "bob"  # left to its holder


def test_force_unlock_command_needs_yes_without_a_terminal(any_cluster, tmp_path, capsys):
    from compiler.cli.app import main
    from tests.reconcile_apply_helpers import write_out

    write_out(tmp_path / "out", web_app())
    any_cluster.create(_foreign_lease(datetime.now(UTC)))
    common = ["-O", str(tmp_path / "out"), "--kubeconfig", str(any_cluster.kubeconfig)]
    assert main(["force-unlock", *common]) == 1
    assert capsys.readouterr().err.endswith(
        "error: refusing to unlock without confirmation: not running in a terminal "
        "(hint: pass --yes to unlock from a script or pipeline)\n"
    )
    assert any_cluster.get(*LEASE) is not None
    assert main(["force-unlock", *common, "--yes"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Lock kube-system/kgit-lab-lock is held by bob@ci pid 7 commit abc1234")
    assert out.endswith("Deleted the lock kube-system/kgit-lab-lock.\n")
    assert any_cluster.get(*LEASE) is None


def test_force_unlock_deletes_only_the_lease_the_user_was_shown(any_cluster):
    cluster = ApplyCluster(client_for(any_cluster))
    alice = LeaseLock(cluster, "kgit-lab-lock", "alice", LockOptions(lease_duration=600))
    assert alice.try_acquire() is not None
    shown = cluster.read_lease("kube-system", "kgit-lab-lock")
    alice.renew()  # while the user reads the prompt, the holder renews (a new version)
    with pytest.raises(LockError, match="changed while you were asked"):
        force_unlock(cluster, "lab", shown=shown)
    assert any_cluster.get(*LEASE)["spec"]["holderIdentity"] == "alice"
    current = cluster.read_lease("kube-system", "kgit-lab-lock")
    assert force_unlock(cluster, "lab", shown=current) == current
    assert any_cluster.get(*LEASE) is None
