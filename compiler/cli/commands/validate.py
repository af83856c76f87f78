"""kgit validate: schema and semantic checks of cluster.yaml."""

from __future__ import annotations

import argparse

from compiler.cli.commands.common import add_spec_option, locate_spec, warn
from compiler.compile.spec import load_spec
from compiler.compile.warnings import spec_warnings
from compiler.core import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)


def run(args: argparse.Namespace) -> int:
    where = locate_spec(args)
    _document, cluster = load_spec(where.tree, where.spec_relpath, where.display)
    for message in spec_warnings(cluster):
        warn(message)
    print(f"{where.display}: valid ({len(cluster.nodes)} nodes, {len(cluster.apps)} apps)")
    return exitcodes.SUCCESS
