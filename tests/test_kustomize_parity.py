"""Overlay semantics against the reference: every case of tests/overlay_cases/ is applied by
kgit and by ``kubectl kustomize`` (kustomize v5), and the resulting objects must be equal.

Each case directory holds ``base.yaml`` (the app's objects) and ``overlay.yaml`` (a kgit
overlay file). The test translates the overlay into the equivalent kustomization: strategic
merge patches become ``patches: [{path}]``, JsonPatch documents ``patches: [{target, path}]``
and Resources documents extra ``resources:``, in the same order.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.compile.overlay import JsonPatch, Resources, apply_overlay, parse_overlay

CASES = Path(__file__).parent / "overlay_cases"
KUBECTL = shutil.which("kubectl")


def _case_ids() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "overlay.yaml").is_file())


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _by_id(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    keyed = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
        assert key not in keyed, f"duplicate object {key}"
        keyed[key] = obj
    return keyed


def _kustomize(case: Path, workdir: Path) -> list[dict[str, Any]]:
    overlay = parse_overlay((case / "overlay.yaml").read_text(), "overlays/case.yaml")
    shutil.copy(case / "base.yaml", workdir / "base.yaml")
    resources = ["base.yaml"]
    patches: list[dict[str, Any]] = []
    for index, doc in enumerate(overlay.documents):
        name = f"doc-{index}.yaml"
        if isinstance(doc, Resources):
            (workdir / name).write_text(yaml.safe_dump_all(list(doc.items)))
            resources.append(name)
        elif isinstance(doc, JsonPatch):
            (workdir / name).write_text(yaml.safe_dump(list(doc.operations)))
            patches.append({"path": name, "target": dict(doc.target)})
        else:
            (workdir / name).write_text(yaml.safe_dump(doc.patch))
            patches.append({"path": name})
    kustomization = {"resources": resources, "patches": patches}
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    assert KUBECTL is not None
    run = subprocess.run(
        [KUBECTL, "kustomize", str(workdir)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d is not None]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (the kustomize oracle)")
@pytest.mark.parametrize("case", _case_ids())
def test_overlay_matches_kubectl_kustomize(case: str, tmp_path: Path) -> None:
    directory = CASES / case
    base = _load(directory / "base.yaml")
    overlay = parse_overlay((directory / "overlay.yaml").read_text(), "overlays/case.yaml")
    ours = apply_overlay(base, overlay)
    theirs = _kustomize(directory, tmp_path)
    assert _by_id(ours) == _by_id(theirs)


def test_corpus_is_large_enough() -> None:
    assert len(_case_ids()) >= 25
