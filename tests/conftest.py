"""Shared fixtures. Every test runs with a clean environment: no KUBECONFIG, no colour."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UPSTREAM = REPO.parent / "shared" / "upstream"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test may talk to a real cluster or read the developer's settings.
    for name in (
        "KUBECONFIG",
        "KGIT_JOIN_TOKEN",
        "KGIT_CA_CERT_HASH",
        "KGIT_CERT_KEY",
        "KGIT_DEBUG",
        "GIT_DIR",
        "GIT_WORK_TREE",
        # in a pod (a CI runner) these with the mounted token mean "in-cluster"
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # The test API server speaks plain HTTP on 127.0.0.1 and its kubeconfig has a token:
    # kgit refuses to send credentials over plain HTTP without this opt-in.
    monkeypatch.setenv("KGIT_ALLOW_INSECURE_HTTP", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "kgit tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@kgit.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "kgit tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@kgit.invalid")


@pytest.fixture
def upstream() -> Path:
    """../shared/upstream: real upstream manifests, used as independent test data."""
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream test data not found at {UPSTREAM} (../shared/upstream)")
    return UPSTREAM


@pytest.fixture
def repo_root() -> Path:
    return REPO


from tests.apiserver.fixtures import apiserver  # noqa: E402, F401
