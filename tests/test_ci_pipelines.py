"""docs/ci/'s pipelines run as written: their shell steps, in a cluster repository, against
the test API server and a stand-in for the forge's REST API (tests/ci_pipeline_helpers.py).

Issue 18, symptom 7: the examples installed kgit with `pip install .` (no pyproject.toml in a
cluster repository), gave the plan no secret variables, never showed a live plan on the
pull request, applied at merge a plan nobody reviewed, and added a new comment on every
push. Here each pipeline reviews a pull request twice (one comment, updated), applies the
reviewed plan at merge, and refuses a reviewed plan that the live cluster overtook.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import git
import pytest
import yaml

from tests.ci_pipeline_helpers import (
    TOKEN,
    FakeForge,
    GitHubRunner,
    GitLabRunner,
    shim_bin,
)
from tests.git_helpers import commit_all, copy_example, edit, init_repo, kgit

REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cret-db-password-value"
MARKER = "<!-- kgit review -->"


@pytest.fixture
def forge():
    server = FakeForge()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster_repo(tmp_path: Path, capsys) -> git.Repo:
    """A cluster repository (no kgit source in it) with a Secret from DB_PASSWORD, pushed
    to a bare origin."""
    root = tmp_path / "cluster-repo"
    spec = copy_example(root)
    spec.write_text(
        spec.read_text()
        + "  secrets:\n    - name: db\n      namespace: prod\n"
        + "      fromEnv: {password: DB_PASSWORD}\n"
    )
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0
    repo = init_repo(root)
    commit_all(repo, "the lab cluster")
    origin = git.Repo.init(tmp_path / "origin.git", bare=True)
    repo.create_remote("origin", origin.git_dir)
    repo.git.push("-q", "origin", "main")
    repo.git.fetch("-q", "origin")
    return repo


def _pull_request(repo: git.Repo, capsys, branch: str, image: str) -> str:
    """A branch off main that changes nginx's image, compiled and pushed; its head."""
    repo.git.checkout("-q", "main")
    repo.git.checkout("-q", "-b", branch)
    spec = Path(repo.working_tree_dir) / "cluster.yaml"
    assert kgit(capsys, "set-image", f"nginx={image}", "-f", str(spec)).code == 0
    commit_all(repo, f"nginx {image}")
    repo.git.push("-q", "origin", branch)
    return repo.head.commit.hexsha


def _push(repo: git.Repo, capsys, old: str, new: str) -> str:
    """A second push to the checked-out branch."""
    spec = Path(repo.working_tree_dir) / "cluster.yaml"
    edit(spec, old, new)
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0
    commit_all(repo, f"{old} -> {new}")
    return repo.head.commit.hexsha


def _merge(repo: git.Repo, branch: str) -> str:
    repo.git.checkout("-q", "main")
    repo.git.merge("-q", "--no-ff", "-m", f"Merge {branch}", branch)
    repo.git.push("-q", "origin", "main")
    return repo.head.commit.hexsha


def _comment(forge: FakeForge) -> str:
    (comment,) = forge.state.comments.values()  # one comment, however many pushes
    return comment["body"]


def _check_review_comment(body: str, head: str) -> None:
    assert body.startswith(MARKER)
    assert "Deployment web/nginx" in body  # kgit diff: what changes in out/
    assert "Plan:" in body and "to create" in body  # kgit plan: what changes live
    assert head in body
    assert SECRET not in body


def _deployment_image(apiserver) -> str:
    live = apiserver.get("apps/v1", "Deployment", "nginx", "web")
    assert live is not None
    return live["spec"]["template"]["spec"]["containers"][0]["image"]


def _overtake_the_reviewed_plan(apiserver) -> None:
    """Someone scales nginx by hand after the review: the plan saw another version of it."""
    request = urllib.request.Request(
        f"{apiserver.url}/apis/apps/v1/namespaces/web/deployments/nginx?fieldManager=kubectl",
        data=json.dumps({"spec": {"replicas": 7}}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_github_pipeline_reviews_with_a_live_plan_then_applies_exactly_it(
    cluster_repo, apiserver, forge, tmp_path, capsys
):
    workflow = yaml.safe_load((REPO / "docs" / "ci" / "github-actions.yml").read_text())
    kubeconfig = Path(apiserver.kubeconfig).read_text()
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    shims = shim_bin(tmp_path)
    root = Path(cluster_repo.working_tree_dir)

    def runner(head: str, sha: str) -> GitHubRunner:
        values = {
            "secrets.KGIT_PLAN_KUBECONFIG": kubeconfig,
            "secrets.KGIT_APPLY_KUBECONFIG": kubeconfig,
            "secrets.DB_PASSWORD": SECRET,
            "github.token": TOKEN,
            "github.event.pull_request.number": "7",
            "github.event.pull_request.head.sha": head,
            "runner.temp": str(temp),
        }
        return GitHubRunner(workflow, root, temp, forge, shims, values, {"GITHUB_SHA": sha})

    head = _pull_request(cluster_repo, capsys, "nginx-1-16", "nginx:1.16.1")
    ok, log = runner(head, head).run_job("review", run_id=1)
    assert ok, log
    _check_review_comment(_comment(forge), head)
    assert (shims / "pip.log").read_text().splitlines() == [
        "install " + workflow["env"]["KGIT_PACKAGE"]  # the pinned Git URL, not `pip install .`
    ]

    head = _push(cluster_repo, capsys, "replicas: 3", "replicas: 2")
    ok, log = runner(head, head).run_job("review", run_id=2)
    assert ok, log
    _check_review_comment(_comment(forge), head)  # the same comment, now for this push

    merge = _merge(cluster_repo, "nginx-1-16")
    forge.state.merged[merge] = (7, head)
    ok, log = runner(head, merge).run_job("deploy", run_id=3)
    assert ok, log
    assert _deployment_image(apiserver) == "nginx:1.16.1"
    secret = apiserver.get("v1", "Secret", "db", "prod")
    assert base64.b64decode(secret["data"]["password"]).decode() == SECRET

    # A second change, reviewed; then the cluster moves before the merge: refused.
    head = _pull_request(cluster_repo, capsys, "nginx-1-17", "nginx:1.17.0")
    ok, log = runner(head, head).run_job("review", run_id=4)
    assert ok, log
    _overtake_the_reviewed_plan(apiserver)
    merge = _merge(cluster_repo, "nginx-1-17")
    forge.state.merged[merge] = (7, head)
    ok, log = runner(head, merge).run_job("deploy", run_id=5)
    assert not ok
    assert "the saved plan is stale" in log, log
    assert _deployment_image(apiserver) == "nginx:1.16.1"  # nothing applied

    # A commit pushed to main without a pull request has no reviewed plan: refused.
    ok, log = runner(head, "f" * 40).run_job("deploy", run_id=6)
    assert not ok
    assert "was not merged from a pull request: no reviewed plan" in log


def test_gitlab_pipeline_reviews_with_a_live_plan_then_applies_exactly_it(
    cluster_repo, apiserver, forge, tmp_path, capsys
):
    pipeline = yaml.safe_load((REPO / "docs" / "ci" / "gitlab-ci.yml").read_text())
    encoded = base64.b64encode(Path(apiserver.kubeconfig).read_bytes()).decode()
    builds = tmp_path / "builds"
    builds.mkdir()
    shims = shim_bin(tmp_path)
    root = Path(cluster_repo.working_tree_dir)

    def runner(sha: str) -> GitLabRunner:
        variables = {
            "KGIT_API_TOKEN": TOKEN,
            "KGIT_PLAN_KUBECONFIG_BASE64": encoded,
            "KGIT_APPLY_KUBECONFIG_BASE64": encoded,
            "DB_PASSWORD": SECRET,
            "CI_COMMIT_SHA": sha,
            "CI_DEFAULT_BRANCH": "main",
            "CI_MERGE_REQUEST_IID": "7",
        }
        return GitLabRunner(pipeline, root, builds, forge, shims, variables)

    head = _pull_request(cluster_repo, capsys, "nginx-1-16", "nginx:1.16.1")
    ok, log = runner(head).run_job("kgit-review", job_id=11, pipeline_id=1)
    assert ok, log
    _check_review_comment(_comment(forge), head)
    head = _push(cluster_repo, capsys, "replicas: 3", "replicas: 2")
    ok, log = runner(head).run_job("kgit-review", job_id=12, pipeline_id=2)
    assert ok, log
    _check_review_comment(_comment(forge), head)
    assert not list(builds.glob("*.kubeconfig"))  # removed after use

    merge = _merge(cluster_repo, "nginx-1-16")
    forge.state.merged[merge] = (7, head)
    ok, log = runner(merge).run_job("kgit-deploy", job_id=13, pipeline_id=3)
    assert ok, log
    assert _deployment_image(apiserver) == "nginx:1.16.1"

    head = _pull_request(cluster_repo, capsys, "nginx-1-17", "nginx:1.17.0")
    ok, log = runner(head).run_job("kgit-review", job_id=14, pipeline_id=4)
    assert ok, log
    _overtake_the_reviewed_plan(apiserver)
    merge = _merge(cluster_repo, "nginx-1-17")
    forge.state.merged[merge] = (7, head)
    ok, log = runner(merge).run_job("kgit-deploy", job_id=15, pipeline_id=5)
    assert not ok
    assert "the saved plan is stale" in log, log
    assert _deployment_image(apiserver) == "nginx:1.16.1"
