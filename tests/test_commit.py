"""kgit compile --commit on real temporary Git repositories."""

from __future__ import annotations

from pathlib import Path

import git
import pytest
import yaml

from tests.git_helpers import (
    commit_all,
    committed_paths,
    copy_example,
    edit,
    init_repo,
    kgit,
    require_bundled_compile,
)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A repository whose first commit holds the bundled cluster.yaml and overlays (no out/)."""
    require_bundled_compile()
    root = tmp_path / "repo"
    path = copy_example(root)
    repo = init_repo(root)
    (root / "tracked.txt").write_text("v1\n")
    commit_all(repo, "the spec")
    return path


def _repo(spec: Path) -> git.Repo:
    return git.Repo(spec.parent, search_parent_directories=True)


def _out_paths(repo: git.Repo, prefix: str = "out/") -> set[str]:
    return {
        item.path
        for item in repo.head.commit.tree.traverse()
        if item.type == "blob" and item.path.startswith(prefix)
    }


def test_commit_holds_out_and_its_inputs_and_leaves_the_users_index_alone(spec, capsys):
    repo = _repo(spec)
    root = spec.parent
    (root / "staged.txt").write_text("staged by the user\n")
    repo.git.add("staged.txt")
    (root / "tracked.txt").write_text("v2, not staged\n")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    changed = committed_paths(repo)
    assert changed, "the commit must contain out/"
    assert all(path.startswith("out/") for path in changed), changed  # inputs were committed
    assert "out/index.json" in changed
    assert changed == _out_paths(repo)
    # The user's staged file is still staged (and not committed), the edit still unstaged.
    assert repo.git.diff("--cached", "--name-only").splitlines() == ["staged.txt"]
    assert repo.git.diff("--name-only").splitlines() == ["tracked.txt"]
    assert repo.git.status("--porcelain", "--", "out").strip() == ""


def test_commit_message_names_the_spec_blob_in_a_trailer(spec, capsys):
    repo = _repo(spec)
    run = kgit(capsys, "compile", "--commit", "-m", "compile the lab cluster", "-f", str(spec))

    assert run.code == 0, run.err
    blob = repo.git.hash_object(str(spec))  # git itself is the oracle for the blob id
    message = repo.head.commit.message
    assert message == f"compile the lab cluster\n\nKgit-Source: cluster.yaml@{blob}\n"
    trailers = repo.git.log("-1", "--format=%(trailers:key=Kgit-Source,valueonly)")
    assert trailers.strip() == f"cluster.yaml@{blob}"
    assert repo.git.cat_file("-p", blob) == spec.read_text().rstrip("\n")


def test_nothing_is_committed_when_out_is_unchanged(spec, capsys):
    repo = _repo(spec)
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    head = repo.head.commit.hexsha

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0
    assert run.out == (
        f"nothing to commit: {spec.parent / 'out'} and its inputs already match HEAD\n"
    )
    assert repo.head.commit.hexsha == head


def test_refuses_hand_edits_in_out_unless_forced(spec, capsys):
    repo = _repo(spec)
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    head = repo.head.commit.hexsha
    edited = spec.parent / "out" / "manifests" / "namespaces.yaml"
    compiled = edited.read_text()
    edited.write_text(compiled + "# tuned by hand\n")

    refused = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert refused.code == 1
    assert refused.err.splitlines()[-1] == (
        f"error: {spec.parent / 'out'} has hand edits that compiling would overwrite: "
        "manifests/namespaces.yaml (hint: move the change into "
        "cluster.yaml or overlays/, or pass --force to discard it)"
    )
    assert edited.read_text() == compiled + "# tuned by hand\n"  # untouched
    assert repo.head.commit.hexsha == head

    forced = kgit(capsys, "compile", "--commit", "--force", "-f", str(spec))

    assert forced.code == 0, forced.err
    assert edited.read_text() == compiled
    # The hand edit was never committed, so HEAD's out/ is as before: nothing to commit.
    assert repo.head.commit.hexsha == head


def test_a_plain_compile_before_commit_is_not_a_hand_edit(spec, capsys):
    repo = _repo(spec)
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    edit(spec, 'audit-log-maxage: "30"', 'audit-log-maxage: "60"')
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    changed = committed_paths(repo)
    assert all(path.startswith("out/") for path in changed - {"cluster.yaml"})
    assert "cluster.yaml" in changed  # the edit out/ came from, in the same commit
    hosts = sorted(p for p in changed if p.startswith("out/hosts/"))
    assert "out/hosts/k8s-master/kubeadm.yaml" in hosts
    assert repo.head.commit.summary == f"kgit: recompile out/; {len(hosts)} host files changed"
    assert "uncommitted" not in run.err


def test_out_compiled_from_an_older_edit_of_the_spec_is_not_a_hand_edit(spec, capsys):
    repo = _repo(spec)
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    edit(spec, "replicas: 3", "replicas: 4")
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0  # out/ of an in-between spec
    edit(spec, "replicas: 4", "replicas: 5")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    assert committed_paths(repo) == {
        "out/manifests/apps/web/nginx.yaml",
        "out/index.json",
        "cluster.yaml",
    }


def test_a_file_added_by_hand_under_out_is_refused(spec, capsys):
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    extra = spec.parent / "out" / "manifests" / "extra.yaml"
    extra.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 1
    assert run.err.splitlines()[-1].startswith(
        f"error: {spec.parent / 'out'} has hand edits that compiling would overwrite: "
        "manifests/extra.yaml (hint: "
    )
    assert extra.exists()


def _template_cause(spec: Path) -> str | None:
    manifest = (spec.parent / "out/manifests/apps/web/nginx.yaml").read_text()
    deployment = next(d for d in yaml.safe_load_all(manifest) if d["kind"] == "Deployment")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    return annotations.get("kubernetes.io/change-cause")


def test_default_message_names_the_image_update_and_the_cause_names_the_template_change(
    spec, capsys
):
    repo = _repo(spec)
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    edit(spec, "image: nginx:1.14.2", "image: nginx:1.16.1")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    subject = "kgit: nginx image nginx:1.14.2 -> nginx:1.16.1; 1 object changed"
    assert repo.head.commit.summary == subject
    # A generated subject summarises out/; the template's cause says what changed in it.
    assert _template_cause(spec) == "image nginx:1.14.2 -> nginx:1.16.1"


def test_compile_commit_holds_the_spec_so_diff_between_commits_shows_the_change(spec, capsys):
    """Issue 18, symptom 6: the spec was left out, so `kgit diff HEAD~2 HEAD~1` said "no
    changes" and rollout history showed a summary of out/ as every Deployment's cause."""
    repo = _repo(spec)
    first = kgit(capsys, "compile", "--commit", "-f", str(spec))
    assert first.code == 0, first.err
    # The first commit: the Deployment is new, its cause says so (never a summary of out/).
    assert _template_cause(spec) == "created: image nginx:1.14.2"
    edit(spec, "image: nginx:1.14.2", "image: nginx:1.16.1")
    (spec.parent / "overlays" / "nginx.yaml").write_text(
        (spec.parent / "overlays" / "nginx.yaml").read_text() + "# reviewed\n"
    )

    run = kgit(capsys, "compile", "--commit", "-m", "web: nginx 1.16.1\n\nbody", "-f", str(spec))

    assert run.code == 0, run.err
    changed = committed_paths(repo)
    assert {"cluster.yaml", "overlays/nginx.yaml"} <= changed
    assert repo.git.status("--porcelain").strip() == ""  # nothing of the change left out
    assert _template_cause(spec) == "web: nginx 1.16.1"
    diff = kgit(capsys, "diff", "HEAD~1", "HEAD", "-f", str(spec))
    assert diff.code == 0, diff.err
    assert "Deployment web/nginx" in diff.out
    assert "nginx:1.16.1" in diff.out


def test_the_explicit_subject_is_the_cause_only_of_templates_that_changed(spec, capsys):
    assert kgit(capsys, "compile", "--commit", "-m", "first", "-f", str(spec)).code == 0
    assert _template_cause(spec) == "first"
    edit(spec, "replicas: 3", "replicas: 5")  # outside the pod template

    run = kgit(capsys, "compile", "--commit", "-m", "scale nginx", "-f", str(spec))

    assert run.code == 0, run.err
    assert _template_cause(spec) == "first"


def test_an_ignored_input_is_refused_before_anything_is_committed(spec, capsys):
    repo = _repo(spec)
    (spec.parent / ".git" / "info" / "exclude").write_text("overlays/\n")
    repo.git.rm("-r", "--cached", "-q", "overlays")
    repo.git.commit("-q", "-m", "untrack overlays")
    head = repo.head.commit.hexsha

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "error: cannot commit out/ with its inputs: Git ignores overlays/nginx.yaml "
        "(hint: remove it from .gitignore, or compile without --commit and commit by hand)"
    )
    assert repo.head.commit.hexsha == head


def test_commits_on_a_detached_head_without_moving_the_branch(spec, capsys):
    repo = _repo(spec)
    main = repo.heads.main.commit.hexsha
    repo.git.checkout("-q", "--detach")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    assert repo.head.is_detached
    assert repo.head.commit.parents[0].hexsha == main
    assert repo.heads.main.commit.hexsha == main


def test_first_commit_of_a_repository_without_commits(tmp_path, capsys):
    require_bundled_compile()
    root = tmp_path / "fresh"
    spec = copy_example(root)
    repo = init_repo(root)

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    assert not repo.head.commit.parents
    assert repo.head.ref.name == "main"
    assert committed_paths(repo) == _out_paths(repo) | {"cluster.yaml", "overlays/nginx.yaml"}
    assert not repo.untracked_files


def test_out_in_a_subdirectory_of_the_repository(tmp_path, capsys):
    require_bundled_compile()
    root = tmp_path / "mono"
    spec = copy_example(root / "clusters" / "lab")
    repo = init_repo(root)
    commit_all(repo, "the spec")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    changed = committed_paths(repo)
    assert all(path.startswith("clusters/lab/out/") for path in changed), changed
    assert "clusters/lab/out/index.json" in changed
    blob = repo.git.hash_object(str(spec))
    assert repo.head.commit.message.endswith(f"\n\nKgit-Source: clusters/lab/cluster.yaml@{blob}\n")


def test_a_spec_outside_any_repository_is_a_clear_error(tmp_path, capsys):
    require_bundled_compile()
    spec = copy_example(tmp_path / "plain")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 1
    assert run.err == (
        f"error: {spec} is not inside a Git repository (hint: run `git init` there first)\n"
    )
    assert not (spec.parent / "out").exists()


def test_check_and_commit_cannot_be_combined(spec, capsys):
    with pytest.raises(SystemExit) as exit_info:
        kgit(capsys, "compile", "--check", "--commit", "-f", str(spec))
    assert exit_info.value.code == 1  # a usage error; 2 means "changes present"
    assert "argument --commit: not allowed with argument --check" in capsys.readouterr().err


def test_files_no_longer_generated_are_committed_as_deletions(spec, capsys):
    repo = _repo(spec)
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    text = spec.read_text()
    spec.write_text(text[: text.index("    - name: legacy-db")])  # the last entry of the file

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    removed = "out/manifests/external/prod/legacy-db.yaml"
    assert committed_paths(repo) == {removed, "out/index.json", "cluster.yaml"}
    assert removed not in _out_paths(repo)
    assert repo.head.commit.summary == "kgit: recompile out/; 1 object removed"


def test_an_ignored_out_is_a_clear_git_error(spec, capsys):
    repo = _repo(spec)
    (spec.parent / ".gitignore").write_text("out/\n")
    commit_all(repo, "ignore out/")

    run = kgit(capsys, "compile", "--commit", "-f", str(spec))

    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "error: git add failed: The following paths are ignored by one of your "
        ".gitignore files: out; nothing was committed or staged, and out/ holds the new compile"
    )
