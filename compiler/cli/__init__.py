"""The ``kgit`` command: argument parsing (``app``) and one module per command
(``commands``)."""

from compiler.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
