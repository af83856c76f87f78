"""Helpers for tests that run kgit against real temporary Git repositories."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from compiler.cli.app import main
from compiler.compile.pipeline import compile_tree
from compiler.core.errors import KgitError
from compiler.core.sources import DirectoryTree

REPO = Path(__file__).resolve().parent.parent


def require_bundled_compile() -> None:
    """Skip (with the reason) while the bundled cluster.yaml does not compile in this tree."""
    try:
        compile_tree(DirectoryTree(REPO))
    except KgitError as exc:
        pytest.skip(f"the bundled cluster.yaml does not compile yet: {exc}")


def copy_example(target: Path) -> Path:
    """The bundled cluster.yaml and overlays/ (and vendor/ when present) copied to target."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "cluster.yaml", target / "cluster.yaml")
    for name in ("overlays", "vendor"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, target / name)
    return target / "cluster.yaml"


def init_repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("commit", "gpgsign", "false")
    return repo


def commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add("-A")
    repo.git.commit("-q", "-m", message)
    return repo.head.commit.hexsha


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path}"
    path.write_text(text.replace(old, new))


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def kgit(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def committed_paths(repo: git.Repo, rev: str = "HEAD") -> set[str]:
    """Paths a commit changed relative to its parent (or all paths of a root commit)."""
    commit = repo.commit(rev)
    if not commit.parents:
        return {item.path for item in commit.tree.traverse() if item.type == "blob"}
    return {
        d.a_path or d.b_path
        for d in commit.parents[0].diff(commit)  # type: ignore[misc]
    }
