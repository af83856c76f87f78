"""ingress-nginx: patch a base manifest (kgit's baseline or a vendored upstream file)."""

from __future__ import annotations

from typing import Any

from compiler.model import Cluster


def render_ingress_nginx(cluster: Cluster, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return []  # filled in by the add-ons work
