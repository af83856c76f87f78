"""The cut-over from ingress-nginx to the Gateway API, as docs/migrate-to-gateway.md tells
it, against the test API server with the real upstream CRDs: step 1 adds the gateway
beside ingress-nginx (both serve the apps), step 2 removes ingress-nginx. Ingress and
HTTPRoute writes by another tool keep running during step 2's prune, and none may fail:
ingress-nginx's admission webhook must be gone before its Service and its controller (the
test API server fails a write that a registered webhook without a ready backend matches,
as a real one does)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from compiler.cli.app import main
from tests.apiserver.messages import Request
from tests.gateway_helpers import apply_in_process, write_repo

WEBHOOK = ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
ADMISSION_SERVICE = "ingress-nginx-controller-admission"


def _kgit(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _step(tmp_path, upstream, apiserver, capsys, step: str) -> str:
    """Compile ``step`` and apply it; returns apply's output."""
    spec = str(write_repo(tmp_path, upstream, step))
    assert main(["compile", "-f", spec]) == 0
    code, out = _kgit(
        capsys, "apply", "--yes", "-f", spec, "--kubeconfig", str(apiserver.kubeconfig)
    )
    assert code == 0, out
    return out


def _plan(tmp_path, apiserver, capsys) -> tuple[int, str]:
    spec = str(tmp_path / "cluster.yaml")
    return _kgit(
        capsys,
        "plan",
        "--detailed-exitcode",
        "-f",
        spec,
        "--kubeconfig",
        str(apiserver.kubeconfig),
    )


def _summary(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("+ ", "~ ", "- ", "Plan:"))]


def _other_tools_objects(round_: int) -> list[dict]:
    """An Ingress and an HTTPRoute that another tool keeps writing during the cut-over."""
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "legacy", "namespace": "legacy", "labels": {"round": str(round_)}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "legacy.lab.example"}],
        },
    }
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "legacy", "namespace": "legacy", "labels": {"round": str(round_)}},
        "spec": {
            "parentRefs": [{"name": "kgit", "namespace": "nginx-gateway"}],
            "hostnames": ["legacy.lab.example"],
        },
    }
    return [ingress, route]


def test_two_step_cut_over_serves_both_then_removes_ingress_nginx_without_failed_writes(
    tmp_path: Path, upstream: Path, apiserver, capsys
):
    # Step 0, the seed's setup: ingress-nginx serves the apps with Ingresses.
    _step(tmp_path, upstream, apiserver, capsys, "nginx")
    assert apiserver.get("networking.k8s.io/v1", "Ingress", "web", "web") is not None

    # Step 1: the gateway beside ingress-nginx. The plan only adds objects.
    write_repo(tmp_path, upstream, "both")
    assert main(["compile", "-f", str(tmp_path / "cluster.yaml")]) == 0
    code, out = _plan(tmp_path, apiserver, capsys)
    assert code == 2
    planned = _summary(out)
    # 10 Gateway API objects (8 CRDs, a ValidatingAdmissionPolicy and its binding), 11 NGF
    # CRDs, NGF's 13 objects, the Gateway and a ReferenceGrant, 3 HTTPRoutes (shop's TLS
    # route and its redirect, web's route).
    assert planned[-1] == "Plan: 39 to create, 0 to update, 0 to replace, 0 to delete."
    assert not [line for line in planned if line.startswith(("~ ", "- "))]
    _step(tmp_path, upstream, apiserver, capsys, "both")
    assert _plan(tmp_path, apiserver, capsys)[0] == 0  # plan after apply: no changes
    # Both serve the apps, on different node ports.
    for app, namespace in (("web", "web"), ("shop", "shop")):
        assert apiserver.get("networking.k8s.io/v1", "Ingress", app, namespace) is not None
        route = apiserver.get("gateway.networking.k8s.io/v1", "HTTPRoute", app, namespace)
        assert route is not None
    controller = apiserver.get("v1", "Service", "ingress-nginx-controller", "ingress-nginx")
    assert {p["nodePort"] for p in controller["spec"]["ports"]} == {30080, 30443}
    proxy = apiserver.get(
        "gateway.nginx.org/v1alpha2", "NginxProxy", "nginx-gateway-proxy-config", "nginx-gateway"
    )
    assert {p["port"] for p in proxy["spec"]["kubernetes"]["service"]["nodePorts"]} == {
        31080,
        31443,
    }

    # Step 2: ingress-nginx goes. The plan only deletes, webhook before Services.
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}})
    write_repo(tmp_path, upstream, "gateway")
    assert main(["compile", "-f", str(tmp_path / "cluster.yaml")]) == 0
    code, out = _plan(tmp_path, apiserver, capsys)
    assert code == 2
    planned = _summary(out)
    assert planned[-1] == "Plan: 0 to create, 0 to update, 0 to replace, 21 to delete."
    deleted = [line.removeprefix("- delete ") for line in planned[:-1]]
    assert all(line.startswith("- delete ") for line in planned[:-1])
    webhook = deleted.index(
        "ValidatingWebhookConfiguration.admissionregistration.k8s.io/ingress-nginx-admission"
    )
    assert webhook < deleted.index(f"Service/ingress-nginx/{ADMISSION_SERVICE}")
    assert webhook < deleted.index("DaemonSet.apps/ingress-nginx/ingress-nginx-controller")

    # Another tool writes an Ingress and an HTTPRoute all through the prune; deletions take
    # a moment each (the garbage collector), so the writes fall between them.
    apiserver.controllers.gc_delay = 0.05
    apiserver.requests.clear()
    stop = threading.Event()
    statuses: list[tuple[str, int]] = []

    def keep_writing() -> None:
        round_ = 0
        while not stop.is_set() and round_ < 2000:
            round_ += 1
            for body in _other_tools_objects(round_):
                statuses.append((body["kind"], apply_in_process(apiserver, body)))
            stop.wait(0.005)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        out = _step(tmp_path, upstream, apiserver, capsys, "gateway")
    finally:
        stop.set()
        writer.join()
    assert out.splitlines()[-1] == (
        "Apply complete: 0 created, 0 configured, 0 replaced, 20 deleted, 1 skipped."
    )
    assert len(statuses) > 10
    assert [s for s in statuses if s[1] >= 400] == []
    failed_writes = [
        r
        for r in apiserver.requests
        if r.resource in ("ingresses", "httproutes") and r.status >= 400
    ]
    assert failed_writes == []
    # The prune's order on the wire: the webhook, then the controller, then its Services.
    deletes = [(r.resource, r.name) for r in apiserver.requests if r.method == "DELETE"]
    at = deletes.index
    assert at(("validatingwebhookconfigurations", "ingress-nginx-admission")) < at(
        ("daemonsets", "ingress-nginx-controller")
    )
    assert at(("daemonsets", "ingress-nginx-controller")) < at(("services", ADMISSION_SERVICE))

    # The gateway serves the apps alone now; ingress-nginx's namespace is kept (protected).
    assert apiserver.get("networking.k8s.io/v1", "Ingress", "web", "web") is None
    assert apiserver.get("gateway.networking.k8s.io/v1", "HTTPRoute", "web", "web") is not None
    assert apiserver.get(*WEBHOOK, "ingress-nginx-admission") is None
    assert apiserver.get("v1", "Namespace", "ingress-nginx") is not None
    code, out = _plan(tmp_path, apiserver, capsys)
    assert (code, _summary(out)) == (
        2,
        [
            "- delete Namespace/ingress-nginx",
            "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.",
        ],
    )
    # The empty namespace goes when the user says so; then nothing is left to do.
    spec = str(tmp_path / "cluster.yaml")
    kubeconfig = str(apiserver.kubeconfig)
    assert (
        main(["apply", "--yes", "--prune-protected", "-f", spec, "--kubeconfig", kubeconfig]) == 0
    )
    capsys.readouterr()
    assert _plan(tmp_path, apiserver, capsys)[0] == 0


def test_an_ingress_write_fails_while_the_webhook_outlives_its_service(
    tmp_path: Path, upstream: Path, apiserver, capsys
):
    # The hazard the prune order avoids, shown on the same server: delete the admission
    # Service first (the wrong order), and the next Ingress write fails.
    _step(tmp_path, upstream, apiserver, capsys, "nginx")
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}})
    ingress = _other_tools_objects(1)[0]
    assert apply_in_process(apiserver, ingress) == 201
    apiserver.handle(
        Request(
            "DELETE",
            f"/api/v1/namespaces/ingress-nginx/services/{ADMISSION_SERVICE}",
            {},
            {},
            b"",
        )
    )
    assert apply_in_process(apiserver, _other_tools_objects(2)[0]) == 500
    failed = apiserver.requests.filter(resource="ingresses", status=500)
    assert len(failed) == 1


@pytest.mark.parametrize("step", ["both", "gateway"])
def test_each_step_compiles_without_gateway_warnings(
    tmp_path: Path, upstream: Path, capsys, step: str
):
    # Neither "no add-on installs the CRDs" nor a path-type warning; the retirement warning
    # only while ingress-nginx is in the spec. (Other warnings, about the nodes' runtime,
    # are not this test's business.)
    spec = write_repo(tmp_path, upstream, step)
    assert main(["compile", "-f", str(spec)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line]
    assert not [w for w in warnings if "gateway" in w and "retired" not in w]
    retired = [w for w in warnings if "ingress-nginx is retired upstream" in w]
    assert len(retired) == (1 if step == "both" else 0)
