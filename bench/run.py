"""Run every benchmark and print figures and ratios (`make bench`).

Usage: python -m bench.run [--quick] [--only compile,startup,plan,apply]
Figures are printed, never asserted: record them in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    kubectl = shutil.which("kubectl")
    version = ""
    if kubectl:
        version = subprocess.run(
            [kubectl, "version", "--client"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; kubectl: {version or 'absent'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (smoke run)")
    parser.add_argument("--only", default="startup,compile,plan,apply")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"# kgit benchmarks\nmachine: {machine()}\n")
    with tempfile.TemporaryDirectory(prefix="kgit-bench-") as tmp:
        work = Path(tmp)
        sections: list[list[str]] = []
        if "startup" in only:
            from bench.startup_bench import bench_startup

            sections.append(bench_startup(REPO, rounds=3 if args.quick else 10))
        if "compile" in only:
            from bench.compile_bench import bench_growth, bench_versus_kustomize

            apps = 100 if args.quick else 1000
            sections.append(bench_versus_kustomize(work, apps, 100, rounds=1 if args.quick else 3))
            sizes = [10, 100] if args.quick else [100, 1000, 10000]
            sections.append(bench_growth(work, sizes, 100, rounds=1 if args.quick else 3))
        if "plan" in only or "apply" in only:
            from bench.cluster_bench import bench_apply, bench_plan

            objects = 300 if args.quick else 3000
            if "plan" in only:
                sections.append(bench_plan(work, objects, rounds=1 if args.quick else 3))
            if "apply" in only:
                sections.append(bench_apply(work, objects, rounds=1 if args.quick else 3))
        for lines in sections:
            print("\n".join(lines) + "\n", flush=True)


if __name__ == "__main__":
    main()
