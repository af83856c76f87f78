"""kgit compile: write out/ from cluster.yaml; --check proves out/ is fresh."""

from __future__ import annotations

import argparse
import sys

from compiler import emit, exitcodes
from compiler.commands.common import add_out_option, add_spec_option, locate_spec, warn
from compiler.pipeline import compile_tree
from compiler.warnings import spec_warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile in memory and list what in out/ is stale; exit 1 if any",
    )
    parser.add_argument(
        "--change-cause",
        default=None,
        metavar="TEXT",
        help="kubernetes.io/change-cause for pod templates that change",
    )


def run(args: argparse.Namespace) -> int:
    where = locate_spec(args)
    previous = emit.read_out(where.out_dir)
    compiled = compile_tree(
        where.tree, where.options(change_cause=args.change_cause, previous=previous)
    )
    for message in spec_warnings(compiled.cluster):
        warn(message)
    if args.check:
        stale = emit.compare(compiled.files, previous)
        if stale:
            for item in stale:
                print(f"stale: {item}", file=sys.stderr)
            print(
                f"{where.out_dir} is stale: {len(stale)} file(s) differ; run `kgit compile`",
                file=sys.stderr,
            )
            return exitcodes.ERROR
        print(f"{where.out_dir} is up to date ({len(compiled.files)} files)")
        return exitcodes.SUCCESS
    changed = emit.compare(compiled.files, previous)
    emit.write_out(where.out_dir, compiled.files)
    print(
        f"compiled {where.display} -> {where.out_dir}: {len(compiled.files)} files, "
        f"{len(compiled.resources)} objects, {len(changed)} changed"
    )
    return exitcodes.SUCCESS
