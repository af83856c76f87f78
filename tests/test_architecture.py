"""The package's shape: no import cycles anywhere in compiler/, and the layer contracts
of pyproject.toml ([tool.importlinter]) hold (lint-imports also runs in `make lint`)."""

from __future__ import annotations

import graphlib
import shutil
import subprocess
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph("compiler")
    sorter = graphlib.TopologicalSorter(
        {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = " -> ".join(error.args[1])
        pytest.fail(f"import cycle: {cycle}")


def test_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    # The check above must be able to fail: two modules that import each other.
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", cache_dir=None)
    sorter = graphlib.TopologicalSorter(
        {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    )
    with pytest.raises(graphlib.CycleError):
        sorter.prepare()


def test_layer_contracts_hold():
    lint_imports = shutil.which("lint-imports") or str(Path(REPO, ".venv/bin/lint-imports"))
    if not Path(lint_imports).exists():
        pytest.skip("lint-imports (import-linter) is not installed")
    done = subprocess.run(
        [lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
