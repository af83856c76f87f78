"""kgit hosts plan / kgit hosts apply: the host half of cluster.yaml, over SSH, plan first.

``plan`` reads out/hosts and the nodes' facts (read-only) and prints, per node, the actions
apply would take and why; ``--out FILE`` saves it for ``apply FILE``, which refuses it when
out/ or the nodes changed since. The host modules (and asyncssh) are imported only here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from compiler.cli.commands.common import add_out_option, add_output_format, add_spec_option, warn
from compiler.cli.commands.plan import git_revision, out_is_fresh, save_plan
from compiler.core import exitcodes
from compiler.core.errors import KgitError

if TYPE_CHECKING:
    from compiler.hosts.apply import HostOptions
    from compiler.hosts.inventory import Inventory


def _common(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    parser.add_argument(
        "--parallelism",
        type=int,
        default=10,
        metavar="N",
        help="nodes read or changed at the same time (default 10; upgrades: maxUnavailable)",
    )
    parser.add_argument(
        "--known-hosts",
        action="append",
        default=None,
        metavar="FILE",
        help="known_hosts file to verify host keys with (default: ~/.ssh/known_hosts)",
    )
    parser.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="record the key of a host not yet in known_hosts (a changed key is refused)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig for the Node objects (default: admin.conf of the first control plane)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hosts_command", metavar="SUBCOMMAND", required=True)
    plan = sub.add_parser("plan", help="show what `kgit hosts apply` would do, node by node")
    _common(plan)
    add_output_format(plan)
    plan.add_argument(
        "--out",
        dest="plan_file",
        default=None,
        metavar="FILE",
        help="also save the plan as JSON (mode 0600) for `kgit hosts apply FILE`",
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the plan has changes (0: none, 1: error)",
    )
    apply = sub.add_parser("apply", help="apply a saved host plan, or plan and apply")
    _common(apply)
    apply.add_argument(
        "plan_file",
        nargs="?",
        default=None,
        metavar="FILE",
        help="a plan saved by `kgit hosts plan --out` (refused when stale)",
    )
    apply.add_argument(
        "--yes",
        action="store_true",
        help="apply a plan made now without asking (needed without a terminal)",
    )
    apply.add_argument(
        "--kubeconfig-out",
        default=None,
        metavar="FILE",
        help="write the cluster's admin kubeconfig here (mode 0600)",
    )


def _inventory(args: argparse.Namespace) -> Inventory:
    from compiler.cli.commands.common import locate_spec
    from compiler.compile import emit
    from compiler.compile.pipeline import load_and_validate
    from compiler.hosts.inventory import build_inventory

    where = locate_spec(args)
    files = emit.read_out(where.out_dir)
    stale = out_is_fresh(args, files)
    if stale:
        warn(stale)
    _, cluster = load_and_validate(where.tree, where.options())
    return build_inventory(cluster, files)


def _options(args: argparse.Namespace) -> HostOptions:
    from compiler.cli.commands.common import locate_spec
    from compiler.hosts.apply import HostOptions
    from compiler.hosts.ssh import DEFAULT_KNOWN_HOSTS, HostKeyTrust

    if args.parallelism < 1:
        raise KgitError("--parallelism must be at least 1")
    kubeconfig: Any = None
    if args.kubeconfig:
        try:
            kubeconfig = yaml.safe_load(Path(args.kubeconfig).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise KgitError(f"cannot read --kubeconfig {args.kubeconfig}: {exc}") from None
    known = tuple(Path(p) for p in args.known_hosts) if args.known_hosts else (DEFAULT_KNOWN_HOSTS,)
    return HostOptions(
        trust=HostKeyTrust(known_hosts=known, accept_new=args.accept_new_host_keys),
        parallelism=args.parallelism,
        kubeconfig=kubeconfig,
        git_revision=git_revision(locate_spec(args).out_dir),
    )


def _plan(args: argparse.Namespace) -> int:
    from compiler.hosts.apply import plan_hosts
    from compiler.views.hosts import format_host_plan

    plan, _ = asyncio.run(plan_hosts(_inventory(args), _options(args)))
    sys.stdout.write(format_host_plan(plan, args.output))
    if args.plan_file:
        save_plan(plan, Path(args.plan_file))  # type: ignore[arg-type]
        print(
            f"Saved the host plan to {args.plan_file}; apply it with "
            f"`kgit hosts apply {args.plan_file}`.",
            file=sys.stderr,
        )
    if args.detailed_exitcode and plan.has_changes():
        return exitcodes.CHANGES_PRESENT
    return exitcodes.SUCCESS


def _apply(args: argparse.Namespace) -> int:
    from compiler.hosts.apply import apply_hosts
    from compiler.hosts.plan import HostPlan
    from compiler.views.hosts import format_host_plan, format_result

    saved = None
    if args.plan_file:
        try:
            saved = HostPlan.from_json(Path(args.plan_file).read_text())
        except OSError as exc:
            raise KgitError(f"cannot read {args.plan_file}: {exc.strerror or exc}") from None

    def progress(line: str) -> None:
        print(f"[kgit hosts] {line}", file=sys.stderr, flush=True)

    def show(plan: HostPlan) -> None:
        sys.stdout.write(format_host_plan(plan))
        sys.stdout.flush()

    def ask(plan: HostPlan) -> None:
        from compiler.cli.commands.apply import confirm

        del plan  # shown just before
        confirm(args, "Apply these host changes? Only 'yes' will be accepted: ")

    result = asyncio.run(
        apply_hosts(
            _inventory(args),
            _options(args),
            saved=saved,
            kubeconfig_out=Path(args.kubeconfig_out) if args.kubeconfig_out else None,
            progress=progress,
            show_plan=show,
            confirm=ask,
        )
    )
    sys.stdout.write(format_result(result))
    return exitcodes.SUCCESS if result.ok else exitcodes.ERROR


def run(args: argparse.Namespace) -> int:
    if args.hosts_command == "plan":
        return _plan(args)
    return _apply(args)
