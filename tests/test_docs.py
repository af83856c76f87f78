"""The docs and the CLI agree: every `kgit COMMAND --flag` the docs show exists, and every
option of every command is shown somewhere.

Invocations are read from code only (inline code spans and fenced blocks), where a
command line starts: ``kgit compile --check``, ``$ kgit plan``, ``run: kgit diff ...``,
``.venv/bin/kgit validate``. A synopsis may continue on lines that start with ``[``.
Inside ``[...]`` a ``|`` separates alternatives; outside it is a shell pipe.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.cli.app import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

INVOCATION = re.compile(r"^\s*(?:\$\s+|-\s+|run:\s+|[\w./-]*/)?kgit\s+(\S+)(.*)$")
FLAG = re.compile(r"-{1,2}[A-Za-z][\w-]*")
# The options the README's "Shared options" paragraph documents once for every command.
SHARED_OPTIONS = (
    "--debug",
    "-f/--file",
    "-O/--out-dir",
    "--kubeconfig",
    "--context",
    "--request-timeout",
    "-o/--output",
)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _command_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser of ``command``: a top-level name, or "name sub" (``kgit hosts plan``)."""
    if command is None:
        return build_parser(None)
    name, _, sub = command.partition(" ")
    parser = _subparsers(build_parser(name))[name]
    return _subparsers(parser)[sub] if sub else parser


def _full_commands() -> list[str]:
    """Every command, and "name sub" for the subcommands of those that have them."""
    names = []
    for name in COMMANDS:
        subs = _subparsers(_command_parser(name))
        names += [name, *(f"{name} {sub}" for sub in subs)]
    return names


def _options(command: str | None) -> list[tuple[str, ...]]:
    """Each option of the command as its spellings (``("-f", "--file")``); no -h/--help."""
    return [
        tuple(action.option_strings)
        for action in _command_parser(command)._actions
        if action.option_strings and "--help" not in action.option_strings
    ]


def _code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for fenced lines (comments dropped) and inline code spans."""
    fenced = False
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            code = re.sub(r"(^|\s)#.*", "", line)
            follow = number
            while follow < len(lines) and lines[follow].lstrip().startswith("["):
                code += " " + lines[follow].strip()  # a synopsis continued on the next line
                follow += 1
            yield number, code
        else:
            for span in re.finditer(r"(`+)(.+?)\1", line):
                yield number, span.group(2)


def _commands_in(code: str) -> Iterator[str]:
    """Split a line of code at shell pipes and &&/||, but not at ``|`` inside [...]."""
    code = code.replace("\\|", "\x00")  # an escaped | in a markdown table is an alternative
    depth, start = 0, 0
    for i, char in enumerate(code):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char in "|&" and depth <= 0:
            yield code[start:i]
            start = i + 1
    yield code[start:]


def invocations() -> list[tuple[str, str, set[str]]]:
    """(where, command, flags) for every kgit command line in README.md and docs/."""
    found = []
    for path in DOC_FILES:
        for number, code in _code(path.read_text()):
            for piece in _commands_in(code):
                match = INVOCATION.match(piece)
                if match is None or match.group(1) in ("...", "COMMAND"):
                    continue
                flags = {
                    flag.group(0)
                    for token in match.group(2).split()
                    for part in token.lstrip("[(").split("/")
                    if (flag := FLAG.match(part))
                }
                where = f"{path.relative_to(ROOT)}:{number}"
                word = match.group(1)
                rest = match.group(2).split()
                if word in _NESTED and rest and rest[0] in _NESTED[word]:
                    word = f"{word} {rest[0]}"  # kgit hosts plan
                if word.startswith("-"):  # kgit --version, kgit --help
                    found.append((where, "", {FLAG.match(word).group(0), *flags}))
                else:
                    found.append((where, word, flags))
    return found


_NESTED = {
    name: set(_subparsers(_command_parser(name)))
    for name in COMMANDS
    if _subparsers(_command_parser(name))
}
INVOCATIONS = invocations()


def test_the_docs_show_every_command():
    assert {command for _, command, _ in INVOCATIONS} >= set(_full_commands())
    assert len(INVOCATIONS) > 50


@pytest.mark.parametrize(
    ("where", "command", "flags"),
    [pytest.param(w, c, f, id=f"{w}-{c or 'kgit'}") for w, c, f in INVOCATIONS],
)
def test_every_documented_command_and_flag_exists(where, command, flags):
    assert command == "" or command in _full_commands(), f"{where}: no command `kgit {command}`"
    known = {spelling for option in _options(command or None) for spelling in option}
    if command == "":
        known |= {"-h", "--help"}
    assert flags - known == set(), f"{where}: `kgit {command}` has no such option"


def test_readme_names_the_shared_options():
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("Shared options:") :].split("\n\n")[0]
    for option in SHARED_OPTIONS:
        assert f"`{option}`" in paragraph


@pytest.mark.parametrize("command", _full_commands())
def test_every_option_of_every_command_is_documented(command):
    shown = {flag for _, name, flags in INVOCATIONS if name == command for flag in flags}
    shared = {spelling for option in SHARED_OPTIONS for spelling in option.split("/")}
    missing = [
        "/".join(option) for option in _options(command) if not set(option) & (shown | shared)
    ]
    assert missing == [], f"`kgit {command}` options that no doc shows"
