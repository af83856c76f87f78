"""Compile: `kgit compile` against `kubectl kustomize` of the equivalent kustomization.

The kustomization holds the same Deployments/Services/Ingresses as plain resources (what
kgit renders before overlays) plus the same strategic-merge patches, so both tools do the
same work: read, patch, write.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from bench import synth
from bench.measure import KGIT, Samples, interleave, ratio, run_once
from compiler.compile import emit
from compiler.compile.load import load_all_trusted
from compiler.compile.pipeline import compile_tree
from compiler.core import yamlout
from compiler.core.sources import DirectoryTree


def write_kustomization(repo: Path, target: Path) -> None:
    """The same app objects without overlays as resources, plus the overlays as patches."""
    (spec,) = load_all_trusted((repo / "cluster.yaml").read_text())
    overlays = []
    for app in spec["spec"]["apps"]:
        overlays.extend(app.pop("overlays", []))
    plain = target / "plain"
    plain.mkdir(parents=True)
    (plain / "cluster.yaml").write_text(yamlout.dump(spec))
    compiled = compile_tree(DirectoryTree(plain))
    resources = []
    for path, data in compiled.files.items():
        if path.startswith("manifests/apps/"):
            dest = target / "resources" / path.removeprefix("manifests/apps/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            resources.append(dest.relative_to(target).as_posix())
    shutil.rmtree(plain)
    shutil.copytree(repo / "overlays", target / "overlays")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
        "patches": [{"path": p} for p in overlays],
    }
    (target / "kustomization.yaml").write_text(yamlout.dump(kustomization))


def kgit_runner(repo: Path, *, fresh: bool = False):
    """One `kgit compile`; with ``fresh``, out/ is removed first (untimed), so kgit writes
    every file, as kustomize writes every object; otherwise out/ is already up to date.
    The removal is flushed to disk before timing (os.sync), or the filesystem would still
    be busy with it while kgit creates its files."""

    def run() -> tuple[float, float]:
        if fresh:
            shutil.rmtree(repo / "out", ignore_errors=True)
            os.sync()
        seconds, peak, code = run_once([*KGIT, "compile", "-f", str(repo / "cluster.yaml")])
        assert code == 0, "kgit compile failed"
        return seconds, peak

    return run


def kustomize_runner(kdir: Path, kubectl: str):
    def run() -> tuple[float, float]:
        seconds, peak, code = run_once(
            [kubectl, "kustomize", str(kdir)], stdout_path=kdir.parent / "kustomize.out"
        )
        assert code == 0, "kubectl kustomize failed"
        return seconds, peak

    return run


def bench_versus_kustomize(work: Path, apps: int, nodes: int, rounds: int) -> list[str]:
    kubectl = shutil.which("kubectl")
    repo = synth.write_repo(work / f"repo-{apps}", apps=apps, nodes=nodes, external=0)
    lines = [f"## Compile: {apps} apps with one overlay each, {nodes} nodes"]
    first = Samples(f"kgit compile ({apps} apps, no out/ yet: writes every file)")
    again = Samples(f"kgit compile ({apps} apps, out/ up to date: writes nothing)")
    runners = [(first, kgit_runner(repo, fresh=True)), (again, kgit_runner(repo))]
    if kubectl is None:
        interleave(runners, rounds)
        return [*lines, first.describe(), again.describe(), "kubectl not found: no kustomize"]
    kdir = work / f"kustomize-{apps}"
    write_kustomization(repo, kdir)
    kustomize = Samples(f"kubectl kustomize ({apps} apps)")
    interleave([*runners, (kustomize, kustomize_runner(kdir, kubectl))], rounds)
    files = len(emit.read_out(repo / "out"))
    return [
        *lines,
        first.describe(),
        again.describe(),
        kustomize.describe(),
        f"ratio kustomize/kgit: {ratio(kustomize, first):.1f}x writing out/ (target >= 20x), "
        f"{ratio(kustomize, again):.1f}x with out/ up to date; {files} files in out/",
    ]


def bench_growth(work: Path, sizes: list[int], nodes: int, rounds: int) -> list[str]:
    lines = ["## Compile growth (time and peak memory)"]
    results: dict[int, Samples] = {}
    for apps in sizes:
        repo = synth.write_repo(work / f"growth-{apps}", apps=apps, nodes=nodes, external=10)
        samples = Samples(f"kgit compile ({apps} apps)")
        interleave([(samples, kgit_runner(repo))], rounds)
        results[apps] = samples
        lines.append(samples.describe())
    for small, large in itertools.pairwise(sizes):
        factor = large / small
        growth = results[large].median / results[small].median
        lines.append(
            f"{large} vs {small} apps: {growth:.1f}x the time for {factor:.0f}x the apps"
            + (" (target <= 12x)" if factor == 10 and small >= 1000 else "")
        )
    return lines
