"""Host files: provision.sh, kubeadm.yaml and the config files they install, per node."""

from __future__ import annotations

from compiler.emit import HostFile
from compiler.model import Cluster


def render_hosts(cluster: Cluster) -> list[HostFile]:
    """Every file under out/hosts/ for every node."""
    return []  # filled in by the compile-hosts work
