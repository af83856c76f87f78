"""Where the inputs of a compile are read from: a directory, or a Git revision.

The pipeline reads cluster.yaml, overlays/ and vendor/ only through a ``SourceTree``,
so ``kgit diff`` can compile any revision straight from Git objects, and tests can
compile from memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol


class SourceTree(Protocol):
    def read_bytes(self, relpath: str) -> bytes:
        """The file's bytes; FileNotFoundError when absent, IsADirectoryError for a folder."""
        ...

    def is_file(self, relpath: str) -> bool: ...

    def is_dir(self, relpath: str) -> bool: ...


def _clean(relpath: str) -> PurePosixPath:
    path = PurePosixPath(relpath)
    if path.is_absolute() or ".." in path.parts:
        raise FileNotFoundError(relpath)
    return path


@dataclass(frozen=True)
class DirectoryTree:
    """A work tree on disk; paths that escape it (.., symlinks out) count as missing."""

    root: Path

    def _path(self, relpath: str) -> Path:
        path = (self.root / _clean(relpath)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise FileNotFoundError(relpath)
        return path

    def read_bytes(self, relpath: str) -> bytes:
        return self._path(relpath).read_bytes()

    def is_file(self, relpath: str) -> bool:
        try:
            return self._path(relpath).is_file()
        except FileNotFoundError:
            return False

    def is_dir(self, relpath: str) -> bool:
        try:
            return self._path(relpath).is_dir()
        except FileNotFoundError:
            return False


@dataclass(frozen=True)
class MemoryTree:
    """Files held in memory (tests, and Git revisions once read)."""

    files: Mapping[str, bytes]

    def read_bytes(self, relpath: str) -> bytes:
        key = str(_clean(relpath))
        if key in self.files:
            return self.files[key]
        if self.is_dir(key):
            raise IsADirectoryError(relpath)
        raise FileNotFoundError(relpath)

    def is_file(self, relpath: str) -> bool:
        try:
            return str(_clean(relpath)) in self.files
        except FileNotFoundError:
            return False

    def is_dir(self, relpath: str) -> bool:
        prefix = str(_clean(relpath)).rstrip("/") + "/"
        return any(name.startswith(prefix) for name in self.files)
