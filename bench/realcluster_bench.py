"""Plan and apply against the real control plane (tests/realcluster): kgit against kubectl.

One control plane (etcd, kube-apiserver, controller manager, scheduler, KWOK) serves
the whole run. Each apply starts from an emptied cluster (``reset``); kubectl applies
first, then kgit, so kgit's plans then compare against kgit's own applied state, as a
user's would. kgit and kubectl (v1.36, built with the control plane) run as child
processes. With ``delay`` the clients reach the apiserver through ``DelayProxy`` (the
given delay each way), the stand-in for netem on a veth pair, which these kernels lack.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.cluster_bench import compiled_repo, kubectl_manifest_args
from bench.delay_proxy import DelayProxy
from bench.measure import KGIT, Samples, ratio, run_once
from tests.realcluster.controlplane import RealCluster, start, write_kubeconfig

BUILD = Path(__file__).resolve().parent.parent / "tests/realcluster/build.sh"


def bin_dir() -> Path:
    built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, check=True)
    return Path(built.stdout.strip().splitlines()[-1])


def _kgit(kubeconfig: Path, repo: Path, *args: str) -> tuple[float, float, int]:
    return run_once(
        [*KGIT, *args, "-f", str(repo / "cluster.yaml"), "--kubeconfig", str(kubeconfig)]
    )


def _kubectl(cluster: RealCluster, kubeconfig: Path, *args: str) -> tuple[float, float, int]:
    return run_once([str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig), *args])


def _record(samples: Samples, run: tuple[float, float, int]) -> None:
    seconds, peak, _code = run
    samples.seconds.append(seconds)
    samples.peak_mb.append(peak)


def _rounds(
    cluster: RealCluster, kubeconfig: Path, repo: Path, rounds: int, label: str
) -> list[str]:
    lines = []
    kube_apply, kgit_apply = (
        Samples("kubectl apply --server-side"),
        Samples("kgit apply --yes --no-wait"),
    )
    for _ in range(rounds):
        cluster.reset(timeout=600)
        _record(
            kube_apply,
            _kubectl(
                cluster,
                kubeconfig,
                "apply",
                "--server-side",
                "--field-manager=kgit",
                *kubectl_manifest_args(repo),
            ),
        )
        cluster.reset(timeout=600)
        _record(kgit_apply, _kgit(kubeconfig, repo, "apply", "--yes", "--no-wait"))
    lines += [
        kgit_apply.describe(),
        kube_apply.describe(),
        f"ratio kubectl/kgit (apply, {label}): {ratio(kube_apply, kgit_apply):.1f}x",
    ]
    kgit_plan, kube_diff = (
        Samples("kgit plan (unchanged)"),
        Samples("kubectl diff --server-side (unchanged)"),
    )
    for _ in range(rounds):
        _record(kgit_plan, _kgit(kubeconfig, repo, "plan", "--detailed-exitcode"))
        _record(
            kube_diff,
            _kubectl(
                cluster,
                kubeconfig,
                "diff",
                "--server-side",
                "--field-manager=kgit",
                "--force-conflicts",
                *kubectl_manifest_args(repo),
            ),
        )
    lines += [
        kgit_plan.describe(),
        kube_diff.describe(),
        f"ratio kubectl/kgit (plan, {label}): {ratio(kube_diff, kgit_plan):.1f}x",
    ]
    return lines


def bench_real(work: Path, objects: int, rounds: int, delays: tuple[float, ...]) -> list[str]:
    repo = compiled_repo(work, objects, "real-repo")
    cluster = start(bin_dir(), work / "realcluster", startup_timeout=180)
    lines = [
        f"## Real control plane (v1.36.3, KWOK nodes): {objects} objects, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    ]
    try:
        for delay in delays:
            if not delay:
                lines.append("### loopback")
                lines += _rounds(cluster, cluster.kubeconfig, repo, rounds, "loopback")
                continue
            port = int(cluster.url.rsplit(":", 1)[1])
            with DelayProxy(port, delay) as proxy:
                kubeconfig = write_kubeconfig(
                    work / f"delayed-{delay}",
                    f"https://127.0.0.1:{proxy.port}",
                    cluster.ca,
                    cluster.token,
                    "kgit-admin",
                )
                lines.append(f"### through a {delay * 1000:.0f} ms each-way delay proxy")
                lines += _rounds(
                    cluster, kubeconfig, repo, rounds, f"{delay * 1000:.0f} ms each way"
                )
    finally:
        cluster.stop()
    return lines
