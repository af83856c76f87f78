"""kgit schema: print the JSON Schema of cluster.yaml (for editors and CI)."""

from __future__ import annotations

import argparse
import sys

from compiler.compile.schema import schema_text
from compiler.core import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return exitcodes.SUCCESS
