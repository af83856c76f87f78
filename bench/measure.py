"""Run commands as child processes and measure wall time and peak memory of each run.

Pairs are interleaved (A B A B ...) so that machine noise hits both sides alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Samples:
    label: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def describe(self) -> str:
        low, high = min(self.seconds), max(self.seconds)
        memory = f", peak {max(self.peak_mb):.0f} MB" if self.peak_mb else ""
        return (
            f"{self.label}: median {self.median:.3f}s (min {low:.3f}s, max {high:.3f}s, "
            f"n={len(self.seconds)}){memory}"
        )


def run_once(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdout_path: Path | None = None,
) -> tuple[float, float, int]:
    """(seconds, peak resident MB, exit code) of one child process."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()  # type: ignore[union-attr]
    if proc.returncode not in (0, 1, 2):
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}): {stderr.decode()[-2000:]}"
        )
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def interleave(
    pairs: Sequence[tuple[Samples, Callable[[], tuple[float, float]]]],
    rounds: int,
) -> None:
    """Run each side once per round, in turn, recording seconds and peak MB."""
    for _ in range(rounds):
        for samples, runner in pairs:
            seconds, peak = runner()
            samples.seconds.append(seconds)
            samples.peak_mb.append(peak)


def ratio(slow: Samples, fast: Samples) -> float:
    return slow.median / fast.median if fast.median else float("inf")
