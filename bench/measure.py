"""Run commands as child processes and measure wall time and peak memory of each run.

Pairs are interleaved (A B A B ...) so that machine noise hits both sides alike.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
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


KGIT = [sys.executable, "-m", "compiler"]  # kgit as this Python runs it
_launcher: subprocess.Popen[str] | None = None


def _launch(request: dict[str, object]) -> dict[str, object]:
    """Run one command through bench.launcher (see there why not directly)."""
    global _launcher
    if _launcher is None:
        _launcher = subprocess.Popen(
            [sys.executable, "-m", "bench.launcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    assert _launcher.stdin is not None and _launcher.stdout is not None
    _launcher.stdin.write(json.dumps(request) + "\n")
    _launcher.stdin.flush()
    return json.loads(_launcher.stdout.readline())


def start_launcher() -> None:
    """Start the launcher now, while this process is still small (bench.run does)."""
    _launch({"argv": ["true"]})


def run_once(argv: Sequence[str], *, stdout_path: Path | None = None) -> tuple[float, float, int]:
    """(seconds, peak resident MB, exit code) of one child process; exit codes 0-2 only
    (1 and 2 are kgit's "error" and "changes present")."""
    result = _launch({"argv": list(argv), "stdout_path": str(stdout_path) if stdout_path else None})
    code = int(result["code"])  # type: ignore[call-overload]
    if code not in (0, 1, 2):
        raise RuntimeError(f"{' '.join(argv)} failed ({code}): {result['stderr']}")
    return float(result["seconds"]), int(result["peak_kb"]) / 1024, code  # type: ignore[arg-type]


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
