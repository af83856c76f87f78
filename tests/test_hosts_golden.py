"""Golden files: out/hosts/** of the bundled cluster.yaml, reviewed by hand line by line.

Regenerate with ``KGIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_hosts_golden.py``
and review every changed line by hand before committing (see docs/hosts.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compiler.compile.pipeline import CompileOptions, load_and_validate
from compiler.compile.render.hosts import render_hosts
from compiler.core.sources import DirectoryTree

GOLDEN = Path(__file__).parent / "golden"


def bundled_host_files(repo_root: Path) -> dict[str, str]:
    _document, cluster = load_and_validate(DirectoryTree(repo_root), CompileOptions())
    return {f.path: f.content for f in render_hosts(cluster)}


def golden_files() -> dict[str, str]:
    return {
        p.relative_to(GOLDEN).as_posix(): p.read_text()
        for p in sorted((GOLDEN / "hosts").rglob("*"))
        if p.is_file()
    }


def test_bundled_cluster_hosts_output_matches_the_reviewed_golden_files(repo_root):
    produced = bundled_host_files(repo_root)
    if os.environ.get("KGIT_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN / "hosts", ignore_errors=True)
        for path, content in produced.items():
            target = GOLDEN / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        pytest.skip("golden files regenerated: review every changed line by hand")
    assert sorted(produced) == sorted(golden_files())
    for path, content in golden_files().items():
        assert produced[path] == content, f"{path} differs from tests/golden/{path}"
