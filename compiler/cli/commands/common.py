"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.core.sources import DirectoryTree

if TYPE_CHECKING:
    from compiler.compile.pipeline import CompileOptions


def add_spec_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--file",
        default="cluster.yaml",
        metavar="FILE",
        help="the cluster spec (default: ./cluster.yaml)",
    )


def add_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-O",
        "--out-dir",
        default=None,
        metavar="DIR",
        help="output directory (default: out/ beside the spec)",
    )


def add_output_format(
    parser: argparse.ArgumentParser, choices=("text", "json", "markdown")
) -> None:
    parser.add_argument(
        "-o", "--output", choices=choices, default="text", help="output format (default: text)"
    )


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context to use")


@dataclass(frozen=True)
class SpecLocation:
    """Where the spec is and what its tree and out/ are."""

    tree: DirectoryTree
    spec_relpath: str
    display: str
    out_dir: Path

    def options(self, **kwargs: object) -> CompileOptions:
        from compiler.compile.pipeline import (
            CompileOptions,  # the whole pipeline: only when compiling
        )

        return CompileOptions(spec_path=self.spec_relpath, display_name=self.display, **kwargs)  # type: ignore[arg-type]


def locate_spec(args: argparse.Namespace) -> SpecLocation:
    spec = Path(args.file)
    root = spec.parent if str(spec.parent) else Path(".")
    out = getattr(args, "out_dir", None)
    return SpecLocation(
        tree=DirectoryTree(root),
        spec_relpath=spec.name,
        display=args.file,
        out_dir=Path(out) if out else root / "out",
    )


def use_color(stream=None) -> bool:
    """Colour only on a terminal and never with NO_COLOR (https://no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ


_warned: set[str] = set()


def reset_warnings() -> None:
    """Forget the warnings printed so far: ``main`` calls it as each command starts."""
    _warned.clear()


def warn(message: str) -> None:
    """Print ``message`` as a warning, once per command: a command that compiles more than
    once (``compile --commit``, ``diff``) must not repeat itself."""
    if message in _warned:
        return
    _warned.add(message)
    print(f"warning: {message}", file=sys.stderr)
