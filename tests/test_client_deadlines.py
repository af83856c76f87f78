"""Every request has a deadline: a server that accepts connections and never answers
fails a plan within the retry policy's total time, with one sentence (issue 17 item 1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from compiler.core.errors import ClusterError
from compiler.reconcile.client import ClientOptions, connect
from compiler.reconcile.client.retry import RetryPolicy, no_jitter
from tests.apiserver.kubeconfig import write_kubeconfig
from tests.reconcile_plan_helpers import deployment, namespace, write_out


@pytest.fixture
def silent_server() -> Iterator[str]:
    """http://127.0.0.1:PORT of a listener that accepts every connection and never
    sends a byte (a hung API server, or a proxy whose backend is gone)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_discovery_against_a_silent_server_gives_up_within_the_total_time(silent_server, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kc", silent_server)
    options = ClientOptions(
        retry=RetryPolicy(max_attempts=10, base_delay=0.05, total_timeout=1.5, jitter=no_jitter),
        request_timeout=(0.5, 0.5),
    )
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            connect(str(kubeconfig), options=options)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "discovery hung against a server that never answers"
    elapsed = time.monotonic() - started
    [error] = outcome
    assert isinstance(error, ClusterError)
    assert str(error) == (
        f"cannot reach the Kubernetes API server at {silent_server} (context 'kgit-test'): "
        "timed out waiting for an answer"
    )
    # attempts of 0.5 s each, none starting after 1.5 s and none outlasting it
    assert elapsed < 5


def test_kgit_plan_against_a_silent_server_exits_with_one_sentence(silent_server, tmp_path):
    out = write_out(tmp_path / "out", [namespace("web"), deployment()])
    kubeconfig = write_kubeconfig(tmp_path / "kc", silent_server)
    command = [
        "timeout",
        "120",
        sys.executable,
        "-m",
        "compiler",
        "plan",
        "-f",
        str(tmp_path / "cluster.yaml"),
        "-O",
        str(out),
        "--kubeconfig",
        str(kubeconfig),
        "--request-timeout",
        "3s",
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr  # 124 would be timeout(1) killing it
    assert done.stderr.splitlines()[-1] == (
        f"error: cannot reach the Kubernetes API server at {silent_server} "
        "(context 'kgit-test'): timed out waiting for an answer"
    )
    assert elapsed < 60


def test_the_host_pipeline_node_api_gives_up_on_a_silent_server(silent_server, monkeypatch):
    # kgit hosts apply reads and patches Nodes through its own NodeApi: it too must not hang
    # on a server that accepts and never answers.
    from compiler.hosts import nodes
    from compiler.hosts.nodes import NodeApi, NodeApiError

    monkeypatch.setattr(nodes, "REQUEST_TIMEOUT", (1.0, 1.0))
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": silent_server}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    api = NodeApi(kubeconfig)
    started = time.monotonic()
    try:
        with pytest.raises(NodeApiError, match="listing Nodes: cannot reach the API server"):
            api.nodes()
    finally:
        api.close()
    assert time.monotonic() - started < 20  # urllib3's own retries included
