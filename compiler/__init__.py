"""kgit: a declarative GitOps compiler for self-managed (kubeadm) Kubernetes clusters."""

from compiler.errors import KgitError, Location, SpecError
from compiler.pipeline import Compiled, CompileOptions, compile_tree

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
