"""Base manifests of the add-ons: kgit's baseline (shipped in the package) or a vendored file.

This is the I/O edge of the add-on renderers: it reads the base, checks a vendored file
against kgit.lock, and parses it; the renderers receive plain objects.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from compiler.compile.load import read_tree_text
from compiler.compile.lockfile import LOCK_FILE, VendorError, check_locked, locked_entry
from compiler.core.errors import KgitError, Location, Problem, SpecError
from compiler.core.sources import SourceTree

BASELINES = {
    "flannel": "flannel.yaml",
    "ingress-nginx": "ingress-nginx.yaml",
    "nginx-gateway-fabric": "nginx-gateway-fabric.yaml",
}


def parse_manifest(text: str, origin: str = "manifest") -> list[dict[str, Any]]:
    """The objects of a multi-document YAML stream; empty documents are skipped.

    Each object is a fresh tree of dicts and lists: YAML anchors and aliases would otherwise
    share one dict between places, and a patch of one would silently change the other.
    """
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(origin, mark.line + 1, mark.column + 1) if mark else Location(origin, 1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SpecError([Problem(where, f"YAML syntax error: {message}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(Location(origin, 1, 1), f"YAML error: {exc}")]) from None
    objects = []
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise KgitError(f"{origin}: document {number} is not a Kubernetes object")
        objects.append(_unshared(doc))
    if not objects:
        raise KgitError(f"{origin} holds no Kubernetes objects")
    return objects


def _unshared(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def baseline_text(addon: str) -> str:
    return (resources.files("compiler.compile") / "baseline" / BASELINES[addon]).read_text("utf-8")


def load_base(addon: str, tree: SourceTree, source: str | None) -> tuple[list[dict[str, Any]], str]:
    """(objects, where they came from) for an add-on: a vendored ``source`` read through
    ``tree`` and checked against the tree's kgit.lock, or else kgit's baseline."""
    if source is None:
        origin = f"kgit:baseline/{BASELINES[addon]}"
        return parse_manifest(baseline_text(addon), origin), origin
    text = read_tree_text(tree, source)
    check_locked(tree, source, tree.read_bytes(source))
    return parse_manifest(text, source), source


def is_pinned(tree: SourceTree, source: str) -> bool:
    """Whether the tree's kgit.lock lists ``source`` (validation asks, for spec.addons)."""
    return locked_entry(tree, source) is not None


def load_pinned(tree: SourceTree, source: str) -> list[dict[str, Any]]:
    """The objects of a third-party add-on's vendored file, which kgit.lock must pin (and
    whose bytes must match the pin): kgit applies nobody's manifest unreviewed."""
    data = tree.read_bytes(source)
    if locked_entry(tree, source) is None:
        raise VendorError(
            f"{source} is not pinned in {LOCK_FILE}",
            hint="vendor it with `kgit vendor url URL --sha256 HEX`",
        )
    check_locked(tree, source, data)
    return parse_manifest(read_tree_text(tree, source), source)
