"""Advice that is not an error: the spec is valid, but the user should know."""

from __future__ import annotations

from compiler.model import Cluster


def spec_warnings(cluster: Cluster) -> list[str]:
    found = []
    if cluster.ingress_nginx is not None:
        found.append(
            "ingress-nginx is retired upstream: best-effort maintenance ended in March 2026 and "
            "v1.15.1 is its last release; plan a move to another ingress controller or Gateway API"
        )
    return found
