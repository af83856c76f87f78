"""Base manifests of the add-ons: kgit's baseline (shipped in the package) or a vendored file.

This is the I/O edge of the add-on renderers: it reads and parses the base, and the
renderers receive plain objects.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from compiler.loader import read_tree_text
from compiler.sources import SourceTree

BASELINES = {"flannel": "flannel.yaml", "ingress-nginx": "ingress-nginx.yaml"}


def parse_manifest(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def baseline_text(addon: str) -> str:
    return (resources.files("compiler") / "baseline" / BASELINES[addon]).read_text("utf-8")


def load_base(addon: str, tree: SourceTree, source: str | None) -> tuple[list[dict[str, Any]], str]:
    """(objects, where they came from) for an add-on."""
    if source is None:
        name = BASELINES[addon]
        base = resources.files("compiler") / "baseline" / name
        if not base.is_file():
            return [], f"kgit:baseline/{name}"
        return parse_manifest(base.read_text("utf-8")), f"kgit:baseline/{name}"
    return parse_manifest(read_tree_text(tree, source)), source
