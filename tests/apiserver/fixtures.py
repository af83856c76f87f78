"""pytest fixtures: ``apiserver`` starts a fresh server per test on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver.server import ApiServer, start_server


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServer]:
    """A running test API server; ``.url``, ``.kubeconfig`` (a file in tmp_path),
    ``.store``, ``.faults``, ``.controllers``, ``.requests``."""
    server = start_server(kubeconfig=tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()
