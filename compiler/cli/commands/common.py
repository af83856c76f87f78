"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from compiler.core.sources import DirectoryTree

if TYPE_CHECKING:
    from compiler.compile.pipeline import CompileOptions
    from compiler.reconcile.client import ClientOptions


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds in '90', '90s', '5m', '1h30m', '250ms' (Go/kubectl duration style)."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    if not value or _DURATION.sub("", value):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a number of seconds or e.g. 30s, 5m, 1h30m"
        )
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(value))


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
    parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json", "markdown")
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
    parser.add_argument(
        "--request-timeout",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="how long one request to the API server may take, its retries included (default: 60s)",
    )


def add_rebuild_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rebuild-inventory",
        action="store_true",
        help="the ApplySet parent was lost: take every object carrying its label as "
        "kgit's (those no longer in out/ are deleted)",
    )


def _duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text!r}")
    return seconds


def client_options(args: argparse.Namespace, parallelism: int | None = None) -> ClientOptions:
    """The cluster client's options from --request-timeout (and the apply's parallelism)."""
    import dataclasses

    from compiler.reconcile.client import ClientOptions
    from compiler.reconcile.client.retry import DEFAULT_POLICY

    options = ClientOptions()
    if parallelism is not None:
        options = dataclasses.replace(options, parallelism=parallelism)
    total = getattr(args, "request_timeout", None)
    if total is not None:
        retry = dataclasses.replace(DEFAULT_POLICY, total_timeout=total)
        options = dataclasses.replace(options, retry=retry)
    return options


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


def use_color(stream: TextIO | None = None) -> bool:
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
