"""kgit diff: what a change does to the compiled output, object by object (the PR view).

Each side is compiled from its own cluster.yaml, overlays/ and vendor/ (a revision's are
read from Git objects, never from the work tree), with that side's out/ as the previous
output so change-cause annotations come out as they would be committed. No cluster and no
network are needed.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler.cli.commands.common import (
    SpecLocation,
    add_out_option,
    add_output_format,
    add_spec_option,
    locate_spec,
    use_color,
)
from compiler.compile import emit
from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.core import exitcodes
from compiler.core.errors import KgitError, Location, Problem, SpecError
from compiler.core.sources import DirectoryTree, SourceTree
from compiler.repo.changes import OutputChanges, compare_outputs
from compiler.views.diff import render_json, render_markdown, render_text

WORK_TREE = "work tree"
# The update the Kubernetes Deployment tutorial makes; other images get their minor bumped.
DEMO_UPDATES = {"nginx:1.14.2": "nginx:1.16.1"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "revisions",
        nargs="*",
        metavar="REV",
        help="none: HEAD against the work tree; one: REV against the work tree; "
        "two: between the revisions",
    )
    add_spec_option(parser)
    add_out_option(parser)
    add_output_format(parser)
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 2 when there are differences"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="show what `kgit set-image` on the first app would do, on a temporary copy "
        "(writes nothing)",
    )


@dataclass(frozen=True)
class Side:
    """One side of a diff: where its inputs are read from and its out/ as it was."""

    label: str
    tree: SourceTree | None  # None: nothing compiled yet (a repository with no commits)
    spec_path: str
    display: str
    previous: dict[str, bytes]
    change_cause: str | None = None
    revision: str | None = None  # the Git revision read, named in errors
    folder: str = ""  # the spec's folder inside the repository, for error locations

    def compile(self) -> dict[str, bytes]:
        if self.tree is None:
            return {}
        options = CompileOptions(
            spec_path=self.spec_path,
            display_name=self.display,
            change_cause=self.change_cause,
            previous=self.previous,
        )
        try:
            return compile_tree(self.tree, options).files
        except SpecError as exc:
            if self.revision is None:
                raise
            raise SpecError(self._in_revision(p) for p in exc.problems) from None
        except KgitError as exc:
            raise KgitError(f"cannot compile {self.label}: {exc}") from exc

    def _in_revision(self, problem: Problem) -> Problem:
        """The problem located as Git names it: HEAD~1:clusters/lab/cluster.yaml:12:5."""
        file = self.spec_path if problem.location.file == self.display else problem.location.file
        where = posixpath.join(self.folder, file) if self.folder else file
        location = Location(f"{self.revision}:{where}", problem.location.line, problem.location.col)
        return Problem(location, problem.message, problem.hint)


def _work_tree_side(where: SpecLocation) -> Side:
    return Side(
        WORK_TREE, where.tree, where.spec_relpath, where.display, emit.read_out(where.out_dir)
    )


def _sides(args: argparse.Namespace, where: SpecLocation) -> tuple[Side, Side]:
    from compiler.repo.gitrepo import GitTree, head_commit, open_repository, read_owned_out, resolve

    repository = open_repository(where.tree.root / where.spec_relpath)
    spec_rel = repository.relpath(where.tree.root / where.spec_relpath)
    out_rel = repository.relpath(where.out_dir)
    prefix = posixpath.dirname(spec_rel)

    def revision_side(revision: str) -> Side:
        commit = head_commit(repository) if revision == "HEAD" else resolve(repository, revision)
        if commit is None:  # HEAD of a repository with no commits: an empty output
            return Side(revision, None, where.spec_relpath, revision, {})
        return Side(
            revision,
            GitTree(commit, prefix),
            where.spec_relpath,
            # The same name as the work tree's, so out/ cannot differ by how it was read.
            where.display,
            read_owned_out(commit, out_rel),
            revision=revision,
            folder=prefix,
        )

    revisions = args.revisions
    if len(revisions) > 2:
        raise KgitError("kgit diff takes at most two revisions")
    if not revisions:
        return revision_side("HEAD"), _work_tree_side(where)
    if len(revisions) == 1:
        return revision_side(revisions[0]), _work_tree_side(where)
    return revision_side(revisions[0]), revision_side(revisions[1])


def render(changes: OutputChanges, output: str, before: str, after: str) -> str:
    if output == "json":
        return render_json(changes, before=before, after=after)
    if output == "markdown":
        return render_markdown(changes, before=before, after=after)
    return render_text(changes, before=before, after=after, color=use_color())


def run(args: argparse.Namespace) -> int:
    where = locate_spec(args)
    if args.demo:
        if args.revisions:
            raise KgitError("--demo takes no revisions")
        return _demo(args, where)
    before, after = _sides(args, where)
    changes = compare_outputs(before.compile(), after.compile())
    sys.stdout.write(render(changes, args.output, before.label, after.label))
    if args.exit_code and changes.has_changes():
        return exitcodes.CHANGES_PRESENT
    return exitcodes.SUCCESS


def newer_image(image: str) -> str:
    """A plausible newer image for the demo: a known update, else the next minor version."""
    if image in DEMO_UPDATES:
        return DEMO_UPDATES[image]
    name = image.split("@", 1)[0]
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        repository, tag = name, ""
    match = re.fullmatch(r"(v?)(\d+)\.(\d+)(?:\.\d+)?", tag)
    if match is None:
        return f"{repository}:latest" if tag != "latest" else f"{repository}:stable"
    prefix, major, minor = match.group(1), match.group(2), int(match.group(3))
    return f"{repository}:{prefix}{major}.{minor + 1}.0"


def _copy_inputs(where: SpecLocation, target: Path) -> None:
    """Copy the spec, overlays/, vendor/ and out/ beside it into ``target``."""
    root = where.tree.root
    shutil.copy2(root / where.spec_relpath, target / where.spec_relpath)
    for name in ("overlays", "vendor"):
        if (root / name).is_dir():
            shutil.copytree(root / name, target / name, symlinks=True)
    previous = emit.read_out(where.out_dir)
    if previous:
        emit.write_out(target / "out", previous)


def _demo(args: argparse.Namespace, where: SpecLocation) -> int:
    from compiler.compile.pipeline import load_and_validate
    from compiler.repo.commit import change_cause
    from compiler.repo.set_image import ImageAssignment, edit_spec, with_file

    with tempfile.TemporaryDirectory(prefix="kgit-demo-") as temp:
        copy = Path(temp)
        _copy_inputs(where, copy)
        tree = DirectoryTree(copy)
        options = CompileOptions(spec_path=where.spec_relpath, display_name=where.display)
        _document, cluster = load_and_validate(tree, options)
        if not cluster.apps:
            raise KgitError(f"{where.display} has no apps to demonstrate `kgit set-image` on")
        app = cluster.apps[0]
        assignment = ImageAssignment(app.name, None, newer_image(app.image))
        command = f"kgit set-image {assignment}"
        new_text, _edits = edit_spec(tree, options, [assignment])
        before = Side(
            where.display, tree, where.spec_relpath, where.display, emit.read_out(copy / "out")
        )
        before_files = before.compile()
        after = Side(
            command,
            with_file(tree, where.spec_relpath, new_text.encode("utf-8")),
            where.spec_relpath,
            where.display,
            before_files,
            change_cause=change_cause(f"kgit: set image {assignment}"),
        )
        changes = compare_outputs(before_files, after.compile())
    banner = (
        f"Demonstration of `{command}`: {where.display} was copied to a temporary directory "
        "and changed there; nothing in your repository was written.\n"
    )
    if args.output == "text":
        sys.stdout.write(banner + "\n")
    elif args.output == "markdown":
        sys.stdout.write(f"> {banner}\n")
    sys.stdout.write(render(changes, args.output, where.display, command))
    if args.exit_code and changes.has_changes():
        return exitcodes.CHANGES_PRESENT
    return exitcodes.SUCCESS
