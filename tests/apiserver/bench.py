"""Requests per second of the test API server: ``python -m tests.apiserver.bench``.

Loads N ConfigMaps, then times GETs, label-selected LISTs (``list-selected``: N/50
objects each; ``list-1000``: up to 1,000 objects each) and server-side applies from a few
client threads. Prints numbers; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request

from tests.apiserver.server import ApiServer, start_server


def _call(
    url: str,
    method: str = "GET",
    body: dict[str, object] | None = None,
    ctype: str = "application/json",
) -> None:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def run(server: ApiServer, objects: int, requests: int, threads: int) -> dict[str, float]:
    batches = max(1, objects // 1000)
    for i in range(objects):
        server.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"cm-{i}",
                    "labels": {"app": f"a{i % 50}", "batch": f"b{i % batches}"},
                },
                "data": {"k": str(i)},
            }
        )
    base = f"{server.url}/api/v1/namespaces/default/configmaps"
    work = {
        "get": lambda i: _call(f"{base}/cm-{i % objects}"),
        "list-selected": lambda i: _call(f"{base}?labelSelector=app%3Da{i % 50}"),
        "list-1000": lambda i: _call(f"{base}?labelSelector=batch%3Db{i % batches}"),
        "apply": lambda i: _call(
            f"{base}/cm-{i % objects}?fieldManager=bench&force=true",
            "PATCH",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i % objects}"},
                "data": {"k": "v"},
            },
            "application/apply-patch+yaml",
        ),
    }
    out = {}
    for name, fn in work.items():
        per_thread = requests // threads

        def worker(offset: int, fn: object = fn, per_thread: int = per_thread) -> None:
            for j in range(per_thread):
                fn(offset * per_thread + j)  # type: ignore[operator]

        started = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        out[name] = per_thread * threads / (time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    server = start_server()
    try:
        for name, rate in run(server, args.objects, args.requests, args.threads).items():
            print(f"{name:14s} {rate:8.0f} req/s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
