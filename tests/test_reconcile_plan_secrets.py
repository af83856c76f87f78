"""Secrets whose values come from the environment: filled for the dry-run, never shown."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from compiler.cli.app import main
from compiler.core.errors import PlanError
from compiler.reconcile.desired import with_secret_values
from compiler.reconcile.model import ActionKind
from compiler.views.plan import format_plan
from tests.reconcile_plan_helpers import apply_out, from_env_secret, namespace, write_out
from tests.test_reconcile_plan import plan_cli, plan_of

PASSWORD = "s3cr3t-hunter2-value"
CHANGED = "an0ther-s3cr3t-value"


def forbidden_texts(*values: str) -> list[str]:
    """A value, and its base64 form as it travels in Secret.data."""
    return [t for v in values for t in (v, base64.b64encode(v.encode()).decode())]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return write_out(tmp_path / "out", [namespace("web"), from_env_secret()])


def test_missing_environment_variable_is_an_error_naming_it():
    with pytest.raises(PlanError) as caught:
        with_secret_values(from_env_secret(), {})
    assert caught.value.message == (
        "Secret/web/db takes its values from the environment, but DB_PASSWORD is not set"
    )


def test_secret_is_filled_as_base64_data():
    filled = with_secret_values(from_env_secret(), {"DB_PASSWORD": PASSWORD})
    assert filled["data"] == {"password": base64.b64encode(PASSWORD.encode()).decode()}
    assert "data" not in from_env_secret()


def test_no_secret_value_in_any_output_or_saved_plan(
    any_cluster, out, tmp_path, monkeypatch, capsys
):
    apply_out(any_cluster.kubeconfig, out, {"DB_PASSWORD": PASSWORD})
    plan = plan_of(any_cluster, out, {"DB_PASSWORD": PASSWORD})
    assert plan.has_changes() is False  # the live value is compared, and it matches
    plan = plan_of(any_cluster, out, {"DB_PASSWORD": CHANGED})
    (update,) = [a for a in plan.actions if a.kind is ActionKind.UPDATE]
    assert "-  password: (sensitive value, before)" in update.diff
    assert "+  password: (sensitive value, changed)" in update.diff
    outputs = [format_plan(plan, fmt) for fmt in ("text", "json", "markdown")]
    outputs.append(plan.to_json())
    monkeypatch.setenv("DB_PASSWORD", CHANGED)
    saved = tmp_path / "plan.json"
    assert main(plan_cli(any_cluster, out, "--out", str(saved))) == 0
    captured = capsys.readouterr()
    outputs += [saved.read_text(), captured.out, captured.err]
    for text in outputs:
        for secret in forbidden_texts(PASSWORD, CHANGED):
            assert secret not in text
    assert "(sensitive value, changed)" in outputs[0]


def test_missing_variable_fails_the_plan_command_with_one_sentence(any_cluster, out, capsys):
    assert main(plan_cli(any_cluster, out)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "error: Secret/web/db takes its values from the environment, but DB_PASSWORD is not "
        "set (hint: export the variable(s) before running kgit plan/apply)"
    )


def test_create_of_a_secret_shows_keys_not_values(any_cluster, out):
    plan = plan_of(any_cluster, out, {"DB_PASSWORD": PASSWORD})
    (create,) = [a for a in plan.actions if str(a.ref) == "Secret/web/db"]
    assert create.kind is ActionKind.CREATE
    assert create.after is not None
    assert create.after["data"] == {"password": "(sensitive value, changed)"}
    for text in [format_plan(plan, f) for f in ("text", "json", "markdown")] + [plan.to_json()]:
        for secret in forbidden_texts(PASSWORD):
            assert secret not in text
