"""Connecting: kubeconfig selection, discovery once per run, and failures as one sentence."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compiler.cli.app import main
from compiler.core.errors import ClusterError
from compiler.core.identity import ObjectId
from compiler.reconcile.client import connect
from compiler.reconcile.client.retry import RetryPolicy
from tests.apiserver.kubeconfig import write_kubeconfig
from tests.reconcile_plan_helpers import deployment, namespace, write_out


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return write_out(tmp_path / "out", [namespace("web"), deployment()])


def run_plan(out: Path, *extra: str) -> list[str]:
    return ["plan", "-f", str(out.parent / "cluster.yaml"), "-O", str(out), *extra]


def last_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()[-1]


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that refuses connections: bound, never listening, and kept
    bound for the test, so that no other test can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_unreachable_server_is_one_sentence(out, tmp_path, capsys, monkeypatch, closed_port):
    # Refused connections are retried (test_retry); here the retries need not wait.
    monkeypatch.setattr(RetryPolicy, "backoff", lambda _policy, _failures: 0.0)
    port = closed_port
    kubeconfig = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")
    assert main(run_plan(out, "--kubeconfig", str(kubeconfig))) == 1
    assert last_error(capsys) == (
        f"error: cannot reach the Kubernetes API server at http://127.0.0.1:{port} "
        "(context 'kgit-test'): connection refused"
    )


def test_rejected_credentials_name_the_context(apiserver, out, capsys):
    apiserver.faults.error(401)
    assert main(run_plan(out, "--kubeconfig", str(apiserver.kubeconfig))) == 1
    assert last_error(capsys) == (
        f"error: the API server at {apiserver.url} rejected the credentials of context "
        "'kgit-test' (401 Unauthorized) when kgit tried to discover the API groups"
    )


def test_forbidden_names_the_verb_and_resource(apiserver, out, capsys):
    apiserver.faults.error(403, verb="list", path="deployments")
    assert main(run_plan(out, "--kubeconfig", str(apiserver.kubeconfig))) == 1
    message = last_error(capsys)
    assert message.startswith(
        "error: forbidden: context 'kgit-test' may not list deployments.apps in all namespaces "
        "(labels applyset.kubernetes.io/part-of=applyset-"
    )


def test_missing_context_lists_the_available_ones(apiserver, out, capsys):
    args = run_plan(out, "--kubeconfig", str(apiserver.kubeconfig), "--context", "prod")
    assert main(args) == 1
    assert last_error(capsys) == (
        f"error: context 'prod' not found in kubeconfig {apiserver.kubeconfig} "
        "(available: kgit-test)"
    )


def test_missing_kubeconfig_file(out, tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(run_plan(out, "--kubeconfig", str(missing))) == 1
    assert last_error(capsys) == f"error: kubeconfig file {missing} does not exist"


def test_no_kubeconfig_anywhere(out, capsys):
    assert main(run_plan(out)) == 1
    assert last_error(capsys) == (
        "error: no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create "
        "~/.kube/config (or run inside a pod with a service account)"
    )


def test_kubeconfig_environment_variable_is_used(apiserver, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", f"{apiserver.kubeconfig}")
    client = connect()
    assert (client.context, client.server) == ("kgit-test", apiserver.url)
    client.close()


def test_default_kubeconfig_in_home_is_used(apiserver, tmp_path, monkeypatch):
    home = tmp_path / "home"
    write_kubeconfig(home / ".kube" / "config", apiserver.url, context="home-ctx")
    monkeypatch.setenv("HOME", str(home))
    client = connect()
    assert client.context == "home-ctx"
    client.close()


def test_discovery_is_fetched_once_per_run_and_only_for_used_groups(apiserver):
    client = connect(str(apiserver.kubeconfig))
    for _ in range(3):
        client.resource_for("apps/v1", "Deployment")
        client.resource_for("v1", "Namespace")
    discovery = sorted(r.path for r in apiserver.requests if not r.resource)
    assert discovery == ["/api/v1", "/apis", "/apis/apps/v1", "/version"]
    client.close()


def test_unknown_kind_is_a_clear_error(apiserver):
    client = connect(str(apiserver.kubeconfig))
    with pytest.raises(ClusterError) as caught:
        client.resource_for("example.com/v1", "Widget")
    assert caught.value.message == (
        "the cluster does not serve Widget in example.com/v1 (context 'kgit-test'); "
        "is its API or CRD installed?"
    )
    client.close()


def test_get_of_a_missing_object_is_none(apiserver):
    client = connect(str(apiserver.kubeconfig))
    assert client.get(ObjectId("v1", "ConfigMap", "default", "absent")) is None
    client.close()


def test_list_follows_continue_tokens(apiserver):
    for i in range(1203):
        apiserver.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i:04}"}}
        )
    client = connect(str(apiserver.kubeconfig))
    apiserver.requests.clear()
    names = [o["metadata"]["name"] for o in client.list("v1", "ConfigMap")]
    assert len(names) == 1203 and len(set(names)) == 1203
    assert apiserver.requests.count(verb="list") == 3  # pages of 500
    client.close()


def test_plan_command_module_does_not_import_the_kubernetes_client():
    # The client is imported only when plan runs, never for --help or the compile path.
    code = (
        "import sys, compiler.cli.app, compiler.cli.commands.plan; "
        "compiler.cli.app.build_parser('plan'); "
        "print('kubernetes' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "False\n"), result.stderr


@pytest.fixture
def service_account(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A pod's environment: the service host variables and the mounted token and CA
    (in a temporary folder: the library's and kgit's paths are pointed at it)."""
    from kubernetes.config import incluster_config

    from compiler.reconcile.client import credentials as connect_module

    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    token, ca = folder / "token", folder / "ca.crt"
    token.write_text("sa-token-123")
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(connect_module, "_SERVICE_ACCOUNT_TOKEN", token)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    return token, ca


def test_in_a_pod_without_kubeconfig_the_service_account_is_used(service_account):
    from compiler.reconcile.client import Credentials, load_credentials

    _token, ca = service_account
    api, creds = load_credentials()
    assert creds == Credentials("in-cluster", "https://[fd00::1]:443", "in-cluster service account")
    settings = api.configuration.auth_settings().values()
    assert [s["value"] for s in settings if s["key"] == "authorization"] == ["bearer sa-token-123"]
    assert api.configuration.ssl_ca_cert == str(ca)
    api.close()


def test_in_a_pod_a_kubeconfig_still_wins(service_account, apiserver, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", f"{apiserver.kubeconfig}")
    client = connect()
    assert (client.context, client.server) == ("kgit-test", apiserver.url)
    client.close()


def test_in_a_pod_a_context_needs_a_kubeconfig(service_account, out, capsys):
    assert main(run_plan(out, "--context", "prod")) == 1
    assert last_error(capsys).startswith("error: no kubeconfig found")


def test_without_the_token_file_the_pod_environment_is_not_used(service_account, out, capsys):
    token, _ca = service_account
    token.unlink()
    assert main(run_plan(out)) == 1
    assert last_error(capsys).startswith("error: no kubeconfig found")


def test_credentials_are_not_sent_over_plain_http(apiserver, out, capsys, monkeypatch):
    # client-go (so kubectl) only sends a token on a TLS connection; kgit refuses.
    monkeypatch.delenv("KGIT_ALLOW_INSECURE_HTTP")
    assert main(run_plan(out, "--kubeconfig", str(apiserver.kubeconfig))) == 1
    err = capsys.readouterr().err
    assert f"error: refusing to send the credentials of context 'kgit-test' to {apiserver.url}" in (
        err
    )
    assert "hint: use the server's https:// address; for a local test server only, set " in err
    assert len(apiserver.requests) == 0  # not one request went out


def test_plain_http_without_credentials_needs_no_opt_in(apiserver, out, tmp_path, monkeypatch):
    # e.g. `kubectl proxy` on 127.0.0.1:8001: nothing secret travels
    monkeypatch.delenv("KGIT_ALLOW_INSECURE_HTTP")
    config = yaml.safe_load(apiserver.kubeconfig.read_text())
    del config["users"][0]["user"]["token"]
    kubeconfig = tmp_path / "proxy-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    assert main(run_plan(out, "--kubeconfig", str(kubeconfig))) == 0


def test_kubeconfig_from_a_pipe(apiserver, out, capsys):
    # `kgit plan --kubeconfig <(vault read ...)`: a /dev/fd path, not a regular file,
    # that can be read only once
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        writer.write(apiserver.kubeconfig.read_text())
    try:
        assert main(run_plan(out, "--kubeconfig", f"/dev/fd/{read_end}")) == 0
    finally:
        os.close(read_end)
    assert "Plan: 2 to create" in capsys.readouterr().out
