"""The CI pipelines and pre-commit hooks in docs/ci/: their structure, and their kgit commands.

Every `kgit ...` line of a pipeline is run against a temporary repository shaped like a
pull request (main, plus a branch that updates an image), except plan and apply, which
need a cluster: for those the arguments are parsed by kgit's own parser.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from compiler.cli.app import build_parser
from tests.git_support import commit_all, copy_example, init_repo, kgit, require_bundled_compile

REPO = Path(__file__).resolve().parent.parent
GITHUB = REPO / "docs" / "ci" / "github-actions.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
SHELL_OPERATORS = {">", ">>", "|", "&&", "||", ";"}


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _github_on(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True; GitHub reads it as "on".
    return workflow.get("on", workflow.get(True))


def _kgit_lines(scripts: list[str]) -> list[str]:
    return [
        line.strip()
        for script in scripts
        for line in script.splitlines()
        if line.strip().startswith("kgit ")
    ]


def _github_scripts(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _gitlab_scripts(pipeline: dict, job: dict) -> list[str]:
    before = job.get("before_script", pipeline.get("default", {}).get("before_script", []))
    return [*before, *job["script"]]


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


def _check_review_commands(lines: list[str], capsys, diff_base: str) -> None:
    assert [line.split()[:2] for line in lines] == [
        ["kgit", "validate"],
        ["kgit", "compile"],
        ["kgit", "diff"],
    ]
    validate, check, diff = (_argv(line) for line in lines)
    assert check == ["compile", "--check"]
    assert diff == ["diff", "-o", "markdown", diff_base]
    for argv in (validate, check):
        run = kgit(capsys, *argv)
        assert run.code == 0, (argv, run.err)
    run = kgit(capsys, *diff)
    assert run.code == 0, run.err
    rendered = MarkdownIt("commonmark").enable("table").render(run.out)
    assert re.search(r"<td>objects changed</td>\n<td[^>]*>1</td>", rendered)
    assert "apps/v1 Deployment web/nginx" in rendered


def _check_deploy_commands(lines: list[str], kubeconfig: str) -> None:
    assert [line.split()[:2] for line in lines] == [["kgit", "plan"], ["kgit", "apply"]]
    plan_argv, apply_argv = (_argv(line) for line in lines)
    plan = build_parser("plan").parse_args(plan_argv)
    apply = build_parser("apply").parse_args(apply_argv)
    assert plan.kubeconfig == apply.kubeconfig == kubeconfig
    assert apply.yes is True
    assert plan.plan_file and apply.plan_file == plan.plan_file  # apply what was planned


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


def test_github_workflow_reviews_pull_requests_and_deploys_main(pull_request, capsys):
    workflow = _load(GITHUB)
    on = _github_on(workflow)
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]
    review, deploy = workflow["jobs"]["review"], workflow["jobs"]["deploy"]
    assert review["if"] == "github.event_name == 'pull_request'"
    assert deploy["if"] == "github.event_name == 'push'"
    assert review["permissions"]["pull-requests"] == "write"

    review_scripts = _github_scripts(review)
    _check_review_commands(_kgit_lines(review_scripts), capsys, "origin/main")
    comment = next(s for s in review_scripts if "gh pr comment" in s)
    assert '--body-file "$RUNNER_TEMP/kgit-diff.md"' in comment

    deploy_scripts = _github_scripts(deploy)
    _check_deploy_commands(
        _kgit_lines(deploy_scripts), os.path.expandvars("$RUNNER_TEMP/kubeconfig")
    )
    writer = next(s for s in deploy_scripts if '> "$RUNNER_TEMP/kubeconfig"' in s)
    assert writer.splitlines()[0] == "umask 077"


def test_gitlab_pipeline_reviews_merge_requests_and_deploys_the_default_branch(
    pull_request, capsys
):
    pipeline = _load(GITLAB)
    review, deploy = pipeline["kgit-review"], pipeline["kgit-deploy"]
    assert [r["if"] for r in review["rules"]] == [
        '$CI_PIPELINE_SOURCE == "merge_request_event" && '
        "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME == $CI_DEFAULT_BRANCH"
    ]
    assert [r["if"] for r in deploy["rules"]] == [
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
    ]
    assert pipeline["variables"]["GIT_DEPTH"] == "0"

    review_scripts = _gitlab_scripts(pipeline, review)
    assert review_scripts[0] == "pip install ."
    _check_review_commands(_kgit_lines(review_scripts), capsys, "origin/main")
    note = review_scripts[-1]
    assert "/merge_requests/$CI_MERGE_REQUEST_IID/notes" in note
    assert '--data-urlencode "body@kgit-diff.md"' in note

    kubeconfig = deploy["variables"]["KGIT_KUBECONFIG"]
    os.environ["KGIT_KUBECONFIG"] = kubeconfig  # the job's variable, for expansion
    try:
        _check_deploy_commands(_kgit_lines(_gitlab_scripts(pipeline, deploy)), kubeconfig)
    finally:
        del os.environ["KGIT_KUBECONFIG"]
    writer = next(s for s in deploy["script"] if '> "$KGIT_KUBECONFIG"' in s)
    assert writer.startswith("(umask 077 && ")


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
