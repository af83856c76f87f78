"""Advice that is not an error: the spec is valid, but the user should know.

``spec_warnings`` needs only the model (``kgit validate`` prints it). Warnings that depend
on an add-on's base manifest (objects left out for the cluster's version, a flannel too old
for nftables) come from the renderers' ``*_warnings`` functions during compile and are
returned in ``Compiled.warnings`` together with these.
"""

from __future__ import annotations

from compiler.compile.model import Cluster
from compiler.core.versions import pause_image_warning

INGRESS_NGINX_RETIRED = (
    "ingress-nginx is retired upstream: best-effort maintenance ended in March 2026 and "
    "controller v1.15.1 is its last release, so security fixes will not come; kgit keeps "
    "rendering it, but plan a move to another ingress controller or to Gateway API"
)


def spec_warnings(cluster: Cluster) -> list[str]:
    found = []
    if cluster.ingress_nginx is not None:
        found.append(INGRESS_NGINX_RETIRED)
    pause = pause_image_warning(cluster.runtime.pause_image, cluster.kubernetes.version)
    if pause:
        found.append(pause)
    return found
