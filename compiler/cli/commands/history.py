"""kgit history: the applies recorded on the cluster, newest first.

The cluster is named by out/index.json (as for plan and apply); entries live in the
ApplySet parent ConfigMap (compiler.reconcile.history).
"""

from __future__ import annotations

import argparse
import sys

from compiler.cli.commands.common import (
    add_cluster_options,
    add_out_option,
    add_output_format,
    add_spec_option,
    client_options,
    locate_spec,
)
from compiler.core import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    add_cluster_options(parser)
    add_output_format(parser, choices=("text", "json"))


def cluster_name(args: argparse.Namespace) -> str:
    """The cluster's name as out/index.json records it."""
    from compiler.reconcile.desired import read_cluster_name

    return read_cluster_name(locate_spec(args).out_dir)


def run(args: argparse.Namespace) -> int:
    from compiler.reconcile import applyset, history
    from compiler.reconcile.client import connect
    from compiler.views.history import format_history

    name = cluster_name(args)
    client = connect(args.kubeconfig, args.context, options=client_options(args))
    try:
        parent = client.get(applyset.parent_ref(name))
    finally:
        client.close()
    sys.stdout.write(format_history(history.read_history(parent), args.output))
    return exitcodes.SUCCESS
