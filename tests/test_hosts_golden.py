"""The host renderers alone reproduce out/hosts/** of the bundled cluster.yaml: the committed
files, which a pull request shows and a reviewer reads line by line (docs/hosts.md). A change
to a host renderer therefore shows up as a change to out/hosts/ in the same commit, where it is
reviewed; `kgit compile` rewrites them."""

from __future__ import annotations

from pathlib import Path

from compiler.compile.pipeline import CompileOptions, load_and_validate
from compiler.compile.render.hosts import render_hosts
from compiler.core.sources import DirectoryTree


def committed_host_files(repo_root: Path) -> dict[str, str]:
    hosts = repo_root / "out" / "hosts"
    return {
        p.relative_to(repo_root / "out").as_posix(): p.read_text()
        for p in sorted(hosts.rglob("*"))
        if p.is_file()
    }


def test_host_renderers_reproduce_the_committed_out_hosts(repo_root):
    _document, cluster = load_and_validate(DirectoryTree(repo_root), CompileOptions())
    produced = {f.path: f.content for f in render_hosts(cluster)}
    committed = committed_host_files(repo_root)
    assert sorted(produced) == sorted(committed)
    for path, content in committed.items():
        assert produced[path] == content, f"{path} differs from out/{path}: run kgit compile"
