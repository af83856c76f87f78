"""Inputs that once ended in "internal error" without a location: each is now a clear
error (or simply works), never a traceback."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import git
import pytest

from compiler.cli.app import main
from compiler.core.errors import GitError
from compiler.reconcile.desired import with_secret_values
from compiler.repo.gitrepo import Repository, resolve
from tests.git_helpers import commit_all, copy_example, edit, init_repo, kgit
from tests.git_helpers import require_bundled_compile as _require
from tests.reconcile_objects import from_env_secret


def test_a_version_with_thousands_of_digits_is_a_located_error(tmp_path, capsys):
    _require()
    spec = copy_example(tmp_path)
    edit(spec, '"1.31.4"', '"1.31.' + "9" * 5000 + '"')
    for command in ("validate", "compile"):
        run = kgit(capsys, command, "-f", str(spec))
        assert run.code == 1
        assert "internal error" not in run.err
        assert (
            f"{spec.name}:10:14: spec.kubernetes.version: Kubernetes version "
            "'1.31.99999999999…' is not supported (supported: 1.24 to 1.36)"
        ) in run.err


def test_a_mirror_port_with_thousands_of_digits_is_a_located_error(tmp_path, capsys):
    _require()
    spec = copy_example(tmp_path)
    edit(spec, "https://docker.m.daocloud.io]", "https://docker.m.daocloud.io:" + "9" * 5000 + "]")
    run = kgit(capsys, "validate", "-f", str(spec))
    assert run.code == 1
    assert "internal error" not in run.err
    assert f"{spec.name}:30:21: spec.runtime.registryMirrors[0].endpoints[0]: " in run.err


def test_a_json_patch_index_with_thousands_of_digits_is_out_of_range(tmp_path, capsys):
    _require()
    spec = copy_example(tmp_path)
    (tmp_path / "overlays/nginx.yaml").write_text(
        "apiVersion: kgit.dev/v1alpha1\nkind: JsonPatch\ntarget: {kind: Deployment, name: nginx}\n"
        "patch:\n  - {op: replace, path: /spec/template/spec/containers/"
        + "9" * 5000
        + "/image, value: x}\n"
    )
    run = kgit(capsys, "compile", "-f", str(spec))
    assert run.code == 1
    assert run.err.splitlines()[-2].startswith(
        "error: overlays/nginx.yaml:5:25: replace operation:"
    )
    assert "index 999999999999999999… is out of range (the array has 1)" in run.err


def _two_commits(root: Path) -> None:
    spec = copy_example(root)
    repo = init_repo(root)
    assert main(["compile", "-f", str(spec)]) == 0
    commit_all(repo, "one")
    edit(spec, "replicas: 3", "replicas: 4")
    assert main(["compile", "-f", str(spec)]) == 0
    commit_all(repo, "two")


def test_diff_against_a_commit_a_shallow_clone_lacks_says_so(tmp_path, capsys):
    _require()
    _two_commits(tmp_path / "origin")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{tmp_path / 'origin'}", str(clone)],
        check=True,
    )
    run = kgit(capsys, "diff", "HEAD~1", "-f", str(clone / "cluster.yaml"))
    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "error: unknown revision 'HEAD~1' (hint: this clone is shallow and may lack it: "
        "git fetch --unshallow, or fetch-depth: 0 in CI)"
    )


def test_diff_against_a_reflog_date_works(tmp_path, capsys):
    _require()
    _two_commits(tmp_path)
    run = kgit(capsys, "diff", "HEAD@{1}", "HEAD", "-f", str(tmp_path / "cluster.yaml"))
    assert run.code == 0, run.err
    assert "replicas" in run.out
    # The reflog only goes back to the first commit: git resolves to its oldest entry.
    run = kgit(capsys, "diff", "HEAD@{yesterday}", "-f", str(tmp_path / "cluster.yaml"))
    assert run.code == 0, run.err
    assert "internal error" not in run.err


def test_an_option_is_never_taken_for_a_revision(tmp_path):
    _require()
    _two_commits(tmp_path)
    repository = Repository(git.Repo(tmp_path), tmp_path)
    with pytest.raises(GitError) as caught:
        resolve(repository, "--all")
    assert str(caught.value) == "unknown revision '--all'"


def test_a_secret_value_that_is_not_utf8_travels_as_its_bytes():
    # What os.environ holds for the bytes ff 00 fe (PEP 383 surrogate escapes).
    value = b"\xffa\xfe".decode("utf-8", "surrogateescape")
    filled = with_secret_values(from_env_secret(), {"DB_PASSWORD": value})
    assert filled["data"] == {"password": base64.b64encode(b"\xffa\xfe").decode()}
