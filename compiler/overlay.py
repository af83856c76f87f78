"""Stage 5, overlay: kustomize-style patches and extra resources on top of an app's objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.sources import SourceTree


@dataclass(frozen=True)
class Overlay:
    """One parsed overlay file."""

    path: str
    documents: tuple[Any, ...] = ()


def load_overlay(tree: SourceTree, relpath: str) -> Overlay:
    return Overlay(relpath)  # filled in by the overlays work


def apply_overlay(objects: list[dict[str, Any]], overlay: Overlay) -> list[dict[str, Any]]:
    return objects  # filled in by the overlays work
