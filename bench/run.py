"""Run every benchmark and print figures and ratios (`make bench`).

Usage: python -m bench.run [--quick] [--only compile,startup,plan,apply,hosts]
Figures are printed, never asserted: record them in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.measure import start_launcher

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    kubectl = shutil.which("kubectl")
    version = ""
    if kubectl:
        lines = subprocess.run(
            [kubectl, "version", "--client"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        version = lines[0] if lines else "?"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; kubectl: {version or 'absent'}"
    )


def compile_bytecode() -> None:
    """Write kgit's .pyc files first, as `pip install` does for an installed package.

    The repository's .venv holds kgit as an editable install; where PYTHONDONTWRITEBYTECODE
    is set (it is on these machines) every run would compile kgit's modules from source
    (~70 ms), which is not what a user's `kgit` does.
    """
    compileall.compile_dir(REPO / "compiler", quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (smoke run)")
    parser.add_argument("--only", default="startup,compile,plan,apply,hosts")
    args = parser.parse_args()
    # The benchmarks' API server is the in-repo test server: plain HTTP on 127.0.0.1 with
    # a token in its kubeconfig, which kgit refuses to send over HTTP without the opt-in.
    os.environ.setdefault("KGIT_ALLOW_INSECURE_HTTP", "1")
    only = set(args.only.split(","))
    print(f"# kgit benchmarks\nmachine: {machine()}\n")
    compile_bytecode()
    start_launcher()  # before this process grows: see bench/launcher.py
    rounds = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="kgit-bench-") as tmp:
        work = Path(tmp)
        if "startup" in only:
            from bench.startup_bench import bench_startup

            show(bench_startup(REPO, rounds=3 if args.quick else 10))
        if "compile" in only:
            from bench.compile_bench import bench_growth, bench_versus_kustomize

            apps = 100 if args.quick else 1000
            show(bench_versus_kustomize(work, apps, 100, rounds=rounds))
            sizes = [10, 100] if args.quick else [100, 1000, 10000]
            show(bench_growth(work, sizes, 100, rounds=rounds))
        if "plan" in only or "apply" in only:
            from bench.cluster_bench import MODELLED_LATENCY, bench_apply, bench_plan

            objects = 300 if args.quick else 3000
            # Without added latency once (CPU cost of each side), then with the modelled
            # latency of a real API server, where the figures that matter are measured.
            for latency, times in ((0.0, 1), (MODELLED_LATENCY, rounds)):
                if "plan" in only:
                    show(bench_plan(work, objects, rounds=times, latency=latency))
                if "apply" in only:
                    show(bench_apply(work, objects, rounds=times, latency=latency))
        if "hosts" in only:
            from bench.hosts_bench import bench_hosts_plan

            show(bench_hosts_plan(20 if args.quick else 100))


def show(lines: list[str]) -> None:
    print("\n".join(lines) + "\n", flush=True)


if __name__ == "__main__":
    main()
