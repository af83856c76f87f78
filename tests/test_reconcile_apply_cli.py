"""`kgit apply` and `kgit history` as a user runs them, against the test API server."""

from __future__ import annotations

import base64
import json
import logging
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli.app import main
from compiler.cli.commands.apply import CONFIRM_QUESTION
from tests.reconcile_apply_helpers import configmap, namespace, web_app, write_out
from tests.reconcile_objects import from_env_secret

SECRET_VALUE = "hunter2-very-secret"


@pytest.fixture
def kgit(any_cluster, tmp_path, capsys):
    out_dir = tmp_path / "out"

    def run(*argv: str) -> tuple[int, str, str]:
        common = ["-O", str(out_dir), "--kubeconfig", str(any_cluster.kubeconfig)]
        code = main([*argv, *common])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.out_dir = out_dir  # type: ignore[attr-defined]
    return run


def test_apply_yes_applies_then_reports_nothing_to_do(kgit, any_cluster):
    write_out(kgit.out_dir, web_app())
    code, out, _ = kgit("apply", "--yes")
    assert code == 0
    assert out.splitlines()[-5:] == [
        "Namespace/web created",
        "Service/web/nginx created",
        "Deployment.apps/web/nginx created",
        "Ingress.networking.k8s.io/web/nginx created",
        "Apply complete: 4 created, 0 configured, 0 replaced, 0 deleted, 0 skipped.",
    ]
    code, out, _ = kgit("apply", "--yes")
    assert code == 0
    assert out.splitlines()[-1] == "No changes. The cluster matches out/manifests (4 objects)."


def test_apply_without_terminal_and_without_yes_refuses(kgit, any_cluster):
    write_out(kgit.out_dir, web_app())
    code, _, err = kgit("apply")
    assert code == 1
    assert err == (
        "error: refusing to apply without confirmation: not running in a terminal "
        "(hint: pass --yes to apply from a script or pipeline)\n"
    )
    assert any_cluster.get("v1", "Namespace", "web") is None


def test_saved_plan_is_applied_and_a_stale_one_refused(kgit, any_cluster, tmp_path):
    write_out(kgit.out_dir, web_app())
    plan_file = tmp_path / "plan.json"
    assert kgit("plan", "--out", str(plan_file))[0] == 0
    code, out, _ = kgit("apply", str(plan_file))
    assert code == 0
    assert out.splitlines()[-1] == (
        "Apply complete: 4 created, 0 configured, 0 replaced, 0 deleted, 0 skipped."
    )
    # A plan for the next change, then out/ changes again before it is applied.
    write_out(kgit.out_dir, [*web_app(), configmap("one")])
    assert kgit("plan", "--out", str(plan_file))[0] == 0
    write_out(kgit.out_dir, [*web_app(), configmap("two")])
    code, _, err = kgit("apply", str(plan_file))
    assert code == 1
    assert err == (
        "error: the saved plan is stale: out/manifests changed since it was made "
        "(hint: run 'kgit plan' again)\n"
    )
    assert any_cluster.get("v1", "ConfigMap", "one", "web") is None


def test_no_change_saved_plan_is_refused_once_out_changed(kgit, any_cluster, tmp_path):
    write_out(kgit.out_dir, web_app())
    assert kgit("apply", "--yes")[0] == 0
    plan_file = tmp_path / "plan.json"
    assert kgit("plan", "--out", str(plan_file))[0] == 0  # no changes
    write_out(kgit.out_dir, [*web_app(), configmap("new")])
    code, out, err = kgit("apply", str(plan_file))
    assert (code, out) == (1, "")
    assert err == (
        "error: the saved plan is stale: out/manifests changed since it was made "
        "(hint: run 'kgit plan' again)\n"
    )


def _turn_a_noop_into_a_delete(plan_file: Path, ref: str) -> dict:
    data = json.loads(plan_file.read_text())
    for action in data["actions"]:
        a = action["ref"]
        if f"{a['kind']}/{a['namespace']}/{a['name']}" == ref:
            assert action["kind"] == "no-op"
            action["kind"] = "delete"
    return data


def test_edited_saved_plan_is_refused(kgit, any_cluster, tmp_path):
    write_out(kgit.out_dir, web_app())
    assert kgit("apply", "--yes")[0] == 0
    plan_file = tmp_path / "plan.json"
    assert kgit("plan", "--out", str(plan_file))[0] == 0
    edited = _turn_a_noop_into_a_delete(plan_file, "Deployment/web/nginx")
    plan_file.write_text(json.dumps(edited))
    code, _, err = kgit("apply", str(plan_file))
    assert code == 1
    assert err == (
        f"error: {plan_file}: the saved plan was changed after `kgit plan` wrote it (its "
        "base and actions do not match its digest); refusing to apply it (hint: run "
        "'kgit plan --out FILE' again)\n"
    )
    assert any_cluster.get("apps/v1", "Deployment", "nginx", "web") is not None


def test_saved_plan_never_deletes_an_object_out_still_holds(kgit, any_cluster, tmp_path):
    # Edited with its digest recomputed (the digest is no signature): apply's own rule
    # still refuses to delete a desired object.
    from compiler.reconcile.model import _digest

    write_out(kgit.out_dir, web_app())
    assert kgit("apply", "--yes")[0] == 0
    plan_file = tmp_path / "plan.json"
    assert kgit("plan", "--out", str(plan_file))[0] == 0
    edited = _turn_a_noop_into_a_delete(plan_file, "Deployment/web/nginx")
    edited["digest"] = _digest(edited)
    plan_file.write_text(json.dumps(edited))
    code, _, err = kgit("apply", str(plan_file))
    assert code == 1
    assert err == (
        "error: the saved plan deletes Deployment.apps/web/nginx, which out/manifests still "
        "holds; kgit never deletes a desired object (hint: run 'kgit plan' again)\n"
    )
    assert any_cluster.get("apps/v1", "Deployment", "nginx", "web") is not None


def test_apply_json_output_is_one_document(kgit):
    write_out(kgit.out_dir, [namespace("web"), configmap("settings")])
    code, out, _ = kgit("apply", "--yes", "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert [(c["object"], c["result"]) for c in data["result"]["changes"]] == [
        ("Namespace/web", "created"),
        ("ConfigMap/web/settings", "created"),
    ]
    assert data["result"]["history"]["summary"] == (
        "Plan: 2 to create, 0 to update, 0 to replace, 0 to delete."
    )


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_secret_values_never_appear_in_output_logs_or_saved_plans(
    kgit, any_cluster, tmp_path, monkeypatch, caplog, output
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DB_PASSWORD", SECRET_VALUE)
    secret = from_env_secret()
    write_out(kgit.out_dir, [namespace("web"), secret])
    plan_file = tmp_path / "plan.json"
    shown = [kgit("plan", "--out", str(plan_file), "-o", output)]
    shown.append(kgit("apply", "--yes", "-o", output))
    monkeypatch.setenv("DB_PASSWORD", SECRET_VALUE + "-rotated")
    shown.append(kgit("apply", "--yes", "-o", output))  # an update of the value
    shown.append(kgit("history", "-o", "json" if output == "json" else "text"))
    assert [code for code, _, _ in shown] == [0, 0, 0, 0]
    live = any_cluster.get("v1", "Secret", "db", "web")
    assert base64.b64decode(live["data"]["password"]).decode() == SECRET_VALUE + "-rotated"
    everything = "".join(out + err for _, out, err in shown)
    everything += plan_file.read_text() + caplog.text
    for leaked in (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode()[:16]):
        assert leaked not in everything


def test_history_lists_applies_newest_first(kgit):
    write_out(kgit.out_dir, web_app())
    kgit("apply", "--yes")
    write_out(kgit.out_dir, [*web_app(), configmap("settings")])
    kgit("apply", "--yes")
    code, out, _ = kgit("history", "-o", "json")
    assert code == 0
    entries = json.loads(out)
    assert [e["summary"] for e in entries] == [
        "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.",
        "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete.",
    ]
    assert {e["result"] for e in entries} == {"applied"}
    code, out, _ = kgit("history")
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "REVISION", "RESULT", "USER", "SUMMARY"]
    assert lines[1].endswith("Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.")
    assert len(lines) == 3


def _run_on_a_terminal(argv: list[str], answer: bytes) -> tuple[int, str, str]:
    """Run the kgit executable with stdin and stderr on a pseudo-terminal; type ``answer``
    once the confirmation question appears. Returns (exit code, stdout, terminal text)."""
    kgit_exe = Path(sys.executable).with_name("kgit")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [str(kgit_exe), *argv], stdin=terminal, stdout=subprocess.PIPE, stderr=terminal
    )
    os.close(terminal)
    seen = b""
    try:
        while CONFIRM_QUESTION.encode() not in seen:
            ready, _, _ = select.select([controller], [], [], 30)
            assert ready, f"no confirmation question; the terminal shows {seen!r}"
            seen += os.read(controller, 4096)
        os.write(controller, answer)
        stdout, _ = proc.communicate(timeout=60)
        while select.select([controller], [], [], 0)[0]:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout.decode(), seen.decode(errors="replace")


@pytest.mark.parametrize(
    ("answer", "code", "applied"),
    [
        pytest.param(b"yes\n", 0, True, id="yes-applies"),
        pytest.param(b"y\n", 1, False, id="only-yes-is-accepted"),
        pytest.param(b"\x04", 1, False, id="end-of-input-cancels"),
    ],
)
def test_apply_on_a_terminal_asks_and_applies_only_after_yes(
    any_cluster, tmp_path, answer, code, applied
):
    out_dir = tmp_path / "out"
    write_out(out_dir, web_app())
    argv = ["apply", "-O", str(out_dir), "--kubeconfig", str(any_cluster.kubeconfig)]
    returncode, stdout, terminal = _run_on_a_terminal(argv, answer)
    assert returncode == code, terminal
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete." in stdout
    assert (any_cluster.get("v1", "Namespace", "web") is not None) is applied
    if applied:
        assert stdout.splitlines()[-1] == (
            "Apply complete: 4 created, 0 configured, 0 replaced, 0 deleted, 0 skipped."
        )
    else:
        assert "error: apply cancelled: nothing was changed" in terminal


def test_bundled_cluster_compiled_applied_then_kgit_and_kubectl_see_no_change(
    any_cluster, repo_root, tmp_path, capsys
):
    out_dir = tmp_path / "out"
    spec = ["-f", str(repo_root / "cluster.yaml"), "-O", str(out_dir)]
    common = [*spec, "--kubeconfig", str(any_cluster.kubeconfig)]
    assert main(["compile", *spec]) == 0
    assert main(["apply", "--yes", *common]) == 0
    applied = capsys.readouterr().out.splitlines()[-1]
    assert applied.startswith("Apply complete: ") and " 0 deleted, 0 skipped." in applied
    assert main(["plan", "--detailed-exitcode", *common]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith("No changes. The cluster matches out/manifests (")
    )
    kubectl = str(any_cluster.bin_dir / "kubectl") if any_cluster.real else shutil.which("kubectl")
    if any_cluster.real:
        any_cluster.wait_for_rollouts()  # no status write between kubectl's read and dry run
    if kubectl is None:
        pytest.skip("kubectl not installed: kgit's own plan agreed, kubectl's diff not run")
    kubectl_diff = ["diff", "--server-side", "--field-manager=kgit", "-R", "-f"]
    diff = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(any_cluster.kubeconfig),
            *kubectl_diff,
            str(out_dir / "manifests"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECTL_EXTERNAL_DIFF": "diff -u"},
        timeout=60,
    )
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stderr
