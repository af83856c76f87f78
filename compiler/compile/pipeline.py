"""The compile half of kgit, as a list of stages: load, validate, model, render, overlay, emit.

Each stage is a function of its own module. Only the caller does I/O on out/: this module
reads inputs through a ``SourceTree`` and returns bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.compile import addons, emit, overlay
from compiler.compile.changecause import annotate_change_causes
from compiler.compile.emit import HostFile
from compiler.compile.load import Document, Positions
from compiler.compile.lockfile import LOCK_FILE
from compiler.compile.model import Cluster
from compiler.compile.render.apps import (
    render_app,
    render_external_service,
    render_namespaces,
    render_secret,
)
from compiler.compile.render.flannel import flannel_warnings, render_flannel
from compiler.compile.render.gateway import (
    GatewayRef,
    gateway_warnings,
    missing_gateway_crds,
    render_gateway,
    render_gateway_controller,
)
from compiler.compile.render.hosts import render_hosts
from compiler.compile.render.ingress_nginx import ingress_nginx_warnings, render_ingress_nginx
from compiler.compile.render.third_party import render_third_party, third_party_warnings
from compiler.compile.resources import DuplicateObjectError, Resource, ResourceSet
from compiler.compile.spec import load_spec, run_stage
from compiler.compile.warnings import spec_warnings
from compiler.core.errors import Location, Problem, SpecError
from compiler.core.identity import ObjectId
from compiler.core.sources import SnapshotTree, SourceTree


@dataclass(frozen=True)
class CompileOptions:
    spec_path: str = "cluster.yaml"  # relative to the tree
    display_name: str | None = None  # how errors name the spec file (default: spec_path)
    change_cause: str | None = None
    previous: Mapping[str, bytes] = field(default_factory=dict)  # out/ as it was


@dataclass(frozen=True)
class Compiled:
    cluster: Cluster
    resources: ResourceSet
    host_files: tuple[HostFile, ...]
    files: dict[str, bytes]  # every file of out/, path -> bytes
    warnings: tuple[str, ...]


def load_and_validate(tree: SourceTree, options: CompileOptions) -> tuple[Document, Cluster]:
    return load_spec(tree, options.spec_path, options.display_name or options.spec_path)


def _addon_file(addon: str, body: dict[str, Any]) -> str:
    kind = str(body.get("kind", "object")).lower()
    name = (body.get("metadata") or {}).get("name", "unnamed")
    return f"manifests/{addon}/{kind}-{name}.yaml"


def in_file(file: str) -> Callable[[dict[str, Any]], str]:
    """Where every object of one renderer goes: one file for all of them."""
    return lambda _body: file


def in_addon_folder(addon: str) -> Callable[[dict[str, Any]], str]:
    """Where an add-on's objects go: one file per object in the add-on's folder."""
    return lambda body: _addon_file(addon, body)


def _owned_namespaces(cluster: Cluster, addons: ResourceSet) -> frozenset[str]:
    """Namespaces that some part of the spec deploys into: apps, external services,
    secrets, and the add-ons rendered so far."""
    owned = set(cluster.namespaces)
    for resource in addons:
        owned.add(resource.key.namespace)
        if resource.key.kind == "Namespace":
            owned.add(resource.key.name)
    owned.discard("")
    return frozenset(owned)


def _spec_path(source: str) -> tuple[str | int, ...]:
    """('spec', 'apps', 0) from the JSON path 'spec.apps[0]' of a model's source."""
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", source):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)


class _Placer:
    """Adds rendered objects to a ResourceSet; an object produced twice is a SpecError at
    the second producer (its overlay item, or its entry in the spec)."""

    def __init__(
        self,
        resources: ResourceSet,
        positions: Positions | None,
        paths: Mapping[str, str] | None = None,
    ) -> None:
        self.resources = resources
        self.positions = positions
        # source identity (cluster.yaml#apps/web/nginx) -> where it is now (spec.apps[0])
        self.paths = dict(paths or {})
        self.overlay_origins: dict[ObjectId, Location] = {}  # objects an overlay added

    def _spec_location(self, src: str) -> Location | None:
        """Only computed for an error: reading positions re-parses the spec."""
        if self.positions is None:
            return None
        return self.positions.of(_spec_path(self.paths.get(src) or src.partition("#")[2]))

    def place(
        self,
        objects: list[dict[str, Any]],
        file: Callable[[dict[str, Any]], str],
        src: str,
        origins: Mapping[ObjectId, Location] | None = None,
    ) -> None:
        origins = origins or {}
        for body in objects:
            resource = Resource(body, file(body), src)
            key = resource.key
            try:
                self.resources.add(resource)
            except DuplicateObjectError as exc:
                second = origins.get(key) or self._spec_location(src)
                if second is None:
                    raise
                message = str(exc)
                first = self.overlay_origins.get(key)
                if first is not None:
                    message = message.replace(" and by ", f" ({first}) and by ", 1)
                raise SpecError([Problem(second, message)]) from None
            if key in origins:
                self.overlay_origins[key] = origins[key]


def render_resources(
    cluster: Cluster,
    tree: SourceTree,
    spec: str,
    warnings: list[str] | None = None,
    positions: Positions | None = None,
) -> ResourceSet:
    """Every object of the cluster; advice that is not an error goes to ``warnings``.

    ``positions`` (of the spec) locate an object produced twice; an object an overlay
    added is located in its overlay file."""
    resources = ResourceSet()
    warnings = warnings if warnings is not None else []
    paths = {f"{spec}#{a.source}": a.path for a in cluster.apps}
    paths |= {f"{spec}#{e.source}": e.path for e in cluster.external_services}
    paths |= {f"{spec}#{s.source}": s.path for s in cluster.secrets}
    paths |= {f"{spec}#{a.entry}": a.spec_path for a in cluster.addons}
    place = _Placer(resources, positions, paths).place

    flannel = cluster.network.flannel
    base, origin = addons.load_base("flannel", tree, flannel.source)
    warnings.extend(flannel_warnings(cluster, base, origin))
    place(
        render_flannel(cluster, base),
        lambda b: _addon_file("flannel", b),
        f"{spec}#spec.network.flannel",
    )
    if cluster.ingress_nginx is not None:
        base, origin = addons.load_base("ingress-nginx", tree, cluster.ingress_nginx.source)
        warnings.extend(ingress_nginx_warnings(cluster, base, origin))
        place(
            render_ingress_nginx(cluster, base),
            lambda b: _addon_file("ingress-nginx", b),
            f"{spec}#spec.ingress.nginx",
        )
    gateway: GatewayRef | None = None
    if cluster.ingress_gateway is not None:
        base, origin = addons.load_base(
            "nginx-gateway-fabric", tree, cluster.ingress_gateway.source
        )
        warnings.extend(gateway_warnings(cluster, base, origin))
        controller, gateway = render_gateway_controller(cluster, base)
        where = f"{spec}#spec.ingress.gateway"
        place(controller, lambda b: _addon_file("nginx-gateway-fabric", b), where)
        place(render_gateway(cluster, gateway), lambda b: _addon_file("gateway", b), where)
    for addon in cluster.addons:
        base = addons.load_pinned(tree, addon.source)
        warnings.extend(third_party_warnings(cluster, addon, base, addon.source))
        objects = render_third_party(cluster, addon, base)
        addon_origins: dict[ObjectId, Location] = {}
        for path in addon.overlays:
            loaded = overlay.load_overlay(tree, path)
            warnings.extend(overlay.removed_api_warnings(loaded, cluster.kubernetes.version))
            # No app scope: an add-on's overlay changes the add-on, wherever it lives.
            objects = overlay.apply_overlay(objects, loaded, None, addon_origins)
        place(
            objects,
            in_addon_folder(f"addons/{addon.name}"),
            f"{spec}#{addon.entry}",
            addon_origins,
        )
    if cluster.ingress_gateway is not None:
        warnings.extend(missing_gateway_crds(resources))
    place(render_namespaces(cluster), lambda b: "manifests/namespaces.yaml", f"{spec}#spec")
    owned = _owned_namespaces(cluster, resources)
    for app in cluster.apps:
        objects = render_app(cluster, app, gateway)
        scope = overlay.Scope(cluster.name, app.namespace, owned - {app.namespace})
        origins: dict[ObjectId, Location] = {}
        for path in app.overlays:
            loaded = overlay.load_overlay(tree, path)
            warnings.extend(overlay.removed_api_warnings(loaded, cluster.kubernetes.version))
            objects = overlay.apply_overlay(objects, loaded, scope, origins)
        file = f"manifests/apps/{app.namespace}/{app.name}.yaml"
        place(objects, in_file(file), f"{spec}#{app.source}", origins)
    for service in cluster.external_services:
        file = f"manifests/external/{service.namespace}/{service.name}.yaml"
        place(
            render_external_service(cluster, service),
            in_file(file),
            f"{spec}#{service.source}",
        )
    for secret in cluster.secrets:
        file = f"manifests/secrets/{secret.namespace}/{secret.name}.yaml"
        place(render_secret(secret), in_file(file), f"{spec}#{secret.source}")
    return resources


def compile_tree(tree: SourceTree, options: CompileOptions | None = None) -> Compiled:
    """Compile the spec in ``tree`` into the bytes of out/. No writes, no clock, no network."""
    options = options or CompileOptions()
    tree = SnapshotTree(tree)
    _document, cluster = load_and_validate(tree, options)
    spec = options.spec_path
    warnings = spec_warnings(cluster)
    resources = run_stage(
        "render", render_resources, cluster, tree, spec, warnings, _document.positions
    )
    run_stage("render", annotate_change_causes, resources, options.previous, options.change_cause)
    host_files = tuple(run_stage("render", render_hosts, cluster))
    inputs = input_digests(tree, cluster, spec)
    files = run_stage(
        "emit",
        lambda: emit.serialize(
            resources, host_files, spec_name=spec, cluster=cluster.name, inputs=inputs
        ),
    )
    return Compiled(cluster, resources, host_files, files, warnings=tuple(warnings))


def input_paths(tree: SourceTree, cluster: Cluster, spec: str) -> list[str]:
    """Every file of the tree that a compile of ``spec`` read."""
    paths = {spec, *(path for app in cluster.apps for path in app.overlays)}
    paths.update(path for addon in cluster.addons for path in (addon.source, *addon.overlays))
    sources = [cluster.network.flannel.source]
    if cluster.ingress_nginx is not None:
        sources.append(cluster.ingress_nginx.source)
    if cluster.ingress_gateway is not None:
        sources.append(cluster.ingress_gateway.source)
    paths.update(source for source in sources if source)
    if tree.is_file(LOCK_FILE):
        paths.add(LOCK_FILE)
    return sorted(paths)


def input_digest(data: bytes) -> str:
    """sha256 of an input's text with LF line ends: YAML reads CRLF as LF, and a checkout
    under core.autocrlf=true must not make out/index.json stale."""
    return emit.sha256(data.replace(b"\r\n", b"\n"))


def input_digests(tree: SourceTree, cluster: Cluster, spec: str) -> dict[str, str]:
    """sha256 of each input, recorded in out/index.json (see ``unchanged_since_compile``)."""
    return {path: input_digest(tree.read_bytes(path)) for path in input_paths(tree, cluster, spec)}


def unchanged_since_compile(tree: SourceTree, previous: Mapping[str, bytes]) -> bool:
    """True when out/ is exactly what a compile wrote and none of that compile's inputs
    changed since, so `kgit compile --check` would pass, known without compiling.

    A quick answer for `kgit plan`, whose freshness warning would otherwise cost a whole
    compile; False only means "compile to find out". It cannot see a newer kgit rendering
    the same inputs differently: `kgit compile --check` (run in CI) is the full check.
    """
    if not emit.index_matches_files(previous):
        return False
    recorded = json.loads(previous["index.json"]).get("inputs")
    if not isinstance(recorded, dict) or not recorded:
        return False
    try:
        return all(
            input_digest(tree.read_bytes(path)) == digest for path, digest in recorded.items()
        )
    except OSError:
        return False
