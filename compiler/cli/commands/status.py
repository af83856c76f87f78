"""kgit status: sync and health of every object kgit manages, like `flux get` and
`argocd app get`. Read-only (the plan's dry runs write nothing); exit 0 when everything is
in sync and ready, 2 when something is out of sync, 3 when all is in sync but something is
not ready, 1 on an error."""

from __future__ import annotations

import argparse
import sys

from compiler.cli.commands.common import (
    add_cluster_options,
    add_out_option,
    add_output_format,
    add_spec_option,
)
from compiler.core import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    add_cluster_options(parser)
    add_output_format(parser)


def run(args: argparse.Namespace) -> int:
    from compiler.cli.commands.plan import plan_for_out
    from compiler.views.status import format_status

    args.adopt = True  # status only reads: objects to adopt show as out of sync
    client, _desired, plan = plan_for_out(args)
    try:
        sys.stdout.write(format_status(plan, args.output))
    finally:
        client.close()
    if plan.has_changes():
        return exitcodes.CHANGES_PRESENT
    if not plan.is_healthy():
        return exitcodes.NOT_READY
    return exitcodes.SUCCESS
