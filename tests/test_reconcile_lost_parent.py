"""A lost ApplySet parent: deleted by hand, or lost with the server's state mid-apply
(issue 17 items 2 and 3). kgit neither creates a bare parent nor stops pruning silently."""

from __future__ import annotations

import io
import json

import pytest

from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.reconcile import history
from compiler.reconcile.apply import apply_plan
from compiler.reconcile.applyset import ID_LABEL, parent_ref
from compiler.reconcile.results import ApplyError, Change
from tests.reconcile_apply_helpers import (
    FAST,
    SET_ID,
    client_for,
    configmap,
    converge,
    deployment,
    inventory,
    namespace,
    plan,
    refs,
    service,
    web_app,
)

PARENT = parent_ref("lab")


def parent_of(apiserver):
    return apiserver.get("v1", "ConfigMap", "kgit-lab", "kube-system")


def test_failed_apply_on_a_server_that_lost_its_state_creates_no_bare_parent(apiserver):
    client = client_for(apiserver)
    wanted, made = plan(client, web_app())
    apiserver.faults.error(500, verb="patch", path="/deployments/")  # stage 3 fails

    def lose_state(change: Change) -> None:
        # the server restarts empty while the apply runs (its parent goes with it)
        if change.subject.kind == "Service":
            client.delete(PARENT)

    out = io.StringIO()
    with pytest.raises(ApplyError):
        apply_plan(client, made, wanted, FAST, report=lose_state, out=out)
    assert parent_of(apiserver) is None  # the history write did not create it bare
    assert (
        "warning: this failed apply is not in the history: the ApplySet parent "
        "ConfigMap/kube-system/kgit-lab does not exist" in out.getvalue()
    )
    # and the next apply is not refused: it completes what the failed one left
    apiserver.faults.clear()
    converge(client, web_app())
    assert inventory(apiserver) == refs(web_app())


def test_apply_recovers_a_bare_parent_left_by_an_older_kgit(apiserver):
    client = client_for(apiserver)
    converge(client, web_app())
    # What an older kgit's history write left after the server lost its state: a
    # ConfigMap with nothing but history.json (no ApplySet label, tooling, inventory).
    client.delete(PARENT)
    old = history.HistoryEntry("abc", "2026-01-01T00:00:00Z", "bob@ci", "Plan: ...", "failed: x")
    client.apply(history.history_patch(PARENT.name, [old]), field_manager="kgit-history")
    result = converge(client, web_app())
    parent = parent_of(apiserver)
    assert parent["metadata"]["labels"][ID_LABEL] == SET_ID
    assert inventory(apiserver) == refs(web_app())
    entries = history.read_history(parent)
    assert [e.user for e in entries] == ["bob@ci", result.entry.user]


def app(name: str) -> list[dict]:
    return [deployment(name), service(name)]


def test_deleted_parent_does_not_silently_stop_pruning(apiserver):
    client = client_for(apiserver)
    before = [namespace("web"), configmap("settings"), *app("nginx"), *app("api")]
    converge(client, before)
    client.delete(PARENT)  # kubectl -n kube-system delete configmap kgit-lab
    after = [namespace("web"), configmap("settings"), deployment("api")]  # Services gone too

    with pytest.raises(PlanError) as refused:
        plan(client, after)
    assert str(refused.value).startswith(
        "the ApplySet parent ConfigMap/kube-system/kgit-lab is missing (or holds no "
        f"inventory), but 6 live objects carry its label applyset.kubernetes.io/part-of="
        f"{SET_ID}, 3 of them no longer in out/manifests (Service/web/api, "
        "Service/web/nginx, Deployment.apps/web/nginx): without the parent's inventory "
        "kgit cannot tell whether it may prune them (hint: if every object carrying the "
        "label is kgit's, run 'kgit plan --rebuild-inventory'"
    )

    # --rebuild-inventory: the labelled objects are kgit's again, Services included
    # although out/ no longer has any (every served kind was listed by the label)
    wanted, made = plan(client, after, rebuild_inventory=True)
    deleted = sorted(str(a.ref) for a in made.actions if a.kind.value == "delete")
    assert deleted == ["Deployment.apps/web/nginx", "Service/web/api", "Service/web/nginx"]
    result = apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert sorted(str(c.subject) for c in result.changes if c.action.value == "deleted") == (
        deleted
    )
    assert inventory(apiserver) == refs(after)
    assert apiserver.get("apps/v1", "Deployment", "nginx", "web") is None


def test_deleted_parent_with_nothing_to_prune_is_recreated_without_a_flag(apiserver):
    client = client_for(apiserver)
    converge(client, web_app())
    client.delete(PARENT)
    _, made = plan(client, web_app())
    assert not made.has_changes()
    converge(client, [*web_app(), configmap("more")])
    assert inventory(apiserver) == refs([*web_app(), configmap("more")])
    assert ObjectId("v1", "ConfigMap", "web", "more") in inventory(apiserver)
    assert json.loads(parent_of(apiserver)["data"]["inventory.json"])["members"]


def test_kgit_plan_names_the_lost_parent_and_the_way_forward(apiserver, tmp_path, capsys):
    from compiler.cli.app import main
    from tests.reconcile_apply_helpers import write_out

    client = client_for(apiserver)
    converge(client, [*web_app(), configmap("old")])
    client.delete(PARENT)
    write_out(tmp_path / "out", web_app())
    args = ["plan", "-O", str(tmp_path / "out"), "--kubeconfig", str(apiserver.kubeconfig)]
    assert main(args) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(
        "error: the ApplySet parent ConfigMap/kube-system/kgit-lab is missing (or holds no "
        "inventory), but 5 live objects carry its label"
    )
    assert "1 of them no longer in out/manifests (ConfigMap/web/old)" in err[-1]
    assert main([*args, "--rebuild-inventory"]) == 0
    assert "- delete ConfigMap/web/old" in capsys.readouterr().out
