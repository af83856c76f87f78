"""Readiness as `kubectl rollout status` computes it, and the report of what is not ready."""

from __future__ import annotations

import io

import pytest

from compiler.core.identity import ObjectId
from compiler.reconcile.wait import Readiness, State, WaitError, WaitOptions, readiness, wait_for

DEPLOY = ObjectId("apps/v1", "Deployment", "web", "nginx")
DS = ObjectId("apps/v1", "DaemonSet", "ingress-nginx", "controller")
STS = ObjectId("apps/v1", "StatefulSet", "db", "pg")
JOB = ObjectId("batch/v1", "Job", "web", "migrate")
CRD = ObjectId("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")


def obj(name: str, generation: int, spec: dict, status: dict) -> dict:
    return {"metadata": {"name": name, "generation": generation}, "spec": spec, "status": status}


# Expected states and messages follow kubectl's rollout_status.go, case by case.
@pytest.mark.parametrize(
    ("ref", "live", "state", "message"),
    [
        pytest.param(
            DEPLOY,
            obj("nginx", 2, {"replicas": 3}, {"observedGeneration": 1}),
            State.PENDING,
            "waiting for the deployment spec update to be observed",
            id="deployment-generation-not-observed",
        ),
        pytest.param(
            DEPLOY,
            obj("nginx", 2, {"replicas": 3}, {"observedGeneration": 2, "updatedReplicas": 1}),
            State.PENDING,
            "1 out of 3 new replicas have been updated",
            id="deployment-updating",
        ),
        pytest.param(
            DEPLOY,
            obj(
                "nginx",
                2,
                {"replicas": 3},
                {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 4},
            ),
            State.PENDING,
            "1 old replicas are pending termination",
            id="deployment-old-replicas",
        ),
        pytest.param(
            DEPLOY,
            obj(
                "nginx",
                2,
                {"replicas": 3},
                {
                    "observedGeneration": 2,
                    "updatedReplicas": 3,
                    "replicas": 3,
                    "availableReplicas": 2,
                },
            ),
            State.PENDING,
            "2 of 3 updated replicas are available",
            id="deployment-not-available",
        ),
        pytest.param(
            DEPLOY,
            obj(
                "nginx",
                2,
                {"replicas": 3},
                {
                    "observedGeneration": 2,
                    "updatedReplicas": 3,
                    "replicas": 3,
                    "availableReplicas": 3,
                },
            ),
            State.READY,
            "deployment 'nginx' successfully rolled out",
            id="deployment-done",
        ),
        pytest.param(
            DEPLOY,
            obj(
                "nginx",
                1,
                {"replicas": 3},
                {
                    "observedGeneration": 1,
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                        }
                    ],
                },
            ),
            State.FAILED,
            "deployment 'nginx' exceeded its progress deadline",
            id="deployment-deadline",
        ),
        pytest.param(
            DEPLOY,
            obj("nginx", 1, {"replicas": 0}, {"observedGeneration": 1}),
            State.READY,
            "deployment 'nginx' successfully rolled out",
            id="deployment-scaled-to-zero",
        ),
        pytest.param(
            DS,
            obj(
                "controller",
                1,
                {},
                {
                    "observedGeneration": 1,
                    "desiredNumberScheduled": 2,
                    "updatedNumberScheduled": 2,
                    "numberAvailable": 1,
                },
            ),
            State.PENDING,
            "1 of 2 updated pods are available",
            id="daemonset-pending",
        ),
        pytest.param(
            DS,
            obj("controller", 1, {"updateStrategy": {"type": "OnDelete"}}, {}),
            State.READY,
            "daemon set 'controller' uses OnDelete: no rollout to wait for",
            id="daemonset-on-delete",
        ),
        pytest.param(
            STS,
            obj("pg", 1, {"replicas": 2}, {"observedGeneration": 1, "readyReplicas": 1}),
            State.PENDING,
            "waiting for 1 pods to be ready",
            id="statefulset-not-ready",
        ),
        pytest.param(
            STS,
            obj(
                "pg",
                1,
                {"replicas": 2},
                {
                    "observedGeneration": 1,
                    "readyReplicas": 2,
                    "updatedReplicas": 1,
                    "currentRevision": "pg-1",
                    "updateRevision": "pg-2",
                },
            ),
            State.PENDING,
            "rolling update in progress: 1 pods at the new revision",
            id="statefulset-rolling",
        ),
        pytest.param(
            STS,
            obj(
                "pg",
                1,
                {
                    "replicas": 2,
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
                },
                {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1},
            ),
            State.READY,
            "partitioned roll out complete: 1 new pods have been updated",
            id="statefulset-partitioned",
        ),
        pytest.param(
            JOB,
            obj("migrate", 1, {}, {"conditions": [{"type": "Complete", "status": "True"}]}),
            State.READY,
            "job completed",
            id="job-complete",
        ),
        pytest.param(
            JOB,
            obj(
                "migrate",
                1,
                {},
                {
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": "Job has reached the specified backoff limit",
                        }
                    ]
                },
            ),
            State.FAILED,
            "job failed: BackoffLimitExceeded Job has reached the specified backoff limit",
            id="job-failed",
        ),
        pytest.param(
            CRD,
            obj(
                "widgets.example.com",
                1,
                {},
                {"conditions": [{"type": "Established", "status": "True"}]},
            ),
            State.READY,
            "established",
            id="crd-established",
        ),
        pytest.param(JOB, None, State.PENDING, "not found", id="missing"),
    ],
)
def test_readiness(ref, live, state, message):
    assert readiness(ref, live) == Readiness(state, message)


class FakeCluster:
    def __init__(self, objects: dict[ObjectId, dict], events: dict[ObjectId, list[dict]]):
        self.objects = objects
        self.events = events

    def read(self, refs):
        return {ref: self.objects.get(ref) for ref in refs}

    def events_for(self, ref):
        return self.events.get(ref, [])


def test_wait_reports_every_object_not_ready_with_conditions_and_events():
    stuck = obj(
        "nginx",
        1,
        {"replicas": 1},
        {
            "observedGeneration": 1,
            "updatedReplicas": 0,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "message": "no pods",
                }
            ],
        },
    )
    failed = obj(
        "migrate",
        1,
        {},
        {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
    )
    done = obj(
        "widgets.example.com", 1, {}, {"conditions": [{"type": "Established", "status": "True"}]}
    )
    events = {
        DEPLOY: [
            {
                "lastTimestamp": "2026-01-01T00:00:02Z",
                "type": "Warning",
                "reason": "FailedCreate",
                "message": "quota exceeded",
            },
            {
                "lastTimestamp": "2026-01-01T00:00:01Z",
                "type": "Normal",
                "reason": "ScalingReplicaSet",
                "message": "scaled up",
            },
        ]
    }
    cluster = FakeCluster({DEPLOY: stuck, JOB: failed, CRD: done}, events)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    out = io.StringIO()
    with pytest.raises(WaitError) as caught:
        wait_for(
            cluster,
            [CRD, DEPLOY, JOB],
            WaitOptions(timeout=3, interval=1, progress=False),
            out=out,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert str(caught.value) == (
        "2 objects not ready (timeout 3s):\n"
        "  Deployment.apps/web/nginx: timed out: 0 out of 1 new replicas have been updated\n"
        "    condition Available=False (MinimumReplicasUnavailable): no pods\n"
        "    event 2026-01-01T00:00:01Z Normal ScalingReplicaSet: scaled up\n"
        "    event 2026-01-01T00:00:02Z Warning FailedCreate: quota exceeded\n"
        "  Job.batch/web/migrate: failed: job failed: BackoffLimitExceeded\n"
        "    condition Failed=True (BackoffLimitExceeded)"
    )
    assert now[0] == 3  # waited for the stuck one until the timeout, not longer
    assert out.getvalue().splitlines() == [
        "Waiting for 3 object(s) to be ready...",
        "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com ready: established",
        "Deployment.apps/web/nginx pending: 0 out of 1 new replicas have been updated",
        "Job.batch/web/migrate failed: job failed: BackoffLimitExceeded",
    ]


def test_wait_on_the_test_api_server_reports_a_failed_job_with_its_event(apiserver):
    from tests.reconcile_apply_helpers import FAST, client_for, converge, namespace

    apiserver.controllers.set("Job", "fail")
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "web"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m:1"}]}
            }
        },
    }
    from compiler.reconcile.results import ApplyError

    with pytest.raises(ApplyError) as caught:
        converge(client_for(apiserver), [namespace("web"), job], FAST)
    lines = caught.value.message.splitlines()
    assert lines[:3] == [
        "1 object not ready (timeout 5s):",
        "  Job.batch/web/migrate: failed: job failed: BackoffLimitExceeded Job has reached the "
        "specified backoff limit",
        "    condition FailureTarget=True (BackoffLimitExceeded): Job has reached the specified "
        "backoff limit",
    ]
    assert lines[-1].endswith(
        " Warning BackoffLimitExceeded: Job has reached the specified backoff limit"
    )


def test_without_a_terminal_progress_is_plain_lines_by_default():
    established = obj(
        "widgets.example.com", 1, {}, {"conditions": [{"type": "Established", "status": "True"}]}
    )
    out = io.StringIO()  # not a terminal: isatty() is False
    wait_for(FakeCluster({CRD: established}, {}), [CRD], WaitOptions(timeout=1), out=out)
    assert out.getvalue() == (
        "Waiting for 1 object(s) to be ready...\n"
        "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com ready: established\n"
    )


class ChangingCluster(FakeCluster):
    """A Deployment whose controller makes progress at t=20s (``now`` is the fake clock)."""

    def __init__(self, now: list[float]):
        super().__init__({}, {})
        self.now = now

    def read(self, refs):
        updated = 1 if self.now[0] >= 20 else 0
        status = {"observedGeneration": 1, "updatedReplicas": updated, "replicas": updated}
        return {DEPLOY: obj("nginx", 1, {"replicas": 2}, status)}


def test_waiting_prints_each_change_of_state_and_a_heartbeat_every_15s():
    """Issue 18, symptom 5: through a pipe a wait printed one line, then nothing until its
    timeout. Now: a line per change of an object's state, and one at least every 15 s."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    out = io.StringIO()
    with pytest.raises(WaitError):
        wait_for(
            ChangingCluster(now),
            [DEPLOY],
            WaitOptions(timeout=50, interval=1, progress=False),
            out=out,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert out.getvalue().splitlines() == [
        "Waiting for 1 object(s) to be ready...",
        "Deployment.apps/web/nginx pending: 0 out of 2 new replicas have been updated",
        "Still waiting: 0/1 ready, 15s elapsed",
        "Deployment.apps/web/nginx pending: 1 out of 2 new replicas have been updated",
        "Still waiting: 0/1 ready, 35s elapsed",
    ]
