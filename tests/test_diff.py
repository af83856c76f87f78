"""kgit diff between revisions and the work tree, on real temporary Git repositories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import git
import pytest
import yaml

from compiler.cli.app import main
from tests.git_helpers import (
    commit_all,
    copy_example,
    edit,
    init_repo,
    kgit,
    require_bundled_compile,
)

IMAGE_PATH = "spec.template.spec.containers[name=nginx].image"
SECRETS = """  secrets:
    - name: db
      namespace: prod
      fromEnv: {password: DB_PASSWORD}
"""


def _compile_and_commit(repo: git.Repo, spec: Path, message: str) -> str:
    assert main(["compile", "-f", str(spec)]) == 0
    return commit_all(repo, message)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A repository on main whose first commit holds the bundled spec and its out/."""
    require_bundled_compile()
    root = tmp_path / "repo"
    path = copy_example(root)
    repo = init_repo(root)
    _compile_and_commit(repo, path, "the lab cluster")
    return path


def _json_diff(capsys, *argv: str) -> dict:
    run = kgit(capsys, "diff", "-o", "json", *argv)
    assert run.code == 0, run.err
    return json.loads(run.out)


def _user_fields(change: dict) -> list[tuple[str, object, object]]:
    return [(f["path"], f["before"], f["after"]) for f in change["fields"] if not f["setByKgit"]]


def test_an_image_update_between_commits_is_one_changed_field(spec, capsys):
    repo = git.Repo(spec.parent)
    edit(spec, "image: nginx:1.14.2", "image: nginx:1.16.1")
    _compile_and_commit(repo, spec, "nginx 1.16.1")

    report = _json_diff(capsys, "HEAD~1", "HEAD", "-f", str(spec))

    assert report["summary"] == {"changed": 1, "added": 0, "removed": 0, "hostFiles": 0}
    [change] = report["objects"]
    assert (change["action"], change["kind"], change["namespace"], change["name"]) == (
        "changed",
        "Deployment",
        "web",
        "nginx",
    )
    assert _user_fields(change) == [(IMAGE_PATH, "nginx:1.14.2", "nginx:1.16.1")]
    # Anything else is an annotation kgit writes by itself, and is marked as such.
    kgit_paths = [f["path"] for f in change["fields"] if f["setByKgit"]]
    assert all(p.endswith("annotations.kubernetes.io/change-cause") for p in kgit_paths)
    assert "-        image: nginx:1.14.2\n+        image: nginx:1.16.1\n" in change["diff"]


def test_text_output_lists_the_changed_field(spec, capsys):
    repo = git.Repo(spec.parent)
    edit(spec, "image: nginx:1.14.2", "image: nginx:1.16.1")
    _compile_and_commit(repo, spec, "nginx 1.16.1")

    run = kgit(capsys, "diff", "HEAD~1", "HEAD", "-f", str(spec))

    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0] == (
        "kgit diff HEAD~1 -> HEAD: 1 changed, 0 added, 0 removed object(s); 0 host file(s) changed"
    )
    assert "~ apps/v1 Deployment web/nginx  (manifests/apps/web/nginx.yaml)" in lines
    assert f"    {IMAGE_PATH}: nginx:1.14.2 -> nginx:1.16.1" in lines
    assert "\x1b[" not in run.out  # NO_COLOR is set and stdout is not a terminal


def test_a_renamed_app_is_removed_and_added_once_per_kind(spec, capsys):
    repo = git.Repo(spec.parent)
    old_manifest = (spec.parent / "out/manifests/apps/web/nginx.yaml").read_text()
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(old_manifest) if doc)
    edit(spec, "    - name: nginx\n      namespace: web", "    - name: shop\n      namespace: web")
    edit(spec, "      overlays: [overlays/nginx.yaml]\n", "")  # the overlay targets nginx
    _compile_and_commit(repo, spec, "rename nginx to shop")

    report = _json_diff(capsys, "HEAD~1", "HEAD", "-f", str(spec))

    new_manifest = (spec.parent / "out/manifests/apps/web/shop.yaml").read_text()
    new_kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(new_manifest) if doc)
    found = sorted((c["action"], c["kind"], c["name"]) for c in report["objects"])
    assert found == sorted(
        [("removed", kind, "nginx") for kind in kinds]
        + [("added", kind, "shop") for kind in new_kinds]
    )
    assert {"Deployment", "Service"} <= set(kinds) & set(new_kinds)


def test_secret_changes_show_no_values(spec, capsys, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "pw-from-the-environment")
    monkeypatch.setenv("DB_USER", "user-from-the-environment")
    repo = git.Repo(spec.parent)
    spec.write_text(spec.read_text() + SECRETS)
    _compile_and_commit(repo, spec, "a db secret")
    edit(spec, "{password: DB_PASSWORD}", "{password: DB_PASSWORD, user: DB_USER}")
    _compile_and_commit(repo, spec, "a db user")

    outputs = [
        kgit(capsys, "diff", "HEAD~1", "HEAD", "-f", str(spec), "-o", fmt).out
        for fmt in ("text", "json", "markdown")
    ]

    report = json.loads(outputs[1])
    assert [(c["action"], c["kind"], c["name"]) for c in report["objects"]] == [
        ("changed", "Secret", "db")
    ]
    for text in outputs:
        assert "from-the-environment" not in text


def test_work_tree_against_head_with_exit_code(spec, capsys):
    clean = kgit(capsys, "diff", "--exit-code", "-f", str(spec))
    assert clean.code == 0
    assert clean.out.splitlines()[1] == "no changes to the compiled output"

    edit(spec, "replicas: 3", "replicas: 4")
    dirty = kgit(capsys, "diff", "--exit-code", "-f", str(spec), "-o", "json")

    assert dirty.code == 2
    [change] = json.loads(dirty.out)["objects"]
    assert _user_fields(change) == [("spec.replicas", 3, 4)]
    assert json.loads(dirty.out)["before"] == "HEAD"
    assert json.loads(dirty.out)["after"] == "work tree"


def test_one_revision_is_compared_with_the_work_tree(spec, capsys):
    repo = git.Repo(spec.parent)
    edit(spec, "replicas: 3", "replicas: 5")
    _compile_and_commit(repo, spec, "five replicas")
    edit(spec, "replicas: 5", "replicas: 6")

    report = _json_diff(capsys, "HEAD~1", "-f", str(spec))

    [change] = report["objects"]
    assert _user_fields(change) == [("spec.replicas", 3, 6)]


def test_revisions_are_read_from_git_not_from_the_work_tree(spec, capsys):
    repo = git.Repo(spec.parent)
    edit(spec, "replicas: 3", "replicas: 4")
    _compile_and_commit(repo, spec, "four replicas")
    spec.write_text("this: [is not a valid spec\n")
    (spec.parent / "overlays" / "nginx.yaml").unlink()

    report = _json_diff(capsys, "HEAD~1", "HEAD", "-f", str(spec))

    assert [c["name"] for c in report["objects"]] == ["nginx"]


def test_an_invalid_spec_in_a_revision_is_reported_with_the_revision(spec, capsys):
    repo = git.Repo(spec.parent)
    edit(spec, "replicas: 3", "replicas: -3")
    commit_all(repo, "broken")
    line = next(
        i for i, text in enumerate(spec.read_text().splitlines(), 1) if "replicas: -3" in text
    )

    run = kgit(capsys, "diff", "HEAD~1", "HEAD", "-f", str(spec))

    assert run.code == 1
    assert run.err.startswith(f"error: HEAD:cluster.yaml:{line}:")


def test_an_unknown_revision_is_a_clear_error(spec, capsys):
    run = kgit(capsys, "diff", "no-such-branch", "-f", str(spec))
    assert run.code == 1
    assert run.err == "error: unknown revision 'no-such-branch'\n"


def test_spec_in_a_subdirectory_and_an_unborn_head(tmp_path, capsys):
    require_bundled_compile()
    root = tmp_path / "mono"
    spec = copy_example(root / "clusters" / "lab")
    init_repo(root)

    report = _json_diff(capsys, "-f", str(spec))

    assert report["before"] == "HEAD"
    assert report["objects"], "everything is new against an empty repository"
    assert {c["action"] for c in report["objects"]} == {"added"}
    assert report["summary"]["hostFiles"] == len(report["hostFiles"]) > 0


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_demo_shows_a_set_image_and_writes_nothing(tmp_path, capsys):
    require_bundled_compile()
    spec = copy_example(tmp_path / "clone")  # not even a Git repository
    before = _tree_digest(spec.parent)

    run = kgit(capsys, "diff", "--demo", "-f", str(spec))

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == (
        f"Demonstration of `kgit set-image nginx=nginx:1.16.1`: {spec} was copied to a "
        "temporary directory and changed there; nothing in your repository was written."
    )
    assert f"    {IMAGE_PATH}: nginx:1.14.2 -> nginx:1.16.1" in lines
    assert _tree_digest(spec.parent) == before
