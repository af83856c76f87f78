"""out/index.json records the digests of a compile's inputs, so `kgit plan` can tell that
out/ is fresh without compiling again (pipeline.unchanged_since_compile)."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from compiler.compile import emit
from compiler.compile.pipeline import compile_tree, unchanged_since_compile
from compiler.core.sources import DirectoryTree


@pytest.fixture
def compiled_repo(repo_root: Path, tmp_path: Path) -> Path:
    shutil.copy(repo_root / "cluster.yaml", tmp_path / "cluster.yaml")
    shutil.copytree(repo_root / "overlays", tmp_path / "overlays")
    emit.write_out(tmp_path / "out", compile_tree(DirectoryTree(tmp_path)).files)
    return tmp_path


def test_index_records_the_sha256_of_every_input_file(compiled_repo: Path) -> None:
    index = json.loads((compiled_repo / "out" / "index.json").read_text())
    # The digests are checked against hashlib over the files themselves, not our code.
    expected = {
        path: hashlib.sha256((compiled_repo / path).read_bytes()).hexdigest()
        for path in ("cluster.yaml", "overlays/nginx.yaml")
    }
    assert index["inputs"] == expected


def test_fresh_out_is_known_fresh_without_compiling(compiled_repo: Path) -> None:
    tree = DirectoryTree(compiled_repo)
    assert unchanged_since_compile(tree, emit.read_out(compiled_repo / "out"))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("spec", id="cluster-yaml-edited"),
        pytest.param("overlay", id="overlay-edited"),
        pytest.param("out-file", id="out-file-edited-by-hand"),
        pytest.param("out-extra", id="extra-file-in-out"),
        pytest.param("no-inputs", id="index-without-inputs"),
    ],
)
def test_any_change_means_compile_to_find_out(compiled_repo: Path, change: str) -> None:
    out = compiled_repo / "out"
    if change == "spec":
        spec = compiled_repo / "cluster.yaml"
        spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))
    elif change == "overlay":
        (compiled_repo / "overlays" / "nginx.yaml").write_text("# emptied\n")
    elif change == "out-file":
        target = out / "manifests" / "namespaces.yaml"
        target.write_text(target.read_text() + "# edited\n")
    elif change == "out-extra":
        (out / "manifests" / "extra.yaml").write_text("kind: ConfigMap\n")
    else:
        index = json.loads((out / "index.json").read_text())
        del index["inputs"]
        (out / "index.json").write_text(json.dumps(index))
    assert not unchanged_since_compile(DirectoryTree(compiled_repo), emit.read_out(out))


def test_plan_freshness_check_sees_a_script_that_lost_its_exec_bit(compiled_repo: Path) -> None:
    # The digests still match, but `kgit compile --check` would fail: so must plan's warning.
    from compiler.cli.commands.plan import out_is_fresh

    args = argparse.Namespace(file=str(compiled_repo / "cluster.yaml"), out_dir=None)
    assert out_is_fresh(args) is None
    script = compiled_repo / "out" / "hosts" / "k8s-master" / "provision.sh"
    script.chmod(0o644)
    warning = out_is_fresh(args)
    assert warning is not None
    assert "out/hosts/k8s-master/provision.sh: not executable" in warning
