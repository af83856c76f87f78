"""The committed out/ of the bundled cluster.yaml, read from disk as a user or CI would.

Each check uses an oracle other than the compiler: the Kubernetes OpenAPI schema
(kubernetes-validate, strict), sha256 and stat of the files themselves, and cluster.yaml
parsed with PyYAML for the ``source`` paths.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.cli.app import main
from tests.test_addons_support import schema_version

kubernetes_validate = pytest.importorskip("kubernetes_validate")

# Counted by hand from the bundled cluster.yaml: flannel 6 (Namespace, ServiceAccount,
# ClusterRole, ClusterRoleBinding, ConfigMap, DaemonSet); ingress-nginx 19; namespaces web and
# prod 2; the nginx app 4 (Deployment, Service, Ingress, and the overlay's
# PodDisruptionBudget); my-service 3 (Service, EndpointSlice, Endpoints for 1.31); legacy-db 1.
BUNDLED_OBJECT_COUNT = 35


@pytest.fixture
def out_dir(repo_root: Path) -> Path:
    return repo_root / "out"


@pytest.fixture
def index(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "index.json").read_text())


def manifest_objects(out_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.relative_to(out_dir).as_posix(), doc)
        for path in sorted((out_dir / "manifests").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


def test_committed_out_is_what_compile_writes_now(repo_root, capsys, monkeypatch):
    monkeypatch.chdir(repo_root)
    assert main(["compile", "--check"]) == 0, capsys.readouterr().err


def test_every_object_in_out_manifests_validates_strictly(repo_root, out_dir):
    version = yaml.safe_load((repo_root / "cluster.yaml").read_text())["spec"]["kubernetes"][
        "version"
    ]
    objects = manifest_objects(out_dir)
    assert len(objects) == BUNDLED_OBJECT_COUNT
    problems = []
    for path, obj in objects:
        try:
            kubernetes_validate.validate(obj, schema_version(version), strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{path}: {obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert problems == []


def test_index_lists_every_file_with_its_sha256_and_exec_bit(out_dir, index):
    on_disk = {
        path.relative_to(out_dir).as_posix(): path
        for path in out_dir.rglob("*")
        if path.is_file() and path.name != "index.json"
    }
    listed = {entry["path"]: entry for entry in index["files"]}
    assert set(listed) == set(on_disk)
    for rel, path in on_disk.items():
        assert listed[rel]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), rel
        assert listed[rel]["executable"] == bool(path.stat().st_mode & 0o111), rel
    assert {rel for rel, entry in listed.items() if entry["executable"]} == {
        rel for rel in on_disk if rel.endswith("/provision.sh")
    }


def _resolve(document: Any, source: str) -> Any:
    """What a source names in a parsed spec: a JSON path (``spec.network.flannel``) or a
    list entry by identity (``apps/web/nginx``, ``externalServices/prod/legacy-db``);
    KeyError/IndexError/StopIteration when it is not there."""
    if "/" in source:
        collection, *names = source.split("/")
        entries = document["spec"][collection]
        if len(names) == 1:
            return next(e for e in entries if e["name"] == names[0])
        namespace, name = names
        return next(
            e for e in entries if e["name"] == name and e.get("namespace", "default") == namespace
        )
    node = document
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", source):
        node = node[int(index)] if index else node[name]
    return node


def test_index_lists_every_object_with_a_source_that_exists_in_cluster_yaml(
    repo_root, out_dir, index
):
    spec = yaml.safe_load((repo_root / "cluster.yaml").read_text())
    in_files = sorted(
        (
            obj["apiVersion"],
            obj["kind"],
            obj["metadata"].get("namespace"),
            obj["metadata"]["name"],
            path,
            obj["metadata"]["annotations"]["kgit.dev/source"],
        )
        for path, obj in manifest_objects(out_dir)
    )
    listed = sorted(
        (o["apiVersion"], o["kind"], o["namespace"], o["name"], o["file"], o["source"])
        for o in index["objects"]
    )
    assert listed == in_files
    for *_key, file, source in listed:
        spec_file, _, json_path = source.partition("#")
        assert spec_file == "cluster.yaml"
        assert isinstance(_resolve(spec, json_path), dict), (file, source)
    sources = {o["name"]: o["source"] for o in index["objects"] if o["kind"] == "Service"}
    assert sources["my-service"] == "cluster.yaml#externalServices/prod/my-service"
    assert sources["legacy-db"] == "cluster.yaml#externalServices/prod/legacy-db"
    assert sources["nginx"] == "cluster.yaml#apps/web/nginx"


def _copy_inputs(repo_root: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    shutil.copy(repo_root / "cluster.yaml", target / "cluster.yaml")
    shutil.copytree(repo_root / "overlays", target / "overlays")
    return target


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(directory).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_out_does_not_depend_on_the_directory_or_the_spelling_of_the_spec_path(
    repo_root, out_dir, tmp_path, monkeypatch, capsys
):
    first = _copy_inputs(repo_root, tmp_path / "a")
    second = _copy_inputs(repo_root, tmp_path / "elsewhere" / "b")
    (tmp_path / "elsewhere" / "sub").mkdir()

    monkeypatch.chdir(tmp_path / "elsewhere" / "sub")
    assert main(["compile", "-f", str(first / "cluster.yaml")]) == 0
    assert main(["compile", "-f", "../b/./cluster.yaml"]) == 0
    capsys.readouterr()

    assert snapshot(first / "out") == snapshot(second / "out") == snapshot(out_dir)
