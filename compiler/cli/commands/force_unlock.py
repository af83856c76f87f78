"""kgit force-unlock: delete the apply lock (a Lease) left by an interrupted apply.

Only needed when a killed apply's lease has not expired yet and you cannot wait; a live
apply that loses its lock notices at its next renewal and stops between stages.
"""

from __future__ import annotations

import argparse
import sys

from compiler.cli.commands.common import (
    add_cluster_options,
    add_out_option,
    add_spec_option,
    client_options,
)
from compiler.cli.commands.history import cluster_name
from compiler.core import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    add_cluster_options(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace) -> int:
    from compiler.cli.commands.apply import confirm
    from compiler.reconcile.calls import ApplyCluster
    from compiler.reconcile.client import connect
    from compiler.reconcile.lock import LOCK_NAMESPACE, describe_holder, force_unlock, lock_name

    name = cluster_name(args)
    client = connect(args.kubeconfig, args.context, options=client_options(args))
    try:
        cluster = ApplyCluster(client)
        where = f"{LOCK_NAMESPACE}/{lock_name(name)}"
        lease = cluster.read_lease(LOCK_NAMESPACE, lock_name(name))
        if lease is None:
            print(f"The cluster is not locked (no Lease {where}).")
            return exitcodes.SUCCESS
        print(f"Lock {where} is held by {describe_holder(lease)}.")
        confirm(
            args,
            "Delete it? If that apply is still running, two applies may overlap. "
            "Only 'yes' will be accepted: ",
            action="unlock",
        )
        force_unlock(cluster, name, shown=lease)
    finally:
        client.close()
    print(f"Deleted the lock {where}.", file=sys.stdout)
    return exitcodes.SUCCESS
