"""kgit: a declarative GitOps compiler for self-managed (kubeadm) Kubernetes clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compiler.core.errors import KgitError, Location, SpecError

if TYPE_CHECKING:
    from compiler.compile.pipeline import Compiled, CompileOptions, compile_tree

__version__ = "0.1.0"

__all__ = [
    "CompileOptions",
    "Compiled",
    "KgitError",
    "Location",
    "SpecError",
    "__version__",
    "compile_tree",
]


def __getattr__(name: str) -> Any:
    # The pipeline pulls in every renderer; import it only when asked for, so that
    # `kgit --help` and `kgit validate` start quickly (PEP 562).
    if name in ("Compiled", "CompileOptions", "compile_tree"):
        from compiler.compile import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")
