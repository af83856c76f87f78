"""`kgit rollback REV`: out/ read from Git at REV, applied with apply's safety."""

from __future__ import annotations

import json

import git
import pytest

from compiler.cli.app import main
from tests.reconcile_apply_helpers import configmap, deployment, namespace, write_out


def _objects(image: str) -> list[dict]:
    return [namespace("web"), deployment("nginx", image=image), configmap("settings")]


@pytest.fixture
def history_repo(tmp_path, any_cluster, capsys):
    """A repository with two commits of cluster.yaml + out/, both applied in order."""
    root = tmp_path / "repo"
    root.mkdir()
    repo = git.Repo.init(root, initial_branch="main")
    shas = []
    for number, image in ((1, "nginx:1.14.2"), (2, "nginx:1.15.0")):
        (root / "cluster.yaml").write_text(f"# revision {number}\n")
        write_out(root / "out", _objects(image))
        repo.git.add("-A")
        repo.git.commit("-m", f"revision {number}")
        shas.append(repo.head.commit.hexsha)
        assert kgit(root, any_cluster, "apply", "--yes") == 0
    capsys.readouterr()
    return root, repo, shas


def kgit(root, any_cluster, *argv: str) -> int:
    common = ["-f", str(root / "cluster.yaml"), "--kubeconfig", str(any_cluster.kubeconfig)]
    return main([*argv, *common])


def _image(any_cluster) -> str:
    live = any_cluster.get("apps/v1", "Deployment", "nginx", "web")
    return live["spec"]["template"]["spec"]["containers"][0]["image"]


def test_rollback_applies_the_earlier_out_and_records_it(history_repo, any_cluster, capsys):
    root, repo, (first, second) = history_repo
    assert _image(any_cluster) == "nginx:1.15.0"
    assert kgit(root, any_cluster, "rollback", first[:7], "--yes") == 0
    captured = capsys.readouterr()
    assert "Deployment.apps/web/nginx configured" in captured.out.splitlines()
    assert captured.err.splitlines()[-1] == (
        f"The cluster now runs out/ of {first[:12]}; Git's work tree still describes the newer "
        f"state. To make Git match: `kgit rollback {first[:7]} --revert` (one commit restoring "
        f"cluster.yaml and out/), or `git revert --no-edit {first[:12]}..HEAD` and "
        "`kgit compile --check`."
    )
    assert _image(any_cluster) == "nginx:1.14.2"
    # The work tree and Git are untouched.
    assert repo.head.commit.hexsha == second
    assert not repo.is_dirty(untracked_files=True)
    assert kgit(root, any_cluster, "history", "-o", "json") == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["revision"] for e in entries] == [first, second, first]


def test_rollback_revert_commits_git_back_to_the_revision(history_repo, any_cluster, capsys):
    root, repo, (first, second) = history_repo
    assert kgit(root, any_cluster, "rollback", first, "--yes", "--revert") == 0
    assert _image(any_cluster) == "nginx:1.14.2"
    head = repo.head.commit
    assert head.parents[0].hexsha == second
    assert head.message.splitlines()[0] == f"Roll back to {first[:12]}"
    assert head.tree["out"].hexsha == repo.commit(first).tree["out"].hexsha
    assert (root / "cluster.yaml").read_text() == "# revision 1\n"
    assert not repo.is_dirty(untracked_files=True)
    # Git and the cluster agree again: a plain apply has nothing to do.
    capsys.readouterr()
    assert kgit(root, any_cluster, "apply", "--yes") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("No changes.")


def test_rollback_revert_refuses_uncommitted_changes_before_applying(
    history_repo, any_cluster, capsys
):
    root, _, (first, _) = history_repo
    (root / "cluster.yaml").write_text("# edited\n")
    assert kgit(root, any_cluster, "rollback", first, "--yes", "--revert") == 1
    assert capsys.readouterr().err == (
        "error: --revert needs cluster.yaml to have no uncommitted changes "
        "(hint: commit or discard them first)\n"
    )
    assert _image(any_cluster) == "nginx:1.15.0"


def test_rollback_to_an_unknown_revision_is_one_clear_error(history_repo, any_cluster, capsys):
    root, _, _ = history_repo
    assert kgit(root, any_cluster, "rollback", "no-such-rev", "--yes") == 1
    assert capsys.readouterr().err == "error: unknown revision 'no-such-rev'\n"
