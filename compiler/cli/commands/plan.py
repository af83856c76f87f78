"""kgit plan: show what apply would change on the live cluster (create/update/replace/delete).

The reconcile modules (and so the ``kubernetes`` package) are imported inside the functions
that need them, so that ``kgit --help`` and the compile commands never load the client.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Mapping
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
    warn,
)
from compiler.compile import emit
from compiler.compile.pipeline import compile_tree, unchanged_since_compile
from compiler.core import exitcodes
from compiler.core.errors import KgitError, OutputError

if TYPE_CHECKING:
    from compiler.reconcile.client import ClusterClient
    from compiler.reconcile.desired import Desired
    from compiler.reconcile.model import Plan
    from compiler.reconcile.plan import PlanOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    add_cluster_options(parser)
    add_output_format(parser)
    parser.add_argument(
        "--out",
        dest="plan_file",
        default=None,
        metavar="FILE",
        help="also save the plan as JSON (no Secret values; mode 0600) for `kgit apply FILE`",
    )
    add_adopt_option(parser)
    add_rebuild_option(parser)
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the plan has changes (0: none, 1: error)",
    )


def add_adopt_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adopt",
        action="store_true",
        help="take over objects that exist without kgit's ApplySet label (refused otherwise)",
    )


def out_is_fresh(args: Any, previous: Mapping[str, bytes] | None = None) -> str | None:
    """Why `kgit compile --check` would fail, or None; compiles in memory only.

    ``previous`` is out/ as emit.read_out gave it to the caller, when it has it."""
    where = locate_spec(args)
    if previous is None:
        previous = emit.read_out(where.out_dir)
    if unchanged_since_compile(where.tree, previous) and not emit.compare_exec_bits(
        previous, where.out_dir
    ):
        return None
    try:
        compiled = compile_tree(where.tree, where.options(previous=previous))
    except KgitError as exc:
        return f"{where.display} does not compile ({str(exc).splitlines()[0]})"
    stale = emit.stale_files(compiled.files, previous, where.out_dir)
    if stale:
        return (
            f"{where.out_dir} is stale ({len(stale)} file(s) differ from a fresh compile of "
            f"{where.display}, e.g. {stale[0]}); the plan shows out/ as it is: run `kgit compile`"
        )
    return None


def spec_repository(args: Any) -> str | None:
    """Where the spec lives (repository and path), recorded on the cluster's ApplySet
    parent so that another repository's spec is refused; None without a Git origin."""
    from compiler.repo.gitrepo import repository_identity

    where = locate_spec(args)
    return repository_identity(where.tree.root / where.spec_relpath)


def git_revision(out_dir: Path) -> str | None:
    """The commit of out/ when out/ is committed and clean; None otherwise (or no Git)."""
    from compiler.repo.gitrepo import committed_revision

    return committed_revision(out_dir)


def plan_inputs(
    args: Any, *, parallelism: int | None = None, files: Mapping[str, bytes] | None = None
) -> tuple[ClusterClient, Desired, PlanOptions]:
    """Read out/ and connect; ``args`` needs file, out_dir, kubeconfig, context.

    ``kgit apply`` plans with these itself, under its lock."""
    from compiler.reconcile.client import connect
    from compiler.reconcile.desired import read_desired
    from compiler.reconcile.endpoints import server_mismatch
    from compiler.reconcile.model import DEFAULT_PARALLELISM
    from compiler.reconcile.plan import PlanOptions

    where = locate_spec(args)
    if files is None:
        files = emit.read_out(where.out_dir)
    desired = read_desired(where.out_dir, files)
    workers = parallelism or DEFAULT_PARALLELISM
    client = connect(
        getattr(args, "kubeconfig", None),
        getattr(args, "context", None),
        options=client_options(args, workers),
    )
    mismatch = server_mismatch(client.server, files)
    if mismatch:
        warn(mismatch)
    options = PlanOptions(
        git_revision=git_revision(where.out_dir),
        parallelism=workers,
        rebuild_inventory=getattr(args, "rebuild_inventory", False),
        adopt=bool(getattr(args, "adopt", False)),
        repository=spec_repository(args),
    )
    return client, desired, options


def plan_for_out(
    args: Any, files: Mapping[str, bytes] | None = None
) -> tuple[ClusterClient, Desired, Plan]:
    """Read out/ (unless given), connect, and plan; ``args`` needs file, out_dir,
    kubeconfig, context."""
    from compiler.reconcile.plan import make_plan

    client, desired, options = plan_inputs(args, files=files)
    try:
        return client, desired, make_plan(client, desired, options)
    except BaseException:
        client.close()
        raise


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan JSON readable by its owner only (it names live objects and versions).

    Written to a new file beside ``path`` and renamed over it: a symlink at ``path`` is
    replaced, never written through (it could point anywhere, such as a file the user
    can write but should not, or a shared file another user reads), and a reader never
    sees half a plan."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(plan.to_json())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OutputError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from compiler.views.plan import format_plan

    files = emit.read_out(locate_spec(args).out_dir)  # read once for both
    stale = out_is_fresh(args, files)
    if stale:
        warn(stale)
    client, _desired, plan = plan_for_out(args, files)
    try:
        sys.stdout.write(format_plan(plan, args.output))
    finally:
        client.close()
    if args.plan_file:
        save_plan(plan, Path(args.plan_file))
        print(
            f"Saved the plan to {args.plan_file}; apply it with `kgit apply {args.plan_file}`.",
            file=sys.stderr,
        )
    if args.detailed_exitcode and plan.has_changes():
        return exitcodes.CHANGES_PRESENT
    return exitcodes.SUCCESS
