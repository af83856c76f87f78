"""The ``kgit`` command: one table of commands, one place where errors become sentences.

Each command lives in ``compiler/cli/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so that
``kgit --help`` and ``kgit validate`` stay fast and never import the kubernetes client.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

from compiler import __version__
from compiler.core import exitcodes
from compiler.core.errors import KgitError, SpecError


class CommandInfo(NamedTuple):
    module: str
    summary: str


COMMANDS: dict[str, CommandInfo] = {
    "validate": CommandInfo(
        "validate", "check cluster.yaml: schema and semantics, every error with file:line:col"
    ),
    "schema": CommandInfo("schema", "print the JSON Schema of cluster.yaml"),
    "compile": CommandInfo(
        "compile", "write out/ from cluster.yaml (--check: is out/ fresh?; --commit: commit out/)"
    ),
    "diff": CommandInfo(
        "diff", "what a change does to the compiled output, object by object (no cluster needed)"
    ),
    "set-image": CommandInfo(
        "set_image", "change an app's image in cluster.yaml in place, recompile (and commit)"
    ),
    "vendor": CommandInfo(
        "vendor", "download an upstream add-on manifest into vendor/ and pin it in kgit.lock"
    ),
    "plan": CommandInfo("plan", "show what apply would change on the live cluster"),
    "apply": CommandInfo("apply", "apply a saved plan, or plan and apply"),
    "status": CommandInfo(
        "status", "sync and health of every object kgit manages (exit 2/3: out of sync/not ready)"
    ),
    "history": CommandInfo("history", "list the revisions applied to the cluster"),
    "rollback": CommandInfo("rollback", "re-apply out/ as it was at an earlier Git revision"),
    "hosts": CommandInfo(
        "hosts", "the nodes over SSH: `hosts plan` shows, `hosts apply` provisions/joins/upgrades"
    ),
    "force-unlock": CommandInfo(
        "force_unlock", "release the apply lock left by an interrupted apply"
    ),
}


def _add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show Python tracebacks for errors",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1: exit code 2 means "changes present" in kgit."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(exitcodes.ERROR, f"error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them for --help of one)."""
    parser = _Parser(
        prog="kgit",
        description="Declarative GitOps for kubeadm clusters: cluster.yaml -> out/ -> cluster.",
        epilog="Exit codes: 0 success, 1 error, 2 changes present (with --detailed-exitcode "
        "or --exit-code, and from status), 3 not ready (status). "
        "Run 'kgit COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"kgit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, info in COMMANDS.items():
        sub = subparsers.add_parser(name, help=info.summary, description=info.summary)
        _add_debug(sub)
        if name == command:
            module = importlib.import_module(f"compiler.cli.commands.{info.module}")
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def _command_name(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if arg in COMMANDS), None)


def line_buffered_when_piped() -> None:
    """Flush each line as it is written when output goes to a pipe or file (a CI log).

    Python block-buffers stdout that is not a terminal, so a pipeline's log stayed silent
    through a long wait and then showed the plan and every result at once when kgit
    exited. A terminal is line-buffered already.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        isatty = getattr(stream, "isatty", None)
        if reconfigure is not None and isatty is not None and not isatty():
            # a closed or unusual stream is left alone
            with contextlib.suppress(ValueError, OSError):
                reconfigure(line_buffering=True)


def main(argv: Sequence[str] | None = None) -> int:
    line_buffered_when_piped()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_name(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return exitcodes.ERROR
    debug = bool(getattr(args, "debug", False)) or os.environ.get("KGIT_DEBUG") == "1"
    from compiler.cli.commands.common import reset_warnings

    reset_warnings()  # each command prints a warning at most once
    try:
        return int(args.run(args))
    except SpecError as exc:
        if debug:
            raise
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} error{'s' if count != 1 else ''} found", file=sys.stderr)
        return exitcodes.ERROR
    except KgitError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exitcodes.ERROR
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return exitcodes.SUCCESS
    except Exception as exc:  # a bug in kgit: one line for the user, the rest with --debug
        if debug:
            raise
        detail = " ".join(str(exc).split()) or "no details"
        print(
            f"error: internal error: {type(exc).__name__}: {detail}; "
            "run with --debug for the traceback",
            file=sys.stderr,
        )
        return exitcodes.ERROR
