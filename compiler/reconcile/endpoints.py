"""Does the API server kgit talks to look like the cluster cluster.yaml describes?

out/hosts/<node>/kubeadm.yaml holds the cluster's ``controlPlaneEndpoint`` and each
control-plane node's ``advertiseAddress``/``bindPort``. A kubeconfig whose server matches
none of them may point at another cluster; it may also be a load balancer or a tunnel, so
this is a warning, never a refusal (the ApplySet check in the plan is the guard).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import yaml

from compiler.compile.load import load_all_trusted


def control_plane_addresses(files: Mapping[str, bytes]) -> list[str]:
    """host:port (or host) of every control-plane address out/hosts records, sorted."""
    found: set[str] = set()
    for path, data in files.items():
        if not (path.startswith("hosts/") and path.endswith("/kubeadm.yaml")):
            continue
        try:
            documents = load_all_trusted(data.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        for doc in documents:
            if not isinstance(doc, dict):
                continue
            if doc.get("controlPlaneEndpoint"):
                found.add(str(doc["controlPlaneEndpoint"]))
            endpoint = doc.get("localAPIEndpoint") or (doc.get("controlPlane") or {}).get(
                "localAPIEndpoint"
            )
            if isinstance(endpoint, dict) and endpoint.get("advertiseAddress"):
                port = endpoint.get("bindPort", 6443)
                found.add(f"{endpoint['advertiseAddress']}:{port}")
    return sorted(found)


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(address if "//" in address else f"//{address}")
    return (parts.hostname or "").lower(), parts.port or default_port


def server_mismatch(server: str, files: Mapping[str, bytes]) -> str | None:
    """A warning when ``server`` matches no control-plane address of out/hosts, else None."""
    addresses = control_plane_addresses(files)
    if not addresses:
        return None  # nothing to compare with (out/ without hosts/)
    wanted = _host_port(server, 443)
    if any(_host_port(a, 6443) == wanted for a in addresses):
        return None
    return (
        f"the API server {server} matches no control-plane address in the spec "
        f"({', '.join(addresses)}); check that KUBECONFIG/--context point at this cluster "
        "(a load balancer or tunnel in between is fine)"
    )
