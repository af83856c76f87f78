"""kgit force-unlock: not implemented yet."""

from __future__ import annotations

import argparse

from compiler.errors import KgitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    raise KgitError("kgit force-unlock is not implemented yet")
