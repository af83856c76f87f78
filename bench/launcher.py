"""Runs the measured commands for bench.measure, one JSON request per line on stdin.

The benchmark process grows large (it compiles, and holds the test API server and its
objects). A child it starts directly inherits its memory high-water mark until exec, so
the child's peak RSS (wait4) would report the benchmark's memory, not the command's.
This launcher is started first and stays small: the commands it starts report their own
peak. It answers each request with one JSON line: seconds, peak KB, exit code, stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def run(argv: list[str], stdout_path: str | None) -> dict[str, object]:
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    finally:
        if stdout_path:
            out.close()  # type: ignore[union-attr]
    return {
        "seconds": seconds,
        "peak_kb": usage.ru_maxrss,
        "code": os.waitstatus_to_exitcode(status),
        "stderr": stderr.decode("utf-8", "replace")[-2000:],
    }


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run(request["argv"], request.get("stdout_path"))), flush=True)


if __name__ == "__main__":
    main()
