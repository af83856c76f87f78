"""What plan and apply ask the API server: a request costs a real server milliseconds, so
reads go by kind (one LIST) rather than by object wherever many objects are read at once,
and writes of one stage run concurrently."""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest

from compiler.core.errors import PlanError
from compiler.reconcile.apply import apply_plan, plan_and_apply
from compiler.reconcile.client import ClientOptions, connect
from compiler.reconcile.client import client as connect_module
from compiler.reconcile.observe import GET_LIMIT
from compiler.reconcile.plan import PlanOptions
from compiler.reconcile.results import ApplyError
from tests.reconcile_apply_helpers import (
    FAST,
    client_for,
    configmap,
    converge,
    deployment,
    desired,
    namespace,
    plan,
    web_app,
)

MANY = GET_LIMIT + 2  # objects of one kind in one namespace: read with one LIST


def _reads(apiserver, resource: str) -> list[tuple[str, str]]:
    """(verb, namespace) of each read of ``resource`` since the log was cleared, but those
    of the ApplySet parent and the lock (kube-system)."""
    return [
        (r.verb, r.namespace)
        for r in apiserver.requests
        if r.resource == resource and r.method == "GET" and r.namespace != "kube-system"
    ]


def _config_maps(count: int, ns: str = "web") -> list[dict]:
    return [configmap(f"c-{i:02}", ns) for i in range(count)]


def _by_hand(apiserver, *objects: dict) -> None:
    """Objects created without kgit's label (kubectl create, before kgit)."""
    client = client_for(apiserver)
    for body in objects:
        client.apply(body, field_manager="kubectl")
    client.close()


# -- plan: objects to create are looked for by kind and namespace -----------------------


@pytest.mark.parametrize(
    "count, expected_reads",
    [
        pytest.param(GET_LIMIT, [("get", "web")] * GET_LIMIT, id="few-are-a-get-each"),
        pytest.param(MANY, [("list", "web")], id="many-are-one-list-of-the-namespace"),
    ],
)
def test_plan_looks_for_objects_to_create_by_get_or_one_list(apiserver, count, expected_reads):
    _by_hand(apiserver, namespace("web"), configmap("c-01"))
    client = client_for(apiserver)
    apiserver.requests.clear()
    _, made = plan(client, [namespace("web"), *_config_maps(count)], adopt=True)
    # The label-filtered LIST of observe, then the look for unlabelled ones.
    assert _reads(apiserver, "configmaps") == [("list", ""), *expected_reads]
    assert made.warnings == (
        "kgit will adopt 2 objects that exist without its ApplySet label: Namespace/web, "
        "ConfigMap/web/c-01",
    )
    assert [a.kind.value for a in made.actions].count("create") == count - 1


def test_plan_lists_many_new_objects_page_by_page(apiserver, monkeypatch):
    monkeypatch.setattr(connect_module, "LIST_PAGE_SIZE", 5)
    _by_hand(apiserver, namespace("web"), *_config_maps(MANY))
    client = client_for(apiserver)
    apiserver.requests.clear()
    _, made = plan(client, [namespace("web"), *_config_maps(MANY)], adopt=True)
    pages = [r for r in apiserver.requests if r.resource == "configmaps" and r.verb == "list"]
    unfiltered = [r for r in pages if "labelSelector" not in r.query]
    assert len(unfiltered) == 3  # 12 objects, 5 a page
    assert len(made.adopted) == 1 + MANY  # the Namespace, and every one on every page


# -- apply without a saved plan: lock, plan, apply ---------------------------------------


def test_apply_without_a_saved_plan_takes_the_lock_before_planning(apiserver):
    client = client_for(apiserver)
    converge(client, web_app())
    apiserver.requests.clear()
    objects = web_app()
    objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.15"
    no_wait = dataclasses.replace(FAST, wait=False)
    _, result = plan_and_apply(client, desired(objects), PlanOptions(), no_wait, out=io.StringIO())
    assert result is not None
    assert [str(c) for c in result.changes] == ["Deployment.apps/web/nginx configured"]
    log = list(apiserver.requests)
    lease_taken = next(
        i for i, r in enumerate(log) if r.resource == "leases" and r.verb == "create"
    )
    first_object_read = next(i for i, r in enumerate(log) if r.resource == "deployments")
    assert lease_taken < first_object_read
    # The plan's LIST, its dry-run, the apply: the plan made under the lock is not re-read.
    assert [(r.verb, "dryRun" in r.query) for r in log if r.resource == "deployments"] == [
        ("list", False),
        ("patch", True),
        ("patch", False),
    ]


def test_apply_without_a_saved_plan_stops_when_not_confirmed_and_releases_the_lock(apiserver):
    client = client_for(apiserver)
    shown = []

    def decline(made) -> bool:
        shown.append(made.summary())
        return False

    _, result = plan_and_apply(
        client, desired(web_app()), PlanOptions(), FAST, decide=decline, out=io.StringIO()
    )
    assert result is None
    assert shown == ["Plan: 4 to create, 0 to update, 0 to replace, 0 to delete."]
    assert apiserver.get("v1", "Namespace", "web") is None
    assert apiserver.get("coordination.k8s.io/v1", "Lease", "kgit-lab-lock", "kube-system") is None


# -- apply of a saved plan: the staleness check reads by kind ----------------------------


def _saved_plan_creating(apiserver, objects):
    client = client_for(apiserver)
    wanted, made = plan(client, objects, adopt=True)  # the namespace may exist already
    return client, wanted, made


@pytest.mark.parametrize(
    "count",
    [pytest.param(1, id="get"), pytest.param(MANY, id="list")],
)
def test_saved_plan_is_stale_when_an_object_it_creates_exists_now(apiserver, count):
    _by_hand(apiserver, namespace("web"))
    client, wanted, made = _saved_plan_creating(apiserver, [namespace("web"), *_config_maps(count)])
    _by_hand(apiserver, configmap("c-00", data={"someone": "else"}))
    with pytest.raises(PlanError) as caught:
        apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert str(caught.value) == (
        "the saved plan is stale: ConfigMap/web/c-00: it exists now since the plan was made "
        "(hint: run 'kgit plan' again)"
    )
    assert apiserver.get("v1", "ConfigMap", "c-00", "web")["data"] == {"someone": "else"}


def test_saved_plan_creating_a_namespace_checks_the_namespace_not_its_objects(apiserver):
    client, wanted, made = _saved_plan_creating(apiserver, [namespace("web"), *_config_maps(MANY)])
    apiserver.requests.clear()
    apply_plan(client, made, wanted, dataclasses.replace(FAST, wait=False), out=io.StringIO())
    # Nothing can be in a namespace that does not exist: only the Namespace is looked for.
    assert _reads(apiserver, "configmaps") == []
    assert ("get", "") in _reads(apiserver, "namespaces")


def test_saved_plan_is_stale_when_an_object_it_updates_was_deleted(apiserver):
    client = client_for(apiserver)
    converge(client, [namespace("web"), *_config_maps(MANY)])
    changed = [namespace("web"), *_config_maps(MANY)]
    for body in changed[1:]:
        body["data"] = {"key": "new"}
    wanted, made = plan(client, changed)
    client.delete(_ref("c-05"))
    apiserver.requests.clear()
    with pytest.raises(PlanError) as caught:
        apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert str(caught.value) == (
        "the saved plan is stale: ConfigMap/web/c-05: it was deleted since the plan was made "
        "(hint: run 'kgit plan' again)"
    )
    # One LIST by the ApplySet label for the twelve, then a GET of the one it did not return.
    assert _reads(apiserver, "configmaps") == [("list", ""), ("get", "web")]


def _ref(name: str):
    from compiler.core.identity import ObjectId

    return ObjectId("v1", "ConfigMap", "web", name)


# -- waiting: one LIST per kind per poll -------------------------------------------------


def test_waiting_for_many_rollouts_lists_them_instead_of_getting_each(apiserver):
    apiserver.controllers.set("Deployment", "never")
    objects = [namespace("web"), *(deployment(f"d-{i:02}") for i in range(MANY))]
    client = client_for(apiserver)
    apiserver.requests.clear()
    with pytest.raises(ApplyError) as caught:
        converge(client, objects, dataclasses.replace(FAST, timeout=0.5))
    assert caught.value.message.startswith(f"{MANY} objects not ready (timeout 0.5s):")
    reads = _reads(apiserver, "deployments")
    assert ("get", "web") not in reads
    assert reads.count(("list", "")) >= 3  # the plan's, then a LIST per poll


# -- concurrency ---------------------------------------------------------------------------


def test_connection_pool_holds_a_connection_per_worker(apiserver):
    client = connect(str(apiserver.kubeconfig), options=ClientOptions(parallelism=32))
    pool = client.api_client.rest_client.pool_manager
    assert pool.connection_pool_kw["maxsize"] >= 32
    client.close()


def test_objects_of_one_stage_are_applied_concurrently(apiserver, monkeypatch):
    # Each ConfigMap write waits at the server until eight are in flight at once: applied
    # one after another, the first would wait in vain and the barrier break.
    barrier = threading.Barrier(8, timeout=10)
    broken = []
    pick = apiserver.faults.pick

    def meet_then_pick(method, verb, path):
        if method == "PATCH" and "/namespaces/web/configmaps/" in path:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                broken.append(path)
        return pick(method, verb, path)

    monkeypatch.setattr(apiserver.faults, "pick", meet_then_pick)
    client = client_for(apiserver)
    result = converge(client, [namespace("web"), *_config_maps(8)])
    assert broken == []
    assert len(result.changes) == 9
