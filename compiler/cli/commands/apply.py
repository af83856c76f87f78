"""kgit apply: apply a saved plan (refusing a stale one), or lock, plan and apply after a 'yes'.

Per-object results go to stdout as each stage ends (``Deployment.apps/web/nginx
configured``), then a summary; waiting progress and lock messages go to stderr. Without a
terminal kgit never prompts: it refuses unless ``--yes`` is given. ``kgit rollback`` shares
the options and the confirm-and-apply step defined here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.cli.commands.common import (
    add_cluster_options,
    add_out_option,
    add_output_format,
    add_rebuild_option,
    add_spec_option,
    client_options,
    locate_spec,
    parse_duration,
)
from compiler.core import exitcodes
from compiler.core.errors import KgitError, PlanError
from compiler.reconcile.model import DEFAULT_PARALLELISM

if TYPE_CHECKING:
    from compiler.reconcile.apply import ApplyOptions
    from compiler.reconcile.client import ClusterClient
    from compiler.reconcile.desired import Desired
    from compiler.reconcile.model import Plan
    from compiler.reconcile.plan import PlanOptions
    from compiler.reconcile.results import ApplyResult, Change

CONFIRM_QUESTION = "Apply these changes? Only 'yes' will be accepted: "


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def add_apply_options(parser: argparse.ArgumentParser) -> None:
    from compiler.cli.commands.plan import add_adopt_option

    add_adopt_option(parser)
    """Options shared by apply and rollback."""
    add_spec_option(parser)
    add_out_option(parser)
    add_cluster_options(parser)
    add_output_format(parser)
    parser.add_argument(
        "--yes", action="store_true", help="apply without asking (needed without a terminal)"
    )
    parser.add_argument(
        "--parallelism",
        type=_positive,
        default=DEFAULT_PARALLELISM,
        metavar="N",
        help=f"objects applied at once within a stage (default: {DEFAULT_PARALLELISM})",
    )
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for rollouts, Jobs and CRDs to be ready (default: --wait)",
    )
    parser.add_argument(
        "--timeout",
        type=parse_duration,
        default=300.0,
        metavar="DURATION",
        help="how long each wait may take (default: 5m)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=parse_duration,
        default=60.0,
        metavar="DURATION",
        help="how long to wait for another apply's lock (default: 60s)",
    )
    parser.add_argument(
        "--allow-mass-prune",
        action="store_true",
        help="allow deleting everything, or more than half of what kgit manages",
    )
    add_rebuild_option(parser)
    parser.add_argument(
        "--prune-protected",
        action="store_true",
        help="allow deleting Namespaces, PersistentVolumeClaims and CRDs that left out/",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "plan_file",
        nargs="?",
        default=None,
        metavar="PLAN_FILE",
        help="a plan saved by `kgit plan --out FILE`; applied exactly, or refused if stale",
    )
    add_apply_options(parser)


def apply_options(args: argparse.Namespace) -> ApplyOptions:
    from compiler.cli.commands.plan import spec_repository
    from compiler.reconcile.apply import ApplyOptions

    return ApplyOptions(
        repository=spec_repository(args),
        parallelism=args.parallelism,
        wait=args.wait,
        timeout=args.timeout,
        lock_timeout=args.lock_timeout,
        allow_mass_prune=args.allow_mass_prune,
        prune_protected=args.prune_protected,
    )


def confirm(
    args: argparse.Namespace, question: str = CONFIRM_QUESTION, action: str = "apply"
) -> None:
    """Return when the user typed 'yes' (or passed --yes); raise otherwise."""
    if args.yes:
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise KgitError(
            f"refusing to {action} without confirmation: not running in a terminal",
            hint=f"pass --yes to {action} from a script or pipeline",
        )
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = input()
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise KgitError(f"{action} cancelled: nothing was changed")


def load_plan(path: Path) -> Plan:
    from compiler.reconcile.model import Plan

    try:
        return Plan.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"cannot read the plan {path}: {exc.strerror or exc}") from None
    except PlanError as exc:
        raise PlanError(f"{path}: {exc.message}", hint=exc.hint) from None
    except (ValueError, KeyError, TypeError):
        raise PlanError(f"{path} is not a plan saved by `kgit plan --out`") from None


def _show(plan: Plan, output: str) -> None:
    from compiler.views.plan import format_plan

    if output == "text":
        sys.stdout.write(format_plan(plan, "text"))
    elif output == "markdown":
        sys.stdout.write(format_plan(plan, "markdown") + "\n")
    sys.stdout.flush()


def execute(  # noqa: C901 (split pending, see docs/architecture.md)
    client: ClusterClient,
    desired: Desired,
    args: argparse.Namespace,
    *,
    saved: Plan | None = None,
    plan_options: PlanOptions | None = None,
) -> int:
    """Apply a ``saved`` plan as it is, or (without one) take the lock, plan with
    ``plan_options``, show the plan, confirm and apply; print results; the exit code."""
    from compiler.reconcile.apply import apply_plan, plan_and_apply
    from compiler.reconcile.checks import check_base
    from compiler.reconcile.plan import PlanOptions
    from compiler.reconcile.results import ApplyError
    from compiler.views.plan import format_plan

    output = args.output

    def report(change: Change) -> None:
        if output == "text":
            print(change, flush=True)

    made: list[Plan] = []  # the plan made under the lock, once shown

    def decide(plan: Plan) -> bool:
        made.append(plan)
        _show(plan, output)
        confirm(args)
        return True

    error: ApplyError | None = None
    result: ApplyResult | None = None
    try:
        if saved is None:
            plan, result = plan_and_apply(
                client,
                desired,
                plan_options or PlanOptions(),
                apply_options(args),
                decide=decide,
                report=report,
            )
            if not made:  # no changes: decide() was not asked
                _show(plan, output)
                made.append(plan)
        elif saved.has_changes():
            result = apply_plan(client, saved, desired, apply_options(args), report=report)
        else:  # nothing to do, if the plan still holds: out/, context and ApplySet
            check_base(saved, desired, client.context, client.server)
    except ApplyError as exc:  # only ever raised after decide()
        error, result = exc, exc.result
    plan = saved if saved is not None else made[-1]
    if output == "json":
        data: dict[str, Any] = {
            "plan": json.loads(format_plan(plan, "json")),
            "result": result.to_dict() if result is not None else None,
        }
        if error is not None:
            data["error"] = str(error)
        print(json.dumps(data, indent=2, sort_keys=True))
    elif result is None:
        if saved is not None:
            print("No changes. The cluster matches the plan; nothing to do.")
    elif output == "markdown":
        from compiler.views.results import format_result

        sys.stdout.write(format_result(result, "markdown"))
    else:
        print(result.summary())
    if error is not None:
        raise error
    settle_unhealthy(client, plan, args)
    return exitcodes.SUCCESS


def settle_unhealthy(client: ClusterClient, plan: Plan, args: argparse.Namespace) -> None:
    """Objects the plan found not ready (changed or not) must become ready, or the apply
    fails: an apply with nothing to change never goes green while an app is down.
    With --wait they are waited for (as rollouts are); with --no-wait they are reported
    and the apply fails."""
    from compiler.reconcile.calls import ApplyCluster
    from compiler.reconcile.health import unhealthy
    from compiler.reconcile.wait import WaitOptions, wait_for, waitable

    if not plan.unhealthy:
        return
    refs = [item.ref for item in plan.unhealthy]
    if args.wait:
        cluster = ApplyCluster(client, plan.base.applyset_id)
        waiting = [ref for ref in refs if waitable(ref)]
        wait_for(cluster, waiting, WaitOptions(timeout=args.timeout), out=sys.stderr)
        # Kinds without a rollout rule (custom resources): read once more, then judge.
        others = [ref for ref in refs if not waitable(ref)]
        still = unhealthy({r: b for r, b in cluster.read(others).items() if b}, others)
    else:
        still = plan.unhealthy
    if still:
        count = len(still)
        lines = [f"  {item.ref}: {item.state}: {item.message}" for item in still]
        raise KgitError(
            "\n".join([f"{count} object{'s' if count != 1 else ''} not ready:", *lines]),
            hint="kgit status shows sync and health; fix the cause and run kgit apply again",
        )


def run(args: argparse.Namespace) -> int:
    from compiler.reconcile.client import connect
    from compiler.reconcile.desired import read_desired

    if args.plan_file is None:
        from compiler.cli.commands.plan import plan_inputs

        client, desired, options = plan_inputs(args, parallelism=args.parallelism)
        saved = None
    else:
        saved = load_plan(Path(args.plan_file))
        desired = read_desired(locate_spec(args).out_dir)
        client = connect(
            args.kubeconfig, args.context, options=client_options(args, args.parallelism)
        )
        options = None
    try:
        return execute(client, desired, args, saved=saved, plan_options=options)
    finally:
        client.close()
