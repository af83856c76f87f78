"""The public surface of the compiler package is small and deliberate."""

from __future__ import annotations

import compiler


def test_all_is_pinned() -> None:
    assert compiler.__all__ == [
        "CompileOptions",
        "Compiled",
        "KgitError",
        "Location",
        "SpecError",
        "__version__",
        "compile_tree",
    ]


def test_every_exported_name_exists() -> None:
    for name in compiler.__all__:
        assert hasattr(compiler, name), name
