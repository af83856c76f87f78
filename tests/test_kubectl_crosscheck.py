"""The kubectl cross-check documented in docs/reconcile.md, run as written.

Issue 18, symptom 8: the documented `kubectl diff --server-side --field-manager=kgit`
showed a from-env Secret's data wiped (`data: {}`) right after an apply, and failed with
`Conflict` after an out-of-band edit. The command is taken from the docs and run by bash
with the real kubectl against the test API server; kgit's own plan must agree with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from compiler.cli.app import main
from tests.git_helpers import copy_example

REPO = Path(__file__).resolve().parent.parent
SECRET = "crosscheck-secret-value"


def _documented_command() -> str:
    text = (REPO / "docs" / "reconcile.md").read_text()
    section = text[text.index("### A cross-check with kubectl") :]
    (command,) = re.findall(r"```sh\n(.*?)```", section, re.S)[:1]
    assert "kubectl diff" in command
    return command


def _crosscheck(root: Path, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the documented cross-check needs it")
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", _documented_command()],
        cwd=root,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECTL_EXTERNAL_DIFF": "diff -u"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _scale_by_hand(apiserver, replicas: int) -> None:
    """What `kubectl scale` does: an update of spec.replicas by another field manager."""
    request = urllib.request.Request(
        f"{apiserver.url}/apis/apps/v1/namespaces/web/deployments/nginx?fieldManager=kubectl",
        data=json.dumps({"spec": {"replicas": replicas}}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_documented_kubectl_crosscheck_agrees_with_kgit_on_secrets_and_drift(
    apiserver, tmp_path, monkeypatch, capsys
):
    root = tmp_path / "repo"
    spec = copy_example(root)
    spec.write_text(
        spec.read_text()
        + "  secrets:\n    - name: db\n      namespace: prod\n"
        + "      fromEnv: {password: DB_PASSWORD}\n"
    )
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    cluster = ["-f", str(spec), "--kubeconfig", str(apiserver.kubeconfig)]
    assert main(["compile", "-f", str(spec)]) == 0
    assert main(["apply", "--yes", *cluster]) == 0
    capsys.readouterr()

    in_sync = _crosscheck(root, apiserver.kubeconfig)

    # Right after an apply both see nothing to change: no Secret shown wiped.
    assert (in_sync.returncode, in_sync.stdout) == (0, ""), in_sync.stdout + in_sync.stderr
    assert main(["plan", "--detailed-exitcode", *cluster]) == 0

    _scale_by_hand(apiserver, 7)
    drifted = _crosscheck(root, apiserver.kubeconfig)

    # The change kgit would make (replicas back to 3), not a Conflict error.
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "Conflict" not in drifted.stderr
    assert re.search(r"^-  replicas: 7$", drifted.stdout, re.M), drifted.stdout
    assert re.search(r"^\+  replicas: 3$", drifted.stdout, re.M), drifted.stdout
    assert "Secret" not in drifted.stdout and SECRET not in drifted.stdout
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode", *cluster]) == 2
    assert "Deployment.apps/web/nginx" in capsys.readouterr().out
