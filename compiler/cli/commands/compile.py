"""kgit compile: write out/ from cluster.yaml; --check proves out/ is fresh; --commit commits it."""

from __future__ import annotations

import argparse
import sys

from compiler.cli.commands.common import (
    SpecLocation,
    add_out_option,
    add_spec_option,
    locate_spec,
    warn,
)
from compiler.compile import emit
from compiler.compile.pipeline import compile_tree
from compiler.core import exitcodes
from compiler.core.errors import GitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    add_out_option(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="compile in memory and list what in out/ is stale; exit 1 if any",
    )
    mode.add_argument(
        "--commit",
        action="store_true",
        help="then commit kgit's files under out/ with the spec and every input it read "
        "(overlays, vendored manifests, kgit.lock); other staged files stay staged",
    )
    parser.add_argument(
        "--change-cause",
        default=None,
        metavar="TEXT",
        help="kubernetes.io/change-cause for pod templates that change "
        "(with --commit -m: default the message's subject; otherwise a summary of the "
        "template's change)",
    )
    parser.add_argument(
        "-m",
        "--message",
        default=None,
        metavar="MESSAGE",
        help="commit message for --commit (default: names what changed)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --commit: overwrite hand edits in out/ instead of refusing",
    )


def run(args: argparse.Namespace) -> int:
    where = locate_spec(args)
    if (args.message is not None or args.force) and not args.commit:
        warn("-m/--message and --force only take effect with --commit")
    emit.check_out_dir(where.out_dir)
    if not args.check:
        for message in emit.recover_out(where.out_dir):
            warn(message)
    if args.commit:
        return _compile_and_commit(args, where)
    previous = emit.read_out(where.out_dir)
    compiled = compile_tree(
        where.tree, where.options(change_cause=args.change_cause, previous=previous)
    )
    for message in compiled.warnings:
        warn(message)
    if args.check:
        stale = emit.stale_files(compiled.files, previous, where.out_dir)
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
    emit.write_out(where.out_dir, compiled.files, current=previous)
    print(
        f"compiled {where.display} -> {where.out_dir}: {len(compiled.files)} files, "
        f"{len(compiled.resources)} objects, {len(changed)} changed"
    )
    return exitcodes.SUCCESS


def _compile_and_commit(args: argparse.Namespace, where: SpecLocation) -> int:
    # Imported here: only --commit needs Git.
    from compiler.compile.pipeline import input_paths
    from compiler.repo.changes import compare_outputs
    from compiler.repo.commit import (
        Workspace,
        change_cause,
        commit_output,
        default_message,
        inputs_to_commit,
        refuse_hand_edits,
        refuse_ignored_inputs,
    )

    workspace = Workspace.open(where.tree.root / where.spec_relpath, where.out_dir)
    work_out = emit.read_out(where.out_dir)
    head_out = workspace.head_out()
    # What a plain `kgit compile` would write now: out/ files equal to it are not hand edits.
    fresh = compile_tree(where.tree, where.options(previous=work_out))
    for message in fresh.warnings:
        warn(message)
    if not args.force:
        refuse_hand_edits(work_out, head_out, fresh.files, str(where.out_dir))
    inputs = workspace.input_paths(
        inputs_to_commit(
            input_paths(where.tree, fresh.cluster, where.spec_relpath),
            head_out,
            workspace.spec.parent,
        )
    )
    refuse_ignored_inputs(workspace, inputs)
    message = args.message or default_message(compare_outputs(head_out, fresh.files))
    # Compile once more against HEAD's out/, so every pod template changed since the last
    # commit carries this commit's cause: the subject of a message the user wrote, never
    # the generated summary of out/ (a template that changed gets a summary of its own
    # change instead; one that did not keeps its cause).
    cause = args.change_cause or (change_cause(args.message) if args.message else None)
    final = compile_tree(where.tree, where.options(change_cause=cause, previous=head_out))
    emit.write_out(where.out_dir, final.files)
    try:
        result = commit_output(workspace, final.files, message, extra_paths=inputs)
    except GitError as exc:
        raise GitError(
            f"{exc.message}; nothing was committed or staged, and out/ holds the new compile",
            hint=exc.hint,
        ) from None
    if result.sha is None:
        print(f"nothing to commit: {where.out_dir} and its inputs already match HEAD")
        return exitcodes.SUCCESS
    print(f"committed {result.sha[:12]}: {change_cause(message)} ({len(result.paths)} files)")
    return exitcodes.SUCCESS
