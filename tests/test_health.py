"""Health is part of the state: plan, apply and status see objects that are not ready.

Issue 18, symptom 1: with a Deployment that never becomes ready, the first `kgit apply`
failed on its timeout, and the second said `No changes` and exited 0: a pipeline went
green while the app was down.
"""

from __future__ import annotations

import json

import pytest

from compiler.cli.app import main
from compiler.core.identity import ObjectId
from compiler.reconcile.health import generic_readiness, health_of
from compiler.reconcile.wait import State
from tests.reconcile_apply_helpers import web_app, write_out

API = "Deployment.apps/web/nginx"


@pytest.fixture
def kgit(apiserver, tmp_path, capsys):
    out_dir = tmp_path / "out"

    def run(*argv: str) -> tuple[int, str, str]:
        common = ["-O", str(out_dir), "--kubeconfig", str(apiserver.kubeconfig)]
        code = main([*argv, *common])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.out_dir = out_dir  # type: ignore[attr-defined]
    return run


def test_apply_with_nothing_to_change_still_fails_while_a_deployment_is_not_ready(kgit, apiserver):
    apiserver.controllers.set("Deployment", "never")
    write_out(kgit.out_dir, web_app())
    assert kgit("apply", "--yes", "--timeout", "1s")[0] == 1

    code, out, err = kgit("apply", "--yes", "--timeout", "1s")

    assert code == 1, out + err
    assert "No changes, but 1 object is not ready:" in out
    assert f"{API}: timed out: 0 of 2 updated replicas are available" in err

    code, out, err = kgit("apply", "--yes", "--no-wait")
    assert code == 1
    assert err.startswith(f"error: 1 object not ready:\n  {API}: pending: ")


def test_plan_shows_unhealthy_objects_next_to_no_changes_and_in_json(kgit, apiserver):
    apiserver.controllers.set("Deployment", "never")
    write_out(kgit.out_dir, web_app())
    kgit("apply", "--yes", "--no-wait")

    code, out, _ = kgit("plan", "--detailed-exitcode")

    assert code == 0  # no changes: the exit code is about changes, as in Terraform
    assert out.splitlines()[-2:] == [
        "No changes, but 1 object is not ready:",
        f"  {API}: pending: 0 of 2 updated replicas are available",
    ]
    code, out, _ = kgit("plan", "-o", "json")
    document = json.loads(out)
    assert document["healthy"] is False
    assert [(u["address"], u["state"]) for u in document["unhealthy"]] == [(API, "pending")]


def test_a_healthy_cluster_plans_no_changes_and_applies_green(kgit, apiserver):
    write_out(kgit.out_dir, web_app())
    assert kgit("apply", "--yes")[0] == 0
    code, out, _ = kgit("apply", "--yes")
    assert code == 0
    assert out.splitlines()[-1].startswith("No changes. The cluster matches out/manifests")


def _custom(generation: int, status: dict) -> dict:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "generation": generation},
        "status": status,
    }


@pytest.mark.parametrize(
    ("body", "state"),
    [
        # no status at all: nothing to judge, healthy once it exists
        pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, State.READY),
        # the controller has not seen the latest spec yet
        pytest.param(_custom(3, {"observedGeneration": 2}), State.PENDING, id="behind"),
        pytest.param(
            _custom(
                2, {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}
            ),
            State.READY,
            id="ready",
        ),
        pytest.param(
            _custom(1, {"conditions": [{"type": "Ready", "status": "False", "reason": "Bad"}]}),
            State.FAILED,
            id="not-ready",
        ),
        pytest.param(
            _custom(1, {"conditions": [{"type": "Ready", "status": "Unknown"}]}),
            State.PENDING,
            id="unknown",
        ),
    ],
)
def test_custom_resources_follow_kstatus(body, state):
    assert generic_readiness(body).state is state


def test_crd_health_is_established():
    ref = ObjectId("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "w.example.com")
    body = {"metadata": {"name": "w.example.com"}, "status": {"conditions": []}}
    assert health_of(ref, body).state is State.PENDING


def test_status_prints_sync_and_health_per_object_and_exits_non_zero(kgit, apiserver):
    write_out(kgit.out_dir, web_app())
    code, out, _ = kgit("status")
    assert code == 2  # nothing applied yet: out of sync
    assert out.splitlines()[-1] == "Status: 0 synced, 4 out of sync; 4 not ready."

    apiserver.controllers.set("Deployment", "never")
    kgit("apply", "--yes", "--no-wait")
    code, out, _ = kgit("status")
    assert code == 3  # in sync, not ready
    row = next(line for line in out.splitlines() if line.startswith(API))
    assert row.split(None, 2)[1:] == [
        "Synced",
        "Progressing: 0 of 2 updated replicas are available",
    ]
    code, out, _ = kgit("status", "-o", "json")
    document = json.loads(out)
    assert (document["in_sync"], document["healthy"]) == (True, False)
    assert {o["address"]: o["health"] for o in document["objects"]}[API] == "Progressing"
    code, out, _ = kgit("status", "-o", "markdown")
    assert f"| `{API}` | Synced | Progressing | 0 of 2 updated replicas are available |" in out


def test_status_of_a_healthy_cluster_in_sync_exits_zero(kgit, apiserver):
    write_out(kgit.out_dir, web_app())
    assert kgit("apply", "--yes")[0] == 0
    code, out, _ = kgit("status")
    assert code == 0, out
    assert out.splitlines()[-1] == "Status: 4 synced, 0 out of sync; 0 not ready."
