"""kgit plan against the test API server: creates, no-ops, updates, deletes, replaces."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from compiler.cli.app import main
from compiler.compile import emit
from compiler.compile.pipeline import compile_tree
from compiler.core.errors import PlanError
from compiler.core.sources import DirectoryTree
from compiler.reconcile.applyset import PART_OF_LABEL
from compiler.reconcile.client import connect
from compiler.reconcile.desired import read_desired, secret_env_vars
from compiler.reconcile.model import ActionKind, Plan
from compiler.reconcile.plan import make_plan
from tests.reconcile_plan_helpers import (
    apply_in_process,
    apply_out,
    configmap,
    deployment,
    namespace,
    service,
    set_id,
    write_out,
)

BASE = [namespace("web"), deployment(), service()]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return write_out(tmp_path / "out", BASE)


def plan_cli(apiserver, out: Path, *extra: str) -> list[str]:
    return [
        "plan",
        "-f",
        str(out.parent / "cluster.yaml"),
        "-O",
        str(out),
        "--kubeconfig",
        str(apiserver.kubeconfig),
        *extra,
    ]


def plan_of(
    apiserver, out: Path, environ: dict[str, str] | None = None, *, adopt: bool = False
) -> Plan:
    from compiler.reconcile.plan import PlanOptions

    client = connect(str(apiserver.kubeconfig))
    try:
        options = PlanOptions(environ=environ or {}, adopt=adopt)
        return make_plan(client, read_desired(out), options)
    finally:
        client.close()


def kinds(plan: Plan) -> dict[str, str]:
    return {str(a.ref): a.kind.value for a in plan.actions}


def changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_empty_cluster_plans_only_creates(any_cluster, out, capsys):
    code = main(plan_cli(any_cluster, out, "--detailed-exitcode"))
    text = capsys.readouterr().out
    assert code == 2
    headers = [line for line in text.splitlines() if line[:1] in "+~-" and line[1:2] == " "]
    assert headers == [
        "+ create Namespace/web",
        "+ create Service/web/nginx",
        "+ create Deployment.apps/web/nginx",
    ]
    assert text.rstrip().endswith("Plan: 3 to create, 0 to update, 0 to replace, 0 to delete.")


def test_applied_cluster_has_no_changes_and_exits_zero(any_cluster, out, capsys):
    apply_out(any_cluster.kubeconfig, out)
    if any_cluster.real:
        any_cluster.wait_for_rollouts()  # health is part of "no changes": let it roll out
    code = main(plan_cli(any_cluster, out, "--detailed-exitcode"))
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert "No changes. The cluster matches out/manifests (3 objects)." in captured.out
    # No server-defaulted field (protocol, strategy, clusterIP, cpu 0.5 -> 500m...) shows up.
    plan = plan_of(any_cluster, out)
    assert {a.kind for a in plan.actions} == {ActionKind.NOOP}
    if not any_cluster.real:  # the test server logs its requests
        assert not any("dryRun" in r.query for r in any_cluster.requests)


def compiled_bundled_cluster(repo_root: Path, out: Path) -> dict[str, str]:
    """out/ of the bundled cluster.yaml, and an environment for its from-env Secrets."""
    compiled = compile_tree(DirectoryTree(repo_root))
    emit.write_out(out, compiled.files)
    return {
        var: "x" for body in read_desired(out).objects for var in secret_env_vars(body).values()
    }


def kubectl_diff(apiserver, out: Path):
    """`kubectl diff --server-side --field-manager=kgit -R -f out/manifests`: out/ carries the
    ApplySet label, so kubectl sees exactly the objects kgit applies (None without kubectl).
    Against the real control plane, its own kubectl (v1.36)."""
    kubectl = str(apiserver.bin_dir / "kubectl") if apiserver.real else shutil.which("kubectl")
    if kubectl is None:
        return None
    return subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "diff",
            "--server-side",
            "--field-manager=kgit",
            "-R",
            "-f",
            str(out / "manifests"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECTL_EXTERNAL_DIFF": "diff -u"},
        timeout=60,
    )


def test_bundled_cluster_plans_creates_then_nothing_once_applied(apiserver, repo_root, tmp_path):
    out = tmp_path / "bundled" / "out"
    environ = compiled_bundled_cluster(repo_root, out)
    first = plan_of(apiserver, out, environ)
    assert {a.kind for a in first.actions} == {ActionKind.CREATE}
    assert first.count(ActionKind.CREATE) == len(read_desired(out).objects)
    apply_in_process(apiserver, out, environ)
    second = plan_of(apiserver, out, environ)
    assert [str(a.ref) for a in second.actions if a.kind is not ActionKind.NOOP] == []
    result = kubectl_diff(apiserver, out)
    if result is not None:  # kubectl, an independent client, agrees
        assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_kubectl_diff_agrees_that_nothing_changed(any_cluster, out, tmp_path):
    apply_out(any_cluster.kubeconfig, out)
    if any_cluster.real:
        # kubectl diff reads the live object and then dry-runs: a status write by the
        # deployment controller in between would show as a difference.
        any_cluster.wait_for_rollouts()
    result = kubectl_diff(any_cluster, out)
    if result is None:
        pytest.skip("kubectl not installed")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert plan_of(any_cluster, out).has_changes() is False


def test_image_change_is_one_update_whose_diff_is_the_image(any_cluster, out):
    apply_out(any_cluster.kubeconfig, out)
    write_out(
        out, [namespace("web"), deployment(image="nginx:1.15.0", cause="nginx 1.15.0"), service()]
    )
    plan = plan_of(any_cluster, out)
    assert kinds(plan) == {
        "Namespace/web": "no-op",
        "Deployment.apps/web/nginx": "update",
        "Service/web/nginx": "no-op",
    }
    (update,) = [a for a in plan.actions if a.kind is ActionKind.UPDATE]
    assert changed_lines(update.diff) == [
        "-        kubernetes.io/change-cause: initial",
        "+        kubernetes.io/change-cause: nginx 1.15.0",
        "-      - image: nginx:1.14.2",
        "+      - image: nginx:1.15.0",
    ]
    assert update.live_resource_version is not None
    assert plan.summary() == "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param(
            {"spec": {"replicas": 5}},
            ["-  replicas: 5", "+  replicas: 2"],
            id="kubectl-scale-style-replicas",
        ),
        pytest.param(
            {"metadata": {"labels": {"app": "hacked"}}},
            ["-    app: hacked", "+    app: nginx"],
            id="label-edited",
        ),
    ],
)
def test_out_of_band_edit_is_an_update_that_puts_it_back(any_cluster, out, patch, expected):
    apply_out(any_cluster.kubeconfig, out)
    client = connect(str(any_cluster.kubeconfig))
    resource = client.resource_for("apps/v1", "Deployment")
    # kubectl edit: an Update (merge patch) by another field manager.
    client.dynamic.patch(
        resource,
        body=patch,
        name="nginx",
        namespace="web",
        content_type="application/merge-patch+json",
        field_manager="kubectl-edit",
    )
    client.close()
    plan = plan_of(any_cluster, out)
    (update,) = [a for a in plan.actions if a.kind is ActionKind.UPDATE]
    assert str(update.ref) == "Deployment.apps/web/nginx"
    assert changed_lines(update.diff) == expected


def test_removed_object_is_deleted_but_a_labelled_stranger_is_not(any_cluster, out):
    write_out(out, [*BASE, configmap("settings")])
    apply_out(any_cluster.kubeconfig, out)
    # Someone copies kgit's label onto their own object: it is not in the inventory.
    stranger = configmap("not-kgits")
    stranger["metadata"]["labels"] = {PART_OF_LABEL: set_id()}
    any_cluster.create(stranger, manager="someone")
    write_out(out, BASE)
    plan = plan_of(any_cluster, out)
    assert kinds(plan)["ConfigMap/web/settings"] == "delete"
    assert "ConfigMap/web/not-kgits" not in kinds(plan)
    assert plan.warnings == (
        "ConfigMap/web/not-kgits carries kgit's ApplySet label but is not in its inventory; "
        "kgit leaves it alone",
    )
    assert plan.summary() == "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete."


def job(command: str, replaceable: bool) -> dict:
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "admission-create", "namespace": "web"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "create", "image": "busybox:1.36", "args": [command]}],
                }
            }
        },
    }
    if replaceable:
        body["metadata"]["annotations"] = {"kgit.dev/replace": "true"}
    return body


def test_immutable_change_to_a_replaceable_job_is_a_replace(any_cluster, out):
    write_out(out, [namespace("web"), job("one", replaceable=True)])
    apply_out(any_cluster.kubeconfig, out)
    write_out(out, [namespace("web"), job("two", replaceable=True)])
    plan = plan_of(any_cluster, out)
    assert kinds(plan)["Job.batch/web/admission-create"] == "replace"
    (replace,) = [a for a in plan.actions if a.kind is ActionKind.REPLACE]
    assert replace.reason == "spec.template is immutable"
    assert "-        - one" in replace.diff and "+        - two" in replace.diff
    assert plan.summary() == "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete."


def test_immutable_change_to_other_objects_is_an_error_naming_the_field(any_cluster, out, capsys):
    apply_out(any_cluster.kubeconfig, out)
    changed = deployment()
    changed["spec"]["selector"]["matchLabels"]["tier"] = "front"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    write_out(out, [namespace("web"), changed, service()])
    with pytest.raises(PlanError) as caught:
        plan_of(any_cluster, out)
    assert caught.value.message == (
        "Deployment.apps/web/nginx: spec.selector cannot be changed in place "
        "(the API server says it is immutable)"
    )
    assert main(plan_cli(any_cluster, out)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "error: Deployment.apps/web/nginx: spec.selector cannot be changed in place (the API "
        'server says it is immutable) (hint: annotate the object kgit.dev/replace: "true" to '
        "let kgit delete and re-create it, or revert the change)"
    )
    assert not any("Traceback" in line for line in err)


def test_object_existing_without_the_label_is_adopted_only_when_told(any_cluster, out):
    """Issue 18, symptom 4: another cluster's spec applied to the same API server adopted
    (and so could later prune) every object it found, with one warning each."""
    any_cluster.create(namespace("web"), manager="kubectl-create")
    with pytest.raises(PlanError) as refused:
        plan_of(any_cluster, out)
    assert str(refused.value) == (
        "1 object exists on the cluster without kgit's ApplySet label: Namespace/web; kgit "
        "adopts objects only when told to (hint: check that KUBECONFIG points at this "
        "spec's cluster, then pass --adopt)"
    )
    plan = plan_of(any_cluster, out, adopt=True)
    assert kinds(plan)["Namespace/web"] == "update"
    assert plan.warnings == (
        "kgit will adopt 1 object that exists without its ApplySet label: Namespace/web",
    )
    assert plan.adopted == ("Namespace/web",)


def test_saved_plan_is_private_and_round_trips(any_cluster, out, tmp_path, capsys):
    saved = tmp_path / "plan.json"
    assert main(plan_cli(any_cluster, out, "--out", str(saved))) == 0
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    plan = Plan.from_json(saved.read_text())
    assert plan.base.out_digest == read_desired(out).out_digest
    assert plan.base.applyset_id == set_id()
    assert plan.count(ActionKind.CREATE) == 3
    assert "Saved the plan to" in capsys.readouterr().err


def test_saved_plan_replaces_a_symlink_instead_of_writing_through_it(apiserver, out, tmp_path):
    # A link planted at the plan's path must not make kgit write (or truncate) its target.
    target = tmp_path / "someone-elses-file"
    target.write_text("precious\n")
    saved = tmp_path / "plan.json"
    saved.symlink_to(target)
    assert main(plan_cli(apiserver, out, "--out", str(saved))) == 0
    assert target.read_text() == "precious\n"
    assert not saved.is_symlink()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert Plan.from_json(saved.read_text()).count(ActionKind.CREATE) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".plan")) == []


def test_stale_out_is_warned_about(apiserver, out, capsys):
    (out.parent / "cluster.yaml").write_text("apiVersion: kgit.dev/v1alpha1\nkind: Nope\n")
    assert main(plan_cli(apiserver, out)) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: ")
    assert "does not compile" in err or "is stale" in err


def test_unchanged_thousand_objects_of_six_kinds_take_few_requests(apiserver, tmp_path):
    objects = [namespace(f"ns{i}") for i in range(10)]
    per_kind = 198
    for i in range(per_kind):
        ns = f"ns{i % 10}"
        objects += [
            configmap(f"cm{i}", ns),
            service(f"svc{i}", ns),
            deployment(f"app{i}", ns),
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": f"sa{i}", "namespace": ns},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"role{i}", "namespace": ns},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
            },
        ]
    assert len(objects) == 1000
    out = write_out(tmp_path / "out", objects)
    apply_in_process(apiserver, out)
    apiserver.requests.clear()
    plan = plan_of(apiserver, out)
    assert plan.has_changes() is False
    assert len(plan.actions) == 1000
    counts = apiserver.requests.counts()
    assert len(apiserver.requests) < 50, counts
    assert sum(n for (verb, _), n in counts.items() if verb == "list") >= 6


def test_plan_json_is_written_to_stdout(any_cluster, out, capsys):
    assert main(plan_cli(any_cluster, out, "-o", "json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"create": 3, "update": 0, "replace": 0, "delete": 0, "no-op": 0}
