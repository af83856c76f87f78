"""The Git edge: GitTree reads a revision as a SourceTree; revisions and repositories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.compile.pipeline import compile_tree
from compiler.core.errors import GitError
from compiler.core.sources import DirectoryTree
from compiler.repo.gitrepo import GitTree, open_repository, read_owned_out, resolve
from tests.git_helpers import commit_all, copy_example, init_repo, require_bundled_compile


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "lab" / "overlays").mkdir(parents=True)
    (root / "lab" / "cluster.yaml").write_bytes(b"kind: Cluster\n")
    (root / "lab" / "overlays" / "a.yaml").write_bytes(b"a: 1\n")
    (root / "lab" / "out" / "manifests").mkdir(parents=True)
    (root / "lab" / "out" / "manifests" / "x.yaml").write_bytes(b"x: 1\n")
    (root / "lab" / "out" / "index.json").write_bytes(b"{}\n")
    (root / "lab" / "out" / "README.md").write_bytes(b"the user's\n")
    os.symlink("cluster.yaml", root / "lab" / "link.yaml")
    repo = init_repo(root)
    commit_all(repo, "first")
    (root / "lab" / "cluster.yaml").write_bytes(b"changed in the work tree only\n")
    return root


def _tree(repo_dir: Path, prefix: str = "lab") -> GitTree:
    repository = open_repository(repo_dir)
    return GitTree(resolve(repository, "HEAD"), prefix)


def test_reads_committed_bytes_not_the_work_tree(repo_dir):
    tree = _tree(repo_dir)
    assert tree.read_bytes("cluster.yaml") == b"kind: Cluster\n"
    assert tree.read_bytes("overlays/a.yaml") == b"a: 1\n"


@pytest.mark.parametrize(
    ("path", "is_file", "is_dir"),
    [
        pytest.param("cluster.yaml", True, False, id="file"),
        pytest.param("overlays", False, True, id="folder"),
        pytest.param("overlays/", False, True, id="folder-slash"),
        pytest.param(".", False, True, id="root"),
        pytest.param("missing.yaml", False, False, id="missing"),
        pytest.param("../lab/cluster.yaml", False, False, id="escape"),
        pytest.param("/etc/passwd", False, False, id="absolute"),
        pytest.param("link.yaml", False, False, id="symlink"),
    ],
)
def test_answers_like_a_directory_tree(repo_dir, path, is_file, is_dir):
    tree = _tree(repo_dir)
    disk = DirectoryTree(repo_dir / "lab")
    assert (tree.is_file(path), tree.is_dir(path)) == (is_file, is_dir)
    if path != "link.yaml":  # on disk a symlink inside the tree is followed; Git has no target
        assert (disk.is_file(path), disk.is_dir(path)) == (is_file, is_dir)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        pytest.param("missing.yaml", FileNotFoundError, id="missing"),
        pytest.param("overlays", IsADirectoryError, id="folder"),
        pytest.param("../x", FileNotFoundError, id="escape"),
    ],
)
def test_read_errors_match_the_source_tree_protocol(repo_dir, path, error):
    with pytest.raises(error):
        _tree(repo_dir).read_bytes(path)


def test_reads_only_kgits_files_of_a_committed_out(repo_dir):
    repository = open_repository(repo_dir)
    commit = resolve(repository, "HEAD")
    assert read_owned_out(commit, "lab/out") == {
        "index.json": b"{}\n",
        "manifests/x.yaml": b"x: 1\n",
    }
    assert read_owned_out(commit, "nowhere/out") == {}
    assert read_owned_out(None, "lab/out") == {}


def test_unknown_revision_and_non_commit_objects(repo_dir):
    repository = open_repository(repo_dir)
    with pytest.raises(GitError, match=r"^unknown revision 'v9'$"):
        resolve(repository, "v9")
    with pytest.raises(GitError, match=r"^revision 'HEAD:lab' is a tree, not a commit$"):
        resolve(repository, "HEAD:lab")


def test_a_path_outside_a_repository(tmp_path):
    with pytest.raises(GitError) as info:
        open_repository(tmp_path / "nothing" / "cluster.yaml")
    assert str(info.value) == (
        f"{tmp_path / 'nothing' / 'cluster.yaml'} is not inside a Git repository "
        "(hint: run `git init` there first)"
    )


def test_compiling_from_git_equals_compiling_from_disk(tmp_path):
    require_bundled_compile()
    root = tmp_path / "repo"
    copy_example(root / "lab")
    repo = init_repo(root)
    commit_all(repo, "spec")
    tree = GitTree(resolve(open_repository(root), "HEAD"), "lab")
    assert compile_tree(tree).files == compile_tree(DirectoryTree(root / "lab")).files
