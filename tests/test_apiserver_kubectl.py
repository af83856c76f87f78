"""kubectl 1.32 against the test API server: apply/get/diff/conflicts/delete.

Every kubectl call gets ``--kubeconfig`` explicitly and a private cache dir; KUBECONFIG is
cleared by the autouse fixture, so no test can reach a real cluster.
https://kubernetes.io/docs/reference/kubectl/generated/kubectl_diff/ (exit 0 = no
differences, 1 = differences, >1 = error)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.apiserver.server import ApiServer

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def kubectl(server: ApiServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(server.kubeconfig),
            "--cache-dir",
            str(tmp_path / "kcache"),
            "--request-timeout",
            "20s",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFEST)
    return path


def test_apply_get_diff_conflict_delete(
    apiserver: ApiServer, tmp_path: Path, manifest: Path
) -> None:
    applied = kubectl(apiserver, tmp_path, "apply", "--server-side", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [
        "namespace/shop serverside-applied",
        "deployment.apps/web serverside-applied",
        "service/web serverside-applied",
    ]

    got = kubectl(apiserver, tmp_path, "get", "deploy", "web", "-n", "shop", "-o", "yaml")
    assert got.returncode == 0 and "progressDeadlineSeconds: 600" in got.stdout

    listed = kubectl(
        apiserver, tmp_path, "get", "deploy", "-n", "shop", "-l", "app=web", "-o", "name"
    )
    assert listed.stdout.split() == ["deployment.apps/web"]
    none = kubectl(apiserver, tmp_path, "get", "deploy", "-n", "shop", "-l", "app=db", "-o", "name")
    assert none.returncode == 0 and none.stdout == ""

    same = kubectl(apiserver, tmp_path, "diff", "--server-side", "-f", str(manifest))
    assert (same.returncode, same.stdout) == (0, ""), same.stderr

    changed = tmp_path / "changed.yaml"
    changed.write_text(MANIFEST.replace("replicas: 2", "replicas: 3"))
    diff = kubectl(apiserver, tmp_path, "diff", "--server-side", "-f", str(changed))
    assert diff.returncode == 1, diff.stderr
    assert "-  replicas: 2" in diff.stdout and "+  replicas: 3" in diff.stdout

    refused = kubectl(
        apiserver,
        tmp_path,
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "-f",
        str(changed),
    )
    assert refused.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in refused.stderr
    forced = kubectl(
        apiserver,
        tmp_path,
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "--force-conflicts",
        "-f",
        str(changed),
    )
    assert forced.returncode == 0, forced.stderr
    assert apiserver.get("apps/v1", "Deployment", "web", "shop")["spec"]["replicas"] == 3

    deleted = kubectl(apiserver, tmp_path, "delete", "-f", str(manifest))
    assert deleted.returncode == 0, deleted.stderr
    assert apiserver.get("v1", "Namespace", "shop") is None
    assert apiserver.objects(namespace="shop") == []
