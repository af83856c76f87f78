"""kgit set-image: the GitOps form of `kubectl set image`.

Edits the image in cluster.yaml in place (only those characters change), recompiles out/,
and with --commit commits cluster.yaml and out/ together, the message doubling as the
Deployment's change-cause so `kubectl rollout history` tells the same story as Git.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from compiler.cli.commands.common import add_out_option, add_spec_option, locate_spec, warn
from compiler.compile import emit
from compiler.compile.pipeline import compile_tree
from compiler.core import exitcodes
from compiler.core.errors import GitError, OutputError
from compiler.repo.set_image import edit_spec, parse_assignment, with_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "assignments",
        nargs="+",
        metavar="APP[/CONTAINER]=IMAGE",
        help="CONTAINER is the app's main container (named like the app, the default) "
        "or one of its init containers, e.g. nginx=nginx:1.16.1 nginx/init=busybox:1.29",
    )
    add_spec_option(parser)
    add_out_option(parser)
    parser.add_argument(
        "-n", "--namespace", default=None, help="the app's namespace, when its name is ambiguous"
    )
    parser.add_argument(
        "--commit", action="store_true", help="commit cluster.yaml and out/ together"
    )
    parser.add_argument(
        "-m",
        "--message",
        default=None,
        metavar="MESSAGE",
        help="commit message and change-cause (default: 'kgit: set image APP=IMAGE')",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --commit: overwrite hand edits in out/ instead of refusing",
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace a file in one rename, keeping its permissions."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.kgit-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    where = locate_spec(args)
    assignments = [parse_assignment(text) for text in args.assignments]
    new_text, edits = edit_spec(where.tree, where.options(), assignments, args.namespace)
    if all(edit.before == edit.after for edit in edits):
        print(
            "nothing to change: "
            + ", ".join(f"{e.app}/{e.container} is already {e.after}" for e in edits)
        )
        return exitcodes.SUCCESS
    if (args.message is not None or args.force) and not args.commit:
        warn("-m/--message and --force only take effect with --commit")
    message = args.message or "kgit: set image " + " ".join(str(a) for a in assignments)
    spec_path = where.tree.root / where.spec_relpath
    work_out = emit.read_out(where.out_dir)
    previous = work_out
    workspace = None
    if args.commit:
        from compiler.repo.commit import Workspace, refuse_hand_edits

        workspace = Workspace.open(spec_path, where.out_dir)
        previous = workspace.head_out()
        if not args.force:
            fresh = compile_tree(where.tree, where.options(previous=work_out))
            refuse_hand_edits(work_out, previous, fresh.files, str(where.out_dir))
    from compiler.repo.commit import change_cause

    new_tree = with_file(where.tree, where.spec_relpath, new_text.encode("utf-8"))
    compiled = compile_tree(
        new_tree, where.options(change_cause=change_cause(message), previous=previous)
    )
    old_bytes = spec_path.read_bytes()
    _write_atomically(spec_path, new_text.encode("utf-8"))
    try:
        emit.write_out(where.out_dir, compiled.files)
    except BaseException:
        _write_atomically(spec_path, old_bytes)  # spec and out/ change together or not at all
        raise
    for edit in edits:
        print(
            f"{edit.location}: {edit.namespace}/{edit.app}/{edit.container}: "
            f"{edit.before} -> {edit.after}"
        )
    print(f"compiled {where.display} -> {where.out_dir}")
    if workspace is not None:
        from compiler.repo.commit import commit_output

        try:
            result = commit_output(
                workspace, compiled.files, message, extra_paths=[workspace.spec_relpath]
            )
        except GitError as exc:
            # The commit was refused (a hook, say): spec and out/ go back as they were, so
            # the set-image left no trace; commit_output already unstaged its paths.
            _write_atomically(spec_path, old_bytes)
            emit.write_out(where.out_dir, work_out)
            raise GitError(
                f"{exc.message}; nothing was committed, and {where.spec_relpath} and out/ are "
                "back as they were (nothing of kgit's is staged)",
                hint=exc.hint,
            ) from None
        if result.sha is None:
            print("nothing to commit")
        else:
            print(
                f"committed {result.sha[:12]}: {change_cause(message)} ({len(result.paths)} files)"
            )
    return exitcodes.SUCCESS
