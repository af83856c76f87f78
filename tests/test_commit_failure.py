"""A commit that Git refuses (a pre-commit hook exits 1) leaves the repository as it was:
nothing staged that was not staged before, and for set-image cluster.yaml and out/ back
as they were; the error says so."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from tests.git_helpers import commit_all, copy_example, init_repo, kgit, require_bundled_compile


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture
def repo(tmp_path: Path, capsys) -> git.Repo:
    """The bundled spec compiled and committed, then a pre-commit hook that refuses."""
    require_bundled_compile()
    root = tmp_path / "repo"
    spec = copy_example(root)
    repository = init_repo(root)
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0
    commit_all(repository, "the lab cluster")
    hook = root / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint: refused' >&2\nexit 1\n")
    hook.chmod(0o755)
    # Something of the user's staged, and an unstaged edit, both to be kept as they are.
    (root / "notes.txt").write_text("staged\n")
    repository.git.add("notes.txt")
    return repository


def test_a_refused_set_image_commit_restores_spec_out_and_index(repo, capsys):
    root = Path(repo.working_tree_dir)
    before_files = _tree(root)
    before_status = repo.git.status("--porcelain")
    before_staged = repo.git.diff("--cached", "--name-only")

    run = kgit(
        capsys, "set-image", "nginx=nginx:1.16.1", "--commit", "-f", str(root / "cluster.yaml")
    )

    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "error: git commit failed: lint: refused; nothing was committed, and cluster.yaml "
        "and out/ are back as they were (nothing of kgit's is staged)"
    )
    assert _tree(root) == before_files
    assert repo.git.status("--porcelain") == before_status
    assert repo.git.diff("--cached", "--name-only") == before_staged == "notes.txt"


def test_a_refused_compile_commit_unstages_and_says_out_holds_the_compile(repo, capsys):
    root = Path(repo.working_tree_dir)
    spec = root / "cluster.yaml"
    spec.write_text(spec.read_text().replace("replicas: 3", "replicas: 4"))

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "error: git commit failed: lint: refused; nothing was committed or staged, and out/ "
        "holds the new compile"
    )
    assert "replicas: 4" in (root / "out/manifests/apps/web/nginx.yaml").read_text()
    assert repo.git.diff("--cached", "--name-only") == "notes.txt"
