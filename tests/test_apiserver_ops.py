"""Fault injection, simulated controllers, the request log and the standalone server."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.server import ApiServer


def get(server: ApiServer, path: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def wait_for(predicate: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}


# https://kubernetes.io/docs/reference/using-api/api-concepts/ (429 with Retry-After)
def test_fault_returns_status_with_retry_after_for_next_n(apiserver: ApiServer) -> None:
    apiserver.faults.error(429, verb="list", path="/configmaps$", times=2)
    assert get(apiserver, "/api/v1/namespaces/default/configmaps")[0] == 429
    code, headers, body = get(apiserver, "/api/v1/namespaces/default/configmaps")
    assert (code, headers["Retry-After"], body["reason"]) == (429, "1", "TooManyRequests")
    assert get(apiserver, "/api/v1/namespaces/default/configmaps")[0] == 200


def test_fault_probability_is_deterministic_with_seed(apiserver: ApiServer) -> None:
    def run() -> list[int]:
        apiserver.faults.clear()
        apiserver.faults.seed(7)
        apiserver.faults.error(503, path="/api/v1/namespaces$", probability=0.5)
        return [get(apiserver, "/api/v1/namespaces")[0] for _ in range(12)]

    first = run()
    assert first == run()
    assert set(first) == {200, 503}


def test_fault_after_n_lets_n_requests_through_then_fails_every_one(apiserver: ApiServer) -> None:
    apiserver.faults.error(500, path="/api/v1/namespaces$", after=3)
    codes = [get(apiserver, "/api/v1/namespaces")[0] for _ in range(6)]
    assert codes == [200, 200, 200, 500, 500, 500]
    assert get(apiserver, "/version")[0] == 200  # other paths do not count or fail


def test_fault_drops_connection(apiserver: ApiServer) -> None:
    apiserver.faults.drop(verb="GET", path="/version", times=1)
    port = apiserver.url.rsplit(":", 1)[1]
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.request("GET", "/version")
        conn.getresponse()
    assert get(apiserver, "/version")[0] == 200


def test_fault_latency(apiserver: ApiServer) -> None:
    fault = apiserver.faults.latency(0.05, path="/version", times=1)
    assert get(apiserver, "/version")[0] == 200
    assert fault.hits == 1


def test_request_log_counts_per_verb_and_resource(apiserver: ApiServer) -> None:
    apiserver.requests.clear()
    get(apiserver, "/api/v1/namespaces/default/configmaps")
    get(apiserver, "/api/v1/namespaces/default/configmaps/missing")
    assert apiserver.requests.count("list", "configmaps") == 1
    assert apiserver.requests.count("get", "configmaps", status=404) == 1
    assert apiserver.requests.counts()[("list", "configmaps")] == 1


def test_deployment_becomes_ready_immediately(apiserver: ApiServer) -> None:
    apiserver.create(DEPLOY)
    status = apiserver.get("apps/v1", "Deployment", "web", "default")["status"]
    assert (
        status["observedGeneration"],
        status["readyReplicas"],
        status["availableReplicas"],
        status["updatedReplicas"],
    ) == (1, 2, 2, 2)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Available": "True",
        "Progressing": "True",
    }


def test_deployment_becomes_ready_after_delay(apiserver: ApiServer) -> None:
    # Long enough that the first read surely comes before readiness, even on a loaded machine.
    apiserver.controllers.set("Deployment", "ready", delay=1.0)
    apiserver.create(DEPLOY)
    first = apiserver.get("apps/v1", "Deployment", "web", "default")["status"]
    assert "readyReplicas" not in first
    assert wait_for(
        lambda: (
            apiserver.get("apps/v1", "Deployment", "web", "default")["status"].get("readyReplicas")
            == 2
        )
    )


def test_deployment_never_ready(apiserver: ApiServer) -> None:
    apiserver.controllers.set("Deployment", "never")
    apiserver.create(DEPLOY)
    status = apiserver.get("apps/v1", "Deployment", "web", "default")["status"]
    assert status["unavailableReplicas"] == 2 and "readyReplicas" not in status


def test_deployment_fails_with_event(apiserver: ApiServer) -> None:
    apiserver.controllers.set("Deployment", "fail")
    apiserver.create(DEPLOY)
    status = apiserver.get("apps/v1", "Deployment", "web", "default")["status"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    (event,) = apiserver.objects(kind="Event", namespace="default")
    assert (event["reason"], event["involvedObject"]["name"]) == ("ProgressDeadlineExceeded", "web")


@pytest.mark.parametrize(
    ("mode", "condition"),
    [
        pytest.param("ready", "Complete", id="complete"),
        pytest.param("fail", "Failed", id="failed"),
    ],
)
def test_job_completes_or_fails(apiserver: ApiServer, mode: str, condition: str) -> None:
    apiserver.controllers.set("Job", mode)
    job = apiserver.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "m", "image": "busybox:1"}],
                    }
                }
            },
        }
    )
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    status = apiserver.get("batch/v1", "Job", "migrate", "default")["status"]
    assert condition in {c["type"] for c in status["conditions"]}


def test_daemonset_ready_counts(apiserver: ApiServer) -> None:
    apiserver.controllers.nodes = 3
    ds = {**DEPLOY, "kind": "DaemonSet"}
    ds["spec"] = {k: v for k, v in DEPLOY["spec"].items() if k != "replicas"}
    apiserver.create(ds)
    status = apiserver.get("apps/v1", "DaemonSet", "web", "default")["status"]
    assert (
        status["desiredNumberScheduled"],
        status["numberReady"],
        status["updatedNumberScheduled"],
        status["numberAvailable"],
    ) == (3, 3, 3, 3)


def test_standalone_prints_url_and_serves(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.apiserver", "--port", "0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/version", timeout=10) as resp:
            assert json.loads(resp.read())["gitVersion"] == "v1.32.4"
        assert f"server: {url}" in kubeconfig.read_text()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_bench_reports_rates(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timed assertion: shows requests/second (run with -s to see them)."""
    from tests.apiserver.bench import run
    from tests.apiserver.server import start_server

    server = start_server()
    try:
        rates = run(server, objects=200, requests=60, threads=2)
    finally:
        server.stop()
    print({k: round(v) for k, v in rates.items()})
    assert set(rates) == {"get", "list-selected", "list-1000", "apply"}
