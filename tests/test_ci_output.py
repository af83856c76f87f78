"""kgit's output as a CI log sees it: through a pipe, each line when it happens.

Issue 18, symptom 5: through a pipe, the plan and every ``configured`` line appeared at once
when the run ended, and a wait was silent until its timeout. These tests run the kgit
executable with stdout and stderr on pipes (no terminal) and time each line as it arrives.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.reconcile_apply_helpers import deployment, namespace, write_out

KGIT = Path(sys.executable).with_name("kgit")


def run_timed(argv: list[str], timeout: float = 120) -> tuple[int, list[tuple[float, str]]]:
    """Run kgit with both streams on one pipe; every line with the seconds since start."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(KGIT), *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=None
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            lines.append((time.monotonic() - start, raw.decode().rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    lines.append((time.monotonic() - start, "<exit>"))
    return code, lines


def _at(lines: list[tuple[float, str]], prefix: str) -> float:
    return next(t for t, text in lines if text.startswith(prefix))


def test_plan_and_results_reach_a_pipe_before_the_wait_ends(apiserver, tmp_path):
    apiserver.controllers.set("Deployment", "never")
    out_dir = tmp_path / "out"
    write_out(out_dir, [namespace("web"), deployment("api")])
    argv = ["apply", "--yes", "--timeout", "4s", "-O", str(out_dir)]

    code, lines = run_timed([*argv, "--kubeconfig", str(apiserver.kubeconfig)])

    assert code == 1, lines
    end = lines[-1][0]
    # The plan and the result of each write are in the log while kgit still waits: at
    # least 3 of the 4 seconds before it gives up, not all at once at the end.
    assert end - _at(lines, "Plan: 2 to create") >= 3, lines
    assert end - _at(lines, "Deployment.apps/web/api created") >= 3, lines


def test_stdout_is_line_buffered_when_it_is_a_pipe():
    """Python block-buffers a piped stdout; kgit asks for line buffering at start, so a
    line printed without an explicit flush still reaches a CI log when it is printed."""
    probe = (
        "import sys; from compiler.cli.app import line_buffered_when_piped; "
        "line_buffered_when_piped(); print(sys.stdout.line_buffering, sys.stderr.line_buffering)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "True True\n"


def test_a_long_wait_through_a_pipe_is_never_silent_for_more_than_15s(apiserver, tmp_path):
    apiserver.controllers.set("Deployment", "never")
    out_dir = tmp_path / "out"
    write_out(out_dir, [namespace("web"), deployment("api")])
    argv = ["apply", "--yes", "--timeout", "17s", "-O", str(out_dir)]

    code, lines = run_timed([*argv, "--kubeconfig", str(apiserver.kubeconfig)])

    assert code == 1, lines
    start = _at(lines, "Waiting for 1 object(s) to be ready...")
    during = [t for t, _ in lines if t >= start]
    assert max(b - a for a, b in itertools.pairwise(during)) <= 16, lines
    texts = [text for _, text in lines]
    assert "Deployment.apps/web/api pending: 0 of 2 updated replicas are available" in texts
    assert any(text.startswith("Still waiting: 0/1 ready, 1") for text in texts), texts
