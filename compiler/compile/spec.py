"""The front of the pipeline: load, validate and model one cluster.yaml.

Kept apart from ``compiler.compile.pipeline`` so that ``kgit validate`` imports only what these
three stages need (no renderers, no templates), which keeps it quick to start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from compiler.compile.load import Document, load_tree_document
from compiler.compile.model import Cluster, build_cluster
from compiler.compile.validate import validate_document
from compiler.core.errors import KgitError, SpecError, StageError
from compiler.core.sources import SourceTree

T = TypeVar("T")


def run_stage(name: str, func: Callable[..., T], *args: Any) -> T:
    """Run one stage; errors without a location are prefixed with the stage's name."""
    try:
        return func(*args)
    except SpecError:
        raise
    except KgitError as exc:
        raise StageError(name, exc) from exc


def load_spec(tree: SourceTree, spec_path: str, display: str) -> tuple[Document, Cluster]:
    """The validated model of ``spec_path`` in ``tree``; errors name the file ``display``."""
    document = run_stage("load", load_tree_document, tree, spec_path, display)
    run_stage("validate", validate_document, document, tree)
    cluster = run_stage("model", build_cluster, document.data, display)
    return document, cluster
