"""Run the test API server standalone: ``python -m tests.apiserver --port 0
--kubeconfig /tmp/kubeconfig``. Prints the URL on the first line and serves until
SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tests.apiserver.server import start_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.apiserver", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig here")
    parser.add_argument("--seed", type=int, default=0, help="seed for fault injection")
    args = parser.parse_args(argv)
    # Handlers go in before the URL is printed: a caller may send SIGTERM as soon as it
    # has read the URL, and must still see a clean exit (0).
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    server = start_server(port=args.port, kubeconfig=args.kubeconfig, seed=args.seed)
    print(server.url, flush=True)
    if args.kubeconfig:
        print(f"kubeconfig: {server.kubeconfig}", flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
