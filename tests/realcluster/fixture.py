"""pytest fixtures for the real control plane.

``real_control_plane`` (session): builds or reuses the binaries (``build.sh``), starts
the control plane once per test session (once per xdist worker) and stops it at the
end. ``real_cluster`` (per test): that control plane, reset to its start-up state after
the test. ``any_cluster``: parametrised over ``testserver`` (the in-repo server, fresh
per test) and ``real``, for tests that hold for both; both have ``url``,
``kubeconfig``, ``get``, ``create`` and ``objects``, and ``real`` tells them apart.

The real-server tests are skipped only when Go is absent and no build is cached; a
failed build or start-up is an error, never a skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.server import start_server
from tests.realcluster.controlplane import RealCluster, start

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build.sh"
# The environment as the session found it: the autouse fixture points HOME at a
# per-test directory, and the Go build cache and the binaries' cache live under the
# real one.
BUILD_ENVIRONMENT = dict(os.environ)
NO_GO = 3  # build.sh's exit status when it would have to build and Go is absent


def build_binaries() -> Path:
    """The directory of built binaries (built now when not cached)."""
    result = subprocess.run(
        ["bash", str(BUILD)], env=BUILD_ENVIRONMENT, capture_output=True, text=True, check=False
    )
    if result.returncode == NO_GO:
        pytest.skip(
            "Go is not installed: the real control plane (tests/realcluster) is "
            "built from Go modules"
        )
    if result.returncode != 0:
        pytest.fail(f"building the real control plane failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def real_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    bin_dir = build_binaries()
    cluster = start(bin_dir, tmp_path_factory.mktemp("realcluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def real_cluster(real_control_plane: RealCluster) -> Iterator[RealCluster]:
    try:
        yield real_control_plane
    finally:
        real_control_plane.reset()


@pytest.fixture(params=["testserver", "real"])
def any_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "real":
        yield request.getfixturevalue("real_cluster")
        return
    server = start_server(kubeconfig=tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()
