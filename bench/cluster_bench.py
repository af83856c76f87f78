"""Plan and apply against the test API server: kgit against kubectl, same objects.

The server runs inside this process (a thread); kgit and kubectl run as child processes,
so their time and memory are measured alone, and the server's request log counts what
each side asked for.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import synth
from bench.measure import KGIT, Samples, ratio, run_once
from compiler.compile import emit
from compiler.compile.load import load_all_trusted
from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.core import yamlout
from compiler.core.sources import DirectoryTree
from tests.apiserver.server import ApiServer, start_server

# A real kube-apiserver spends milliseconds per request waiting on etcd and admission; the
# in-memory test server answers in well under one. Runs "with modelled latency" add this
# wait to every request (it sleeps, so it costs no CPU): the reference figures of the
# issue (kubectl apply --server-side of 3,000 objects in 23 s against a kube-apiserver)
# put a real request at about 7 ms. 5 ms reproduces that apply (22-23 s here) but makes
# kubectl diff slower than the real 32 s (~46 s here); RESULTS.md gives both.
MODELLED_LATENCY = 0.005
# Apps render a Deployment, a Service and an Ingress each: 1,000 apps ~ 3,000 objects.
OBJECTS_PER_APP = 3


def compiled_repo(work: Path, objects: int, name: str) -> Path:
    repo = synth.write_repo(work / name, apps=objects // OBJECTS_PER_APP, nodes=3, external=0)
    compiled = compile_tree(DirectoryTree(repo))
    emit.write_out(repo / "out", compiled.files)
    return repo


def change_images(repo: Path, fraction: float) -> int:
    """Bump the image tag of a fraction of the apps and recompile; returns how many."""
    (spec,) = load_all_trusted((repo / "cluster.yaml").read_text())
    apps = spec["spec"]["apps"]
    step = max(1, round(1 / fraction))
    changed = 0
    for app in apps[::step]:
        app["image"] = app["image"].rsplit(":", 1)[0] + ":9.9.9"
        changed += 1
    (repo / "cluster.yaml").write_text(yamlout.dump(spec))
    previous = emit.read_out(repo / "out")
    compiled = compile_tree(DirectoryTree(repo), CompileOptions(previous=previous))
    emit.write_out(repo / "out", compiled.files)
    return changed


def kubectl_manifest_args(repo: Path) -> list[str]:
    # kubectl applies files in path order and does not sort by kind: namespaces go first.
    return [
        "-f",
        str(repo / "out/manifests/namespaces.yaml"),
        "-R",
        "-f",
        str(repo / "out/manifests"),
    ]


def _kgit(server: ApiServer, repo: Path, *args: str) -> tuple[float, float, int]:
    return run_once(
        [*KGIT, *args, "-f", str(repo / "cluster.yaml"), "--kubeconfig", str(server.kubeconfig)]
    )


def _kubectl(server: ApiServer, kubectl: str, *args: str) -> tuple[float, float, int]:
    return run_once([kubectl, "--kubeconfig", str(server.kubeconfig), *args])


def _measure(samples: Samples, server: ApiServer, run) -> int:
    """Run once, record time and memory, and return the number of requests it made."""
    before = len(server.requests)
    seconds, peak, _code = run()  # run_once refuses exit codes other than 0-2
    samples.seconds.append(seconds)
    samples.peak_mb.append(peak)
    return len(server.requests) - before


def _server(kubeconfig: Path, latency: float) -> ApiServer:
    server = start_server(kubeconfig=kubeconfig)
    if latency:
        server.faults.latency(latency)
    return server


def _latency_label(latency: float) -> str:
    return f"modelled latency {latency * 1000:.0f} ms/request" if latency else "no added latency"


def bench_plan(work: Path, objects: int, rounds: int, latency: float = 0.0) -> list[str]:
    kubectl = shutil.which("kubectl")
    repo = compiled_repo(work, objects, f"plan-repo-{latency}")
    server = _server(work / f"plan-kubeconfig-{latency}", latency)
    lines = [f"## Plan: {objects} applied objects (test API server, {_latency_label(latency)})"]
    try:
        seconds, _peak, code = _kgit(server, repo, "apply", "--yes", "--no-wait")
        if code != 0:
            raise RuntimeError("initial kgit apply failed")
        lines.append(f"setup: kgit apply of the objects took {seconds:.1f}s")
        for label, fraction in (("unchanged", 0.0), ("1% changed", 0.01)):
            if fraction:
                lines.append(f"changed the image of {change_images(repo, fraction)} apps")
            kgit = Samples(f"kgit plan ({label})")
            kube = Samples(f"kubectl diff --server-side ({label})")
            kgit_requests = kube_requests = 0
            for _ in range(rounds):
                kgit_requests = _measure(
                    kgit, server, lambda: _kgit(server, repo, "plan", "--detailed-exitcode")
                )
                if kubectl:
                    kube_requests = _measure(
                        kube,
                        server,
                        lambda: _kubectl(
                            server,
                            kubectl,
                            "diff",
                            "--server-side",
                            "--field-manager=kgit",
                            "--force-conflicts",
                            *kubectl_manifest_args(repo),
                        ),
                    )
            lines.append(f"{kgit.describe()}; {kgit_requests} requests")
            if kubectl:
                lines.append(f"{kube.describe()}; {kube_requests} requests")
                target = 10 if not fraction else 5
                lines.append(f"ratio kubectl/kgit: {ratio(kube, kgit):.1f}x (target >= {target}x)")
    finally:
        server.stop()
    return lines


def bench_apply(work: Path, objects: int, rounds: int, latency: float = 0.0) -> list[str]:
    kubectl = shutil.which("kubectl")
    repo = compiled_repo(work, objects, f"apply-repo-{latency}")
    lines = [
        f"## Apply: {objects} new objects, a fresh test API server per run "
        f"({_latency_label(latency)})"
    ]
    kgit = Samples("kgit apply --yes --no-wait")
    kube = Samples("kubectl apply --server-side")
    kgit_requests = kube_requests = 0
    for i in range(rounds):
        server = _server(work / f"apply-kgit-{i}-{latency}", latency)
        try:
            kgit_requests = _measure(
                kgit, server, lambda s=server: _kgit(s, repo, "apply", "--yes", "--no-wait")
            )
        finally:
            server.stop()
        if kubectl:
            server = _server(work / f"apply-kubectl-{i}-{latency}", latency)
            try:
                kube_requests = _measure(
                    kube,
                    server,
                    lambda s=server: _kubectl(
                        s,
                        kubectl,
                        "apply",
                        "--server-side",
                        "--field-manager=kgit",
                        *kubectl_manifest_args(repo),
                    ),
                )
            finally:
                server.stop()
    lines.append(f"{kgit.describe()}; {kgit_requests} requests")
    if kubectl:
        lines.append(f"{kube.describe()}; {kube_requests} requests")
        lines.append(f"ratio kubectl/kgit: {ratio(kube, kgit):.1f}x (target >= 2x)")
    return lines
