"""Applications, namespaces, external services and env-backed Secrets."""

from __future__ import annotations

from typing import Any

from compiler.model import App, Cluster, ExternalService, SecretRef


def render_namespaces(cluster: Cluster) -> list[dict[str, Any]]:
    return []  # filled in by the apps work


def render_app(cluster: Cluster, app: App) -> list[dict[str, Any]]:
    return []


def render_external_service(cluster: Cluster, service: ExternalService) -> list[dict[str, Any]]:
    return []


def render_secret(cluster: Cluster, secret: SecretRef) -> list[dict[str, Any]]:
    return []
