"""flannel: patch a base manifest (kgit's baseline or a vendored upstream file).

The same patches apply to every kube-flannel.yml since v0.22 (and to the PSP variant):
they find what they change by meaning (the ConfigMap that holds ``net-conf.json``, the
container that runs ``flanneld``), never by position, and leave everything else as it is.

- ``net-conf.json``: ``Network`` is the pod subnet; ``Backend.Type`` and the backend options
  come from the spec; ``EnableNFTables`` follows kube-proxy's mode. The JSON is parsed and
  written back with its other keys in their order.
- flanneld's ``--iface=`` flag, replacing one the base may have.
- images through ``flannel.imageRegistry``.
- objects whose API the cluster's Kubernetes version no longer serves are left out
  (see ``removed_apis``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from compiler.compile.model import Cluster
from compiler.compile.render.images import mirror_images, pod_spec_of
from compiler.compile.render.removed_apis import removed_api_warnings, served
from compiler.core.errors import KgitError
from compiler.core.plaindata import clone

NET_CONF = "net-conf.json"
# flanneld learned EnableNFTables in v0.25.0 (flannel-io/flannel#1881, "Nftables
# implementation"); the key appeared in the published kube-flannel.yml with v0.25.5.
NFTABLES_SINCE = (0, 25, 0)
_TAG = re.compile(r":v?(\d+)\.(\d+)\.(\d+)(?:[-+][^@]*)?(?:@sha256:[0-9a-f]+)?$")


def render_flannel(cluster: Cluster, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flannel objects of ``cluster``: ``base`` patched; ``base`` itself is not changed."""
    objects = served(clone(base), cluster.kubernetes.version)
    spec = cluster.network.flannel
    config_map = _net_conf_config_map(objects)
    config_map["data"][NET_CONF] = patch_net_conf(
        config_map["data"][NET_CONF],
        network=cluster.network.pod_subnet,
        backend=spec.backend,
        backend_options=dict(spec.backend_options),
        nftables=_nftables_setting(cluster, objects),
    )
    if spec.iface is not None:
        flanneld = _flanneld_container(objects)
        flanneld["args"] = with_iface(list(flanneld.get("args") or []), spec.iface)
    mirror_images(objects, spec.image_registry)
    return objects


def flannel_warnings(cluster: Cluster, base: list[dict[str, Any]], origin: str) -> list[str]:
    """What the user should know about rendering ``base`` for ``cluster`` (not errors)."""
    found = removed_api_warnings("flannel", origin, base, cluster.kubernetes.version)
    if cluster.network.kube_proxy_mode == "nftables" and not knows_nftables(base):
        found.append(
            f"flannel: {origin}: kube-proxy runs in nftables mode but this flannel version "
            "predates EnableNFTables (added in v0.25.0), so flannel keeps masquerading with "
            "iptables; vendor flannel v0.25.5 or newer, or use kgit's baseline"
        )
    return found


# --- net-conf.json -------------------------------------------------------------------------


def patch_net_conf(
    text: str,
    *,
    network: str,
    backend: str,
    backend_options: dict[str, Any],
    nftables: bool | None,
) -> str:
    """net-conf.json with the cluster's settings; ``nftables=None`` leaves EnableNFTables out.

    Keys keep their order; a new EnableNFTables goes right after Network, as upstream has it.
    """
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KgitError(f"flannel {NET_CONF} is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise KgitError(f"flannel {NET_CONF} must be a JSON object")
    conf["Network"] = network
    if nftables is not None:
        conf = _with_key_after(conf, "EnableNFTables", nftables, after="Network")
    old = conf.get("Backend") if isinstance(conf.get("Backend"), dict) else {}
    # Options of another backend type mean nothing to this one (VNI is vxlan's): start over
    # when the type changes, keep them when it does not.
    merged = dict(old) if old.get("Type") == backend else {}
    merged["Type"] = backend
    merged.update(backend_options)
    conf["Backend"] = merged
    return json.dumps(conf, indent=2) + "\n"


def _with_key_after(conf: dict[str, Any], key: str, value: Any, *, after: str) -> dict[str, Any]:
    if key in conf:
        conf[key] = value
        return conf
    result: dict[str, Any] = {}
    for name, item in conf.items():
        result[name] = item
        if name == after:
            result[key] = value
    result.setdefault(key, value)
    return result


def _nftables_setting(cluster: Cluster, objects: list[dict[str, Any]]) -> bool | None:
    """EnableNFTables: kube-proxy's mode decides, if this flannel knows the key at all.

    Without nftables mode, a base that lacks the key is left alone (false is the default).
    """
    wanted = cluster.network.kube_proxy_mode == "nftables"
    if not knows_nftables(objects):
        return None
    if not wanted and "EnableNFTables" not in _net_conf_keys(objects):
        return None
    return wanted


def knows_nftables(objects: list[dict[str, Any]]) -> bool:
    """True if the base's flannel supports EnableNFTables: the key is already in its
    net-conf.json, or flanneld's image tag is v0.25.0 or newer."""
    if "EnableNFTables" in _net_conf_keys(objects):
        return True
    version = flannel_version(objects)
    return version is not None and version >= NFTABLES_SINCE


def _net_conf_keys(objects: list[dict[str, Any]]) -> set[str]:
    try:
        conf = json.loads(_net_conf_config_map(objects)["data"][NET_CONF])
    except (KgitError, json.JSONDecodeError):
        return set()
    return set(conf) if isinstance(conf, dict) else set()


def flannel_version(objects: list[dict[str, Any]]) -> tuple[int, int, int] | None:
    """flanneld's version from its image tag (``...flannel:v0.28.9``), None if not a version."""
    try:
        image = str(_flanneld_container(objects).get("image", ""))
    except KgitError:
        return None
    match = _TAG.search(image)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


# --- the flanneld container ----------------------------------------------------------------


def with_iface(args: list[str], iface: str) -> list[str]:
    """``args`` with exactly one ``--iface=IFACE``, where the first --iface was, else last.

    Both spellings of an existing flag are replaced: ``--iface=eth1`` and ``--iface eth1``.
    """
    result: list[str] = []
    placed = False
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        if arg == "--iface" or arg.startswith("--iface="):
            skip_value = arg == "--iface"
            if not placed:
                result.append(f"--iface={iface}")
                placed = True
            continue
        result.append(arg)
    if not placed:
        result.append(f"--iface={iface}")
    return result


def _net_conf_config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    for obj in objects:
        if obj.get("kind") == "ConfigMap" and NET_CONF in (obj.get("data") or {}):
            return obj
    raise KgitError(
        f"the flannel manifest has no ConfigMap with {NET_CONF}",
        hint="is the file an upstream kube-flannel.yml?",
    )


def _flanneld_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    for obj in objects:
        if obj.get("kind") != "DaemonSet":
            continue
        for container in (pod_spec_of(obj) or {}).get("containers") or []:
            command = " ".join(str(part) for part in container.get("command") or [])
            if "flanneld" in command or container.get("name") == "kube-flannel":
                return container
    raise KgitError(
        "the flannel manifest has no DaemonSet container that runs flanneld",
        hint="is the file an upstream kube-flannel.yml?",
    )


__all__ = [
    "flannel_version",
    "flannel_warnings",
    "knows_nftables",
    "patch_net_conf",
    "render_flannel",
    "with_iface",
]
