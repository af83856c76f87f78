"""kgit's apply end to end against the test API server (kubectl as an independent check)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import shutil
import subprocess

import pytest

from compiler.core.errors import KgitError, PlanError
from compiler.core.identity import ObjectId
from compiler.reconcile import history
from compiler.reconcile.apply import apply_plan
from compiler.reconcile.calls import ApplyCluster
from compiler.reconcile.client.retry import RetryPolicy, no_jitter
from compiler.reconcile.lock import force_unlock
from compiler.reconcile.model import ActionKind
from compiler.reconcile.normalize import fingerprint
from compiler.reconcile.results import ApplyError, Outcome
from tests.reconcile_apply_helpers import (
    CLUSTER,
    FAST,
    FAST_RETRY,
    SET_ID,
    client_for,
    configmap,
    converge,
    deployment,
    inventory,
    members,
    namespace,
    plan,
    refs,
    service,
    web_app,
    with_retry,
)
from tests.reconcile_objects import from_env_secret


def history_of(apiserver) -> list[history.HistoryEntry]:
    return history.read_history(apiserver.get("v1", "ConfigMap", "kgit-lab", "kube-system"))


def _lines(result) -> list[str]:
    return [str(c) for c in result.changes]


def test_empty_cluster_apply_creates_everything_and_next_plan_is_empty(any_cluster):
    client = client_for(any_cluster)
    result = converge(client, web_app())
    assert _lines(result) == [
        "Namespace/web created",
        "Service/web/nginx created",
        "Deployment.apps/web/nginx created",
        "Ingress.networking.k8s.io/web/nginx created",
    ]
    assert result.summary() == (
        "Apply complete: 4 created, 0 configured, 0 replaced, 0 deleted, 0 skipped."
    )
    assert members(any_cluster) == refs(web_app()) == inventory(any_cluster)
    _, again = plan(client, web_app())
    assert not again.has_changes()


def test_kubectl_sees_the_applyset_members(any_cluster):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    converge(client_for(any_cluster), web_app())
    listed = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(any_cluster.kubeconfig),
            "get",
            "deployments,services",
            "-A",
            "-l",
            f"applyset.kubernetes.io/part-of={SET_ID}",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert sorted(listed) == ["deployment.apps/nginx", "service/nginx"]


def test_image_change_is_one_update(any_cluster):
    client = client_for(any_cluster)
    converge(client, web_app())
    objects = web_app()
    objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.15.0"
    result = converge(client, objects)
    assert _lines(result) == ["Deployment.apps/web/nginx configured"]
    live = any_cluster.get("apps/v1", "Deployment", "nginx", "web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.15.0"


def test_removed_app_deletes_exactly_its_objects(any_cluster):
    client = client_for(any_cluster)
    other = [deployment("api"), service("api"), configmap("api-config")]
    converge(client, web_app() + other)
    result = converge(client, web_app())
    assert _lines(result) == [
        "Deployment.apps/web/api deleted",
        "ConfigMap/web/api-config deleted",
        "Service/web/api deleted",
    ]
    assert members(any_cluster) == refs(web_app()) == inventory(any_cluster)
    assert any_cluster.get("apps/v1", "Deployment", "nginx", "web") is not None


def test_object_with_copied_labels_but_not_in_inventory_is_never_deleted(any_cluster):
    client = client_for(any_cluster)
    converge(client, [*web_app(), configmap("extra")])
    intruder = configmap("someone-elses")
    intruder["metadata"]["labels"] = {"applyset.kubernetes.io/part-of": SET_ID}
    any_cluster.create(intruder)
    result = converge(client, web_app())
    assert _lines(result) == ["ConfigMap/web/extra deleted"]
    assert any_cluster.get("v1", "ConfigMap", "someone-elses", "web") is not None


def test_prune_rechecks_the_label_on_the_live_object(any_cluster):
    from kubernetes.client import CoreV1Api

    client = client_for(any_cluster)
    converge(client, [*web_app(), configmap("extra")])
    wanted, made = plan(client, web_app())
    # Between plan and apply, someone takes the object over: they remove kgit's label.
    CoreV1Api(client.api_client).patch_namespaced_config_map(
        "extra", "web", {"metadata": {"labels": {"applyset.kubernetes.io/part-of": None}}}
    )
    relabelled = any_cluster.get("v1", "ConfigMap", "extra", "web")
    # A plan that saw that version (so the stale check passes) must still not delete it.
    made = dataclasses.replace(
        made,
        actions=tuple(
            dataclasses.replace(a, live_fingerprint=fingerprint(relabelled))
            if a.kind is ActionKind.DELETE
            else a
            for a in made.actions
        ),
    )
    result = apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert _lines(result) == [
        f"ConfigMap/web/extra skipped (not pruned: it no longer carries "
        f"applyset.kubernetes.io/part-of={SET_ID})"
    ]
    assert any_cluster.get("v1", "ConfigMap", "extra", "web") is not None


@pytest.mark.parametrize(
    ("remaining", "message"),
    [
        pytest.param(
            [],
            "out/manifests is empty, so apply would delete all 4 objects kgit manages on this "
            "cluster; refusing (hint: if that is really intended, re-run with --allow-mass-prune)",
            id="empty-render",
        ),
        pytest.param(
            [namespace("web")],
            "apply would delete 3 of the 4 objects kgit manages on this cluster (more than "
            "half); refusing (hint: check out/ (was it compiled from the right cluster.yaml?); "
            "if the deletions are intended, re-run with --allow-mass-prune)",
            id="more-than-half",
        ),
    ],
)
def test_mass_prune_is_refused_before_anything_is_written(apiserver, remaining, message):
    client = client_for(apiserver)
    converge(client, web_app())
    requests_before = len(apiserver.requests)
    with pytest.raises(PlanError) as caught:
        converge(client, remaining)
    assert str(caught.value) == message
    assert members(apiserver) == refs(web_app())
    object_writes = [
        r
        for r in list(apiserver.requests)[requests_before:]
        if r.method in ("PATCH", "DELETE") and r.resource != "leases" and "dryRun" not in r.query
    ]
    assert object_writes == []


def test_mass_prune_allowed_with_the_flag_and_namespace_protected(any_cluster):
    client = client_for(any_cluster)
    converge(client, web_app())
    result = converge(client, [], dataclasses.replace(FAST, allow_mass_prune=True))
    assert _lines(result) == [
        "Namespace/web skipped (protected kind: use --prune-protected)",
        "Ingress.networking.k8s.io/web/nginx deleted",
        "Deployment.apps/web/nginx deleted",
        "Service/web/nginx deleted",
    ]
    assert any_cluster.get("v1", "Namespace", "web") is not None
    assert inventory(any_cluster) == {ObjectId("v1", "Namespace", "", "web")}


def _applied_then_planned_to_scale_to_five(client):
    """web_app() applied; then a plan that scales its Deployment to 5 replicas."""
    converge(client, web_app())
    objects = web_app()
    objects[1]["spec"]["replicas"] = 5
    return plan(client, objects)


def test_stale_plan_is_refused_when_an_object_changed_since(any_cluster):
    client = client_for(any_cluster)
    wanted, made = _applied_then_planned_to_scale_to_five(client)
    # Someone else changes the Deployment after the plan was made.
    other = deployment("nginx")
    other["spec"]["replicas"] = 3
    client.apply(other, field_manager="someone-else")
    with pytest.raises(PlanError) as caught:
        apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert str(caught.value) == (
        "the saved plan is stale: Deployment.apps/web/nginx: it changed on the cluster since "
        "the plan was made (hint: run 'kgit plan' again)"
    )
    assert any_cluster.get("apps/v1", "Deployment", "nginx", "web")["spec"]["replicas"] == 3


def test_saved_plan_stays_valid_when_only_a_controller_wrote_status(apiserver):
    # On a real cluster a busy Deployment's status (and so its resourceVersion) moves every
    # few seconds; a plan saved a minute ago must still apply.
    client = client_for(apiserver)
    wanted, made = _applied_then_planned_to_scale_to_five(client)
    before = apiserver.get("apps/v1", "Deployment", "nginx", "web")
    resource = apiserver.resource_for("apps/v1", "Deployment")
    status = {**before["status"], "conditions": [{"type": "Available", "status": "False"}]}
    apiserver.write_status(resource, "web", "nginx", status, manager="kube-controller-manager")
    after = apiserver.get("apps/v1", "Deployment", "nginx", "web")
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]
    result = apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert _lines(result) == ["Deployment.apps/web/nginx configured"]
    assert apiserver.get("apps/v1", "Deployment", "nginx", "web")["spec"]["replicas"] == 5


def test_saved_plan_is_stale_when_a_label_was_added_since(any_cluster):
    client = client_for(any_cluster)
    wanted, made = _applied_then_planned_to_scale_to_five(client)
    client.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "nginx", "namespace": "web", "labels": {"team": "b"}},
        },
        field_manager="someone-else",
    )
    with pytest.raises(PlanError) as caught:
        apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert str(caught.value) == (
        "the saved plan is stale: Deployment.apps/web/nginx: it changed on the cluster since "
        "the plan was made (hint: run 'kgit plan' again)"
    )


def test_stale_plan_is_refused_when_out_changed(any_cluster):
    client = client_for(any_cluster)
    _, made = plan(client, web_app())
    wanted, _ = plan(client, [*web_app(), configmap("new")])
    with pytest.raises(PlanError) as caught:
        apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert str(caught.value) == (
        "the saved plan is stale: out/manifests changed since it was made "
        "(hint: run 'kgit plan' again)"
    )
    assert members(any_cluster) == set()


def test_crd_and_custom_resource_in_one_apply(any_cluster):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "web"},
        "spec": {"size": 3},
    }
    client = client_for(any_cluster)
    result = converge(client, [namespace("web"), crd, widget])
    assert _lines(result) == [
        "Namespace/web created",
        "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com created",
        "Widget.example.com/web/w1 created",
    ]
    assert any_cluster.get("example.com/v1", "Widget", "w1", "web")["spec"] == {"size": 3}
    _, again = plan(client, [namespace("web"), crd, widget])
    assert not again.has_changes()


INGRESS_CONTROLLER = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
    "spec": {
        "selector": {"matchLabels": {"app": "ingress"}},
        "template": {
            "metadata": {"labels": {"app": "ingress"}},
            "spec": {"containers": [{"name": "c", "image": "controller:1"}]},
        },
    },
}
ADMISSION_SERVICE = service("ingress-nginx-controller-admission", "ingress-nginx")
ADMISSION_SERVICE["spec"]["selector"] = {"app": "ingress"}
ADMISSION_WEBHOOK = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "ingress-nginx-admission"},
    "webhooks": [
        {
            "name": "validate.nginx.ingress.kubernetes.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {
                "service": {
                    "name": "ingress-nginx-controller-admission",
                    "namespace": "ingress-nginx",
                    "path": "/networking/v1/ingresses",
                }
            },
        }
    ],
}


def _first_admission_write(log) -> int:
    return min(
        i
        for i, r in enumerate(log)
        if r.method == "PATCH"
        and "dryRun" not in r.query
        and r.resource in ("ingresses", "validatingwebhookconfigurations")
    )


def _reads_between(log, resource: str, start: int, end: int) -> list:
    return [r for r in log[start:end] if r.resource == resource and r.method == "GET"]


def test_ingress_is_applied_only_after_the_webhook_controller_is_ready(apiserver):
    # Long enough for several polls before readiness, even on a loaded machine.
    apiserver.controllers.set("DaemonSet", "ready", delay=1.0)
    apiserver.controllers.set("Deployment", "never")  # the app's: must not hold stage 4
    objects = [
        namespace("ingress-nginx"),
        INGRESS_CONTROLLER,
        ADMISSION_SERVICE,
        ADMISSION_WEBHOOK,
        *web_app(),
    ]
    converge(client_for(apiserver), objects, dataclasses.replace(FAST, wait=False))
    log = list(apiserver.requests)
    ds_ready = apiserver.get("apps/v1", "DaemonSet", "ingress-nginx-controller", "ingress-nginx")
    first_admission_write = _first_admission_write(log)
    ds_apply = max(
        i for i, r in enumerate(log) if r.resource == "daemonsets" and r.method == "PATCH"
    )
    ds_polls = _reads_between(log, "daemonsets", ds_apply, first_admission_write)
    assert len(ds_polls) >= 2  # polled while it was not ready yet, before stage 4
    assert ds_ready["status"]["numberAvailable"] == 1
    # The app's Deployment never becomes ready, and its Ingress was applied all the same.
    assert _reads_between(log, "deployments", ds_apply, first_admission_write) == []
    assert apiserver.get("networking.k8s.io/v1", "Ingress", "nginx", "web") is not None


def test_ingresses_without_a_webhook_configuration_wait_for_nothing(apiserver):
    apiserver.controllers.set("DaemonSet", "never")
    apiserver.controllers.set("Deployment", "never")
    objects = [namespace("ingress-nginx"), INGRESS_CONTROLLER, ADMISSION_SERVICE, *web_app()]
    result = converge(client_for(apiserver), objects, dataclasses.replace(FAST, wait=False))
    assert "Ingress.networking.k8s.io/web/nginx created" in _lines(result)
    log = list(apiserver.requests)
    workload_reads = [
        r for r in log if r.resource in ("daemonsets", "deployments") and r.method == "GET"
    ]
    # The plan's one LIST per kind is all: no poll before stage 4.
    assert sorted((r.resource, r.verb) for r in workload_reads) == [
        ("daemonsets", "list"),
        ("deployments", "list"),
    ]


def test_immutable_job_change_is_replaced(any_cluster):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "admission-create",
            "namespace": "web",
            "annotations": {"kgit.dev/replace": "true"},
        },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "create", "image": "certgen:1"}],
                }
            }
        },
    }
    client = client_for(any_cluster)
    converge(client, [namespace("web"), job])
    uid_before = any_cluster.get("batch/v1", "Job", "admission-create", "web")["metadata"]["uid"]
    newer = copy.deepcopy(job)
    newer["spec"]["template"]["spec"]["containers"][0]["image"] = "certgen:2"
    result = converge(client, [namespace("web"), newer])
    assert _lines(result) == ["Job.batch/web/admission-create replaced"]
    live = any_cluster.get("batch/v1", "Job", "admission-create", "web")
    assert live["metadata"]["uid"] != uid_before
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "certgen:2"


def test_apply_converges_with_a_fifth_of_requests_failing(apiserver):
    apiserver.faults.seed(20260101)
    objects = [*web_app(), configmap("a"), configmap("b"), service("api"), deployment("api")]
    client = client_for(apiserver)
    apiserver.faults.error(500, probability=0.05)
    apiserver.faults.error(503, probability=0.05, retry_after=0)
    apiserver.faults.error(429, probability=0.05, retry_after=0)
    apiserver.faults.drop(probability=0.05)
    result = converge(client, objects)
    failures = [r for r in apiserver.requests if r.status >= 429 or r.status == 0]
    apiserver.faults.clear()
    assert failures, "the fault injection should have fired"
    assert not result.failed()
    assert members(apiserver) == refs(objects) == inventory(apiserver)
    _, again = plan(client, objects)
    assert not again.has_changes()
    assert apiserver.get("coordination.k8s.io/v1", "Lease", "kgit-lab-lock", "kube-system") is None


class _Interrupted(KeyboardInterrupt):
    pass


def test_apply_interrupted_midway_then_rerun_converges_without_orphans(any_cluster):
    client = client_for(any_cluster)
    first = [namespace("web"), deployment("nginx"), configmap("old")]
    converge(client, first)
    second = [namespace("web"), deployment("nginx"), service("api"), deployment("api")]

    def interrupt_after_services(change):
        if change.subject.kind == "Service":
            raise _Interrupted()

    with pytest.raises(_Interrupted):
        converge(client, second, report=interrupt_after_services)
    # Killed in the middle: the Service exists, the api Deployment does not, nothing was
    # pruned, the inventory lists everything an apply may have created, the lock is free.
    assert any_cluster.get("v1", "Service", "api", "web") is not None
    assert any_cluster.get("apps/v1", "Deployment", "api", "web") is None
    assert inventory(any_cluster) == refs(first) | refs(second)
    lease = any_cluster.get("coordination.k8s.io/v1", "Lease", "kgit-lab-lock", "kube-system")
    assert lease is None
    # The history says so, written before the lock was released.
    assert [e.result for e in history_of(any_cluster)] == [
        "applied",
        "failed: interrupted (Ctrl-C)",
    ]
    # The user goes back to the first state: what the interrupted apply created is pruned.
    result = converge(client, first)
    assert _lines(result) == ["Service/web/api deleted"]
    assert members(any_cluster) == refs(first) == inventory(any_cluster)


def test_apply_cut_off_by_a_dead_connection_then_rerun_converges(apiserver):
    client = client_for(apiserver)
    objects = [*web_app(), configmap("a")]

    def cut_the_connection(change):
        if change.subject.kind == "Namespace":
            apiserver.faults.drop()

    options = dataclasses.replace(FAST, lease_duration=1)
    with pytest.raises(ApplyError) as caught:
        converge(client, objects, options, report=cut_the_connection)
    assert str(caught.value).startswith("2 object(s) could not be applied; stopped after stage 2")
    failed = [c for c in caught.value.result.changes if c.action is Outcome.FAILED]
    assert [str(c.subject) for c in failed] == ["Service/web/nginx", "ConfigMap/web/a"] or [
        str(c.subject) for c in failed
    ] == ["ConfigMap/web/a", "Service/web/nginx"]
    assert all("cannot reach the Kubernetes API server" in c.detail for c in failed)
    apiserver.faults.clear()
    # The lock could not be released; it expires after a second and is taken over.
    result = converge(client, objects, options)
    assert not result.failed()
    assert members(apiserver) == refs(objects) == inventory(apiserver)


FIRST = [namespace("web"), deployment("nginx"), configmap("old")]
SECOND = [
    namespace("web"),
    deployment("nginx", image="nginx:1.27"),
    service("api"),
    deployment("api"),
    configmap("new"),
]
REQUESTS_OF_THE_SECOND_APPLY = 21  # lock, checks, parent, 4 applies, waits, prune, history


def test_the_second_apply_makes_exactly_the_requests_the_cut_test_covers(apiserver):
    # If apply grows, the cut points below must grow with it, or some go untested.
    client = client_for(apiserver)
    converge(client, FIRST)
    wanted, made = plan(client, SECOND)
    before = len(apiserver.requests)
    apply_plan(client, made, wanted, FAST, out=io.StringIO())
    assert len(apiserver.requests) - before == REQUESTS_OF_THE_SECOND_APPLY


@pytest.mark.parametrize("cut_after", range(REQUESTS_OF_THE_SECOND_APPLY))
def test_apply_killed_after_any_request_then_rerun_converges_without_orphans(apiserver, cut_after):
    # From the server's side a killed kgit is one whose requests stop arriving: every
    # request after the first ``cut_after`` fails, the lock included. The operator then
    # force-unlocks (expiry is tested apart) and applies again.
    client = client_for(apiserver)
    converge(client, FIRST)
    wanted, made = plan(client, SECOND)
    client = with_retry(client, RetryPolicy(max_attempts=2, base_delay=0.001, jitter=no_jitter))
    cut = apiserver.faults.error(500, after=cut_after)
    with contextlib.suppress(KgitError):
        apply_plan(client, made, wanted, FAST, out=io.StringIO())
    apiserver.faults.clear()
    assert cut.hits > 0, "the apply should have been cut off"
    force_unlock(ApplyCluster(client), CLUSTER)
    client = with_retry(client, FAST_RETRY)
    result = converge(client, SECOND)
    assert not result.failed()
    assert members(apiserver) == refs(SECOND) == inventory(apiserver)
    assert apiserver.get("v1", "ConfigMap", "old", "web") is None
    live = apiserver.get("apps/v1", "Deployment", "nginx", "web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert apiserver.get("coordination.k8s.io/v1", "Lease", "kgit-lab-lock", "kube-system") is None


def test_failed_rollout_stops_before_prune_and_names_the_object(apiserver):
    client = client_for(apiserver)
    converge(client, [*web_app(), configmap("old")])
    apiserver.controllers.set("Deployment", "fail")
    objects = web_app()
    objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:broken"
    with pytest.raises(ApplyError) as caught:
        converge(client, objects)
    text = str(caught.value)
    assert text.startswith(
        "1 object not ready (timeout 5s):\n"
        "  Deployment.apps/web/nginx: failed: deployment 'nginx' exceeded its progress deadline\n"
        "    condition Available=False (MinimumReplicasUnavailable): Deployment does not have "
        "minimum availability.\n"
    )
    assert "event" in text and "ProgressDeadlineExceeded" in text
    assert apiserver.get("v1", "ConfigMap", "old", "web") is not None  # not pruned
    assert [(e.result, e.summary) for e in history_of(apiserver)] == [
        ("applied", "Plan: 5 to create, 0 to update, 0 to replace, 0 to delete."),
        (
            "failed: 1 object not ready (timeout 5s):",
            "Plan: 0 to create, 1 to update, 0 to replace, 1 to delete.",
        ),
    ]


def test_apply_refused_by_the_server_midway_is_recorded_as_failed(any_cluster):
    client = client_for(any_cluster)
    broken = deployment("api")
    broken["spec"]["template"]["spec"]["containers"][0]["image"] = ""  # required: 422
    with pytest.raises(ApplyError) as caught:
        converge(client, [namespace("web"), configmap("a"), broken])
    assert str(caught.value).startswith("1 object(s) could not be applied; stopped after stage 3")
    assert [e.result for e in history_of(any_cluster)] == [
        "failed: 1 object(s) could not be applied; stopped after stage 3 (workloads), "
        "nothing was pruned"
    ]


def test_secret_values_come_from_the_environment_and_are_never_reported(any_cluster):
    secret = from_env_secret()
    client = client_for(any_cluster)
    wanted, made = plan(client, [namespace("web"), secret], environ={"DB_PASSWORD": "hunter2"})
    with pytest.raises(PlanError) as caught:
        apply_plan(client, made, wanted, dataclasses.replace(FAST, environ={}), out=io.StringIO())
    assert str(caught.value) == (
        "Secret/web/db takes its values from the environment, but DB_PASSWORD is not set "
        "(hint: export the variable(s) before running kgit plan/apply)"
    )
    assert any_cluster.get("v1", "Namespace", "web") is None  # nothing applied
    out = io.StringIO()
    result = apply_plan(
        client, made, wanted, dataclasses.replace(FAST, environ={"DB_PASSWORD": "hunter2"}), out=out
    )
    assert any_cluster.get("v1", "Secret", "db", "web")["data"] == {"password": "aHVudGVyMg=="}
    shown = out.getvalue() + repr(result.to_dict()) + made.to_json()
    assert "hunter2" not in shown and "aHVudGVyMg" not in shown
