"""Image references: pulling an add-on's images through a registry mirror.

A mirror takes the place of the registry host and keeps the rest of the reference:

    >>> mirror_image("registry.k8s.io/ingress-nginx/controller:v1.15.1", "mirror.lab:5000")
    'mirror.lab:5000/ingress-nginx/controller:v1.15.1'
    >>> mirror_image("ghcr.io/flannel-io/flannel:v0.28.9", "harbor.lab/ghcr")
    'harbor.lab/ghcr/flannel-io/flannel:v0.28.9'

The repository path, the tag and the digest are kept: a pull-through mirror (Harbor proxy
cache, registry:2 as a proxy, a DaoCloud-style prefix) serves the same manifests under the
same path, so a pinned ``@sha256:`` digest stays valid and keeps pinning the same bits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DOCKER_HUB = "docker.io"


def split_registry(image: str) -> tuple[str, str]:
    """(registry host, the rest) with Docker's rule: the first path component is a registry
    host only if it contains '.' or ':' or is 'localhost'; otherwise the image is on Docker Hub.

    >>> split_registry("flannel/flannel:v0.22.3")
    ('docker.io', 'flannel/flannel:v0.22.3')
    >>> split_registry("localhost:5000/pause:3.10")
    ('localhost:5000', 'pause:3.10')
    """
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, image


def mirror_image(image: str, registry: str | None) -> str:
    """``image`` pulled through ``registry``; unchanged without a mirror or when already there.

    >>> mirror_image("mirror.lab/flannel-io/flannel:v0.28.9", "mirror.lab")
    'mirror.lab/flannel-io/flannel:v0.28.9'
    """
    if not registry:
        return image
    mirror = registry.rstrip("/")
    # Already rewritten (a second render of rendered output): rewriting again would nest
    # the mirror's path prefix inside itself.
    if image.startswith(mirror + "/"):
        return image
    _host, rest = split_registry(image)
    return f"{mirror}/{rest}"


def pod_containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container of a pod spec: init containers first, then the main ones."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod_spec.get(field) or []


def pod_spec_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec inside a workload (Deployment, DaemonSet, StatefulSet, Job, Pod...)."""
    if obj.get("kind") == "Pod":
        return obj.get("spec")
    if obj.get("kind") == "CronJob":
        job_spec = ((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
        return (job_spec.get("template") or {}).get("spec")
    return (((obj.get("spec") or {}).get("template")) or {}).get("spec")


def mirror_images(objects: list[dict[str, Any]], registry: str | None) -> None:
    """Rewrite, in place, every container image of every workload through ``registry``."""
    if not registry:
        return
    for obj in objects:
        pod_spec = pod_spec_of(obj)
        if pod_spec is None:
            continue
        for container in pod_containers(pod_spec):
            if "image" in container:
                container["image"] = mirror_image(container["image"], registry)
