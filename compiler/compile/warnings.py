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
    "controller v1.15.1 is its last release, so security fixes will not come; move to the "
    "Gateway API with spec.ingress.gateway (NGINX Gateway Fabric), step by step in "
    "docs/migrate-to-gateway.md, or set spec.ingress.nginx.acknowledgeRetirement: true "
    "to silence this warning"
)


def spec_warnings(cluster: Cluster) -> list[str]:
    """Warnings about the spec alone. The retirement of ingress-nginx is one until the user
    acknowledges it in cluster.yaml, so that pipelines that chose to stay are quiet."""
    found = []
    nginx = cluster.ingress_nginx
    if nginx is not None and not nginx.acknowledge_retirement:
        found.append(INGRESS_NGINX_RETIRED)
    pause = pause_image_warning(cluster.runtime.pause_image, cluster.kubernetes.version)
    if pause:
        found.append(pause)
    containerd = containerd_format_warning(cluster)
    if containerd:
        found.append(containerd)
    return found


def containerd_format_warning(cluster: Cluster) -> str | None:
    """Debian installs its own containerd (1.6 in Debian 12, 1.7 in Debian 13), which reads
    config format 2 only; format 3 (the default) is containerd 2.x's."""
    if cluster.runtime.containerd_config_version != 3:
        return None
    names = [n.name for n in cluster.nodes if n.runtime == "containerd" and n.os == "debian"]
    if not names:
        return None
    return (
        f"node(s) {', '.join(names)} get Debian's own containerd (1.6 on Debian 12, 1.7 on "
        "Debian 13), which cannot read config format 3 (containerd 2.x); provision.sh would "
        "stop at the runtime phase: set spec.runtime.containerdConfigVersion: 2"
    )
