"""kgit set-image: the image changes in place, nothing else in cluster.yaml does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.git_helpers import (
    commit_all,
    committed_paths,
    copy_example,
    init_repo,
    kgit,
    require_bundled_compile,
)

SECOND_NGINX = """    - name: nginx
      namespace: prod
      image: nginx:1.25
  externalServices:
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    require_bundled_compile()
    return copy_example(tmp_path / "lab")


def _deployment(spec: Path, namespace: str = "web", app: str = "nginx") -> dict:
    manifest = (spec.parent / f"out/manifests/apps/{namespace}/{app}.yaml").read_text()
    return next(d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "Deployment")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1
    return text.replace(old, new)


def test_changes_only_the_image_on_the_bundled_spec(spec, capsys):
    old = spec.read_text()

    run = kgit(capsys, "set-image", "nginx=nginx:1.16.1", "-f", str(spec))

    assert run.code == 0, run.err
    # Comments, order, spacing: every other byte is as it was.
    assert spec.read_text() == _replace_once(old, "image: nginx:1.14.2", "image: nginx:1.16.1")
    changed = [
        (a, b)
        for a, b in zip(old.splitlines(), spec.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert changed == [("      image: nginx:1.14.2", "      image: nginx:1.16.1")]
    line = old.splitlines().index("      image: nginx:1.14.2") + 1
    assert run.out.splitlines()[0] == (
        f"{spec}:{line}:14: web/nginx/nginx: nginx:1.14.2 -> nginx:1.16.1"
    )
    assert kgit(capsys, "compile", "--check", "-f", str(spec)).code == 0
    deployment = _deployment(spec)
    [container] = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "nginx"
    ]
    assert container["image"] == "nginx:1.16.1"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubernetes.io/change-cause"] == "kgit: set image nginx=nginx:1.16.1"


def test_sets_an_init_container_image(spec, capsys):
    old = spec.read_text()

    run = kgit(capsys, "set-image", "nginx/init=busybox:1.29", "-f", str(spec))

    assert run.code == 0, run.err
    assert spec.read_text() == _replace_once(old, "image: busybox:1.28", "image: busybox:1.29")
    assert kgit(capsys, "compile", "--check", "-f", str(spec)).code == 0


@pytest.mark.parametrize(
    ("written", "image", "expected"),
    [
        pytest.param('"nginx:1.14.2"', "nginx:1.16.1", '"nginx:1.16.1"', id="double-quoted"),
        pytest.param("'nginx:1.14.2'", "nginx:1.16.1", "'nginx:1.16.1'", id="single-quoted"),
        # A plain scalar that YAML would read as a boolean must be quoted to stay a string.
        pytest.param("nginx:1.14.2", "true", '"true"', id="plain-needs-quotes"),
        pytest.param(
            "nginx:1.14.2",
            "registry.example/team/nginx@sha256:" + "a" * 64,
            "registry.example/team/nginx@sha256:" + "a" * 64,
            id="digest",
        ),
    ],
)
def test_keeps_or_adds_quotes_as_needed(spec, capsys, written, image, expected):
    spec.write_text(_replace_once(spec.read_text(), "image: nginx:1.14.2", f"image: {written}"))
    old = spec.read_text()

    run = kgit(capsys, "set-image", f"nginx={image}", "-f", str(spec))

    assert run.code == 0, run.err
    assert spec.read_text() == _replace_once(old, f"image: {written}", f"image: {expected}")
    assert yaml.safe_load(spec.read_text())["spec"]["apps"][0]["image"] == image


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        pytest.param(
            "shop=nginx:1", "error: no app named 'shop'; the apps are: web/nginx", id="unknown-app"
        ),
        pytest.param(
            "nginx/sidecar=nginx:1",
            "error: app web/nginx has no container 'sidecar'; its containers are: "
            "nginx (main), init (init)",
            id="unknown-container",
        ),
        pytest.param(
            "nginx=nginx 1.16",
            "error: 'nginx 1.16' is not a valid image reference (hint: an image reference "
            "such as nginx:1.25 or registry.example/team/app@sha256:...)",
            id="bad-image",
        ),
        pytest.param(
            "nginx:1.16.1",
            "error: 'nginx:1.16.1' is not APP[/CONTAINER]=IMAGE (hint: e.g. nginx=nginx:1.16.1)",
            id="no-equals",
        ),
    ],
)
def test_rejects_bad_arguments_and_writes_nothing(spec, capsys, argument, message):
    old = spec.read_bytes()

    run = kgit(capsys, "set-image", argument, "-f", str(spec))

    assert run.code == 1
    assert run.err.splitlines()[-1] == message
    assert spec.read_bytes() == old
    assert not (spec.parent / "out").exists()


def test_an_app_name_in_two_namespaces_needs_a_namespace(spec, capsys):
    spec.write_text(_replace_once(spec.read_text(), "  externalServices:\n", SECOND_NGINX))

    ambiguous = kgit(capsys, "set-image", "nginx=nginx:1.27", "-f", str(spec))
    assert ambiguous.code == 1
    assert ambiguous.err.splitlines()[-1] == (
        "error: app 'nginx' exists in several namespaces (prod, web) "
        "(hint: choose one with -n/--namespace)"
    )

    old = spec.read_text()
    chosen = kgit(capsys, "set-image", "-n", "prod", "nginx=nginx:1.27", "-f", str(spec))
    assert chosen.code == 0, chosen.err
    assert spec.read_text() == _replace_once(old, "image: nginx:1.25", "image: nginx:1.27")


def test_the_same_image_is_no_change(spec, capsys):
    old = spec.read_bytes()
    run = kgit(capsys, "set-image", "nginx=nginx:1.14.2", "-f", str(spec))
    assert run.code == 0
    assert run.out == "nothing to change: nginx/nginx is already nginx:1.14.2\n"
    assert spec.read_bytes() == old


def test_commit_records_spec_and_out_together(tmp_path, capsys):
    require_bundled_compile()
    root = tmp_path / "repo"
    spec = copy_example(root)
    repo = init_repo(root)
    (root / "notes.txt").write_text("unrelated\n")
    commit_all(repo, "the spec")
    assert kgit(capsys, "compile", "--commit", "-f", str(spec)).code == 0
    (root / "notes.txt").write_text("unrelated, staged\n")
    repo.git.add("notes.txt")

    run = kgit(capsys, "set-image", "nginx=nginx:1.16.1", "--commit", "-f", str(spec))

    assert run.code == 0, run.err
    changed = committed_paths(repo)
    assert "cluster.yaml" in changed
    assert "out/manifests/apps/web/nginx.yaml" in changed
    assert all(p == "cluster.yaml" or p.startswith("out/") for p in changed), changed
    blob = repo.head.commit.tree["cluster.yaml"].hexsha
    assert repo.head.commit.message == (
        f"kgit: set image nginx=nginx:1.16.1\n\nKgit-Source: cluster.yaml@{blob}\n"
    )
    assert repo.git.diff("--cached", "--name-only").splitlines() == ["notes.txt"]
    assert repo.git.status("--porcelain", "--", "cluster.yaml", "out").strip() == ""
