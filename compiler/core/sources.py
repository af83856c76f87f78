"""Where the inputs of a compile are read from: a directory, or a Git revision.

The pipeline reads cluster.yaml, overlays/ and vendor/ only through a ``SourceTree``,
so ``kgit diff`` can compile any revision straight from Git objects, and tests can
compile from memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol


class SourceTree(Protocol):
    def read_bytes(self, relpath: str) -> bytes:
        """The file's bytes; FileNotFoundError when absent, IsADirectoryError for a folder."""
        ...

    def is_file(self, relpath: str) -> bool: ...

    def is_dir(self, relpath: str) -> bool: ...


def clean_relpath(relpath: str) -> PurePosixPath:
    """``relpath`` as a path inside a tree; FileNotFoundError for one that leaves it."""
    path = PurePosixPath(relpath)
    if path.is_absolute() or ".." in path.parts:
        raise FileNotFoundError(relpath)
    return path


@dataclass(frozen=True)
class DirectoryTree:
    """A work tree on disk; paths that escape it (.., symlinks out) count as missing."""

    root: Path
    # Real paths of the folders asked about: a compile reads a thousand overlays from one
    # folder, and resolving every component of every path again was a tenth of its time.
    _real_dirs: dict[PurePosixPath, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _real_dir(self, relpath: PurePosixPath) -> str:
        if relpath not in self._real_dirs:
            self._real_dirs[relpath] = os.path.realpath(self.root / relpath)
        return self._real_dirs[relpath]

    def _path(self, relpath: str) -> Path:
        clean = clean_relpath(relpath)
        path = os.path.join(self._real_dir(clean.parent), clean.name)
        if os.path.islink(path):
            path = os.path.realpath(path)
        root = self._real_dir(PurePosixPath("."))
        if path != root and not path.startswith(root.rstrip(os.sep) + os.sep):
            raise FileNotFoundError(relpath)
        return Path(path)

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
        key = str(clean_relpath(relpath))
        if key in self.files:
            return self.files[key]
        if self.is_dir(key):
            raise IsADirectoryError(relpath)
        raise FileNotFoundError(relpath)

    def is_file(self, relpath: str) -> bool:
        try:
            return str(clean_relpath(relpath)) in self.files
        except FileNotFoundError:
            return False

    def is_dir(self, relpath: str) -> bool:
        prefix = str(clean_relpath(relpath)).rstrip("/") + "/"
        return any(name.startswith(prefix) for name in self.files)


@dataclass(frozen=True)
class SnapshotTree:
    """Another tree whose files are each read once, for the length of one compile.

    out/index.json records the digest of every input; reading from the snapshot makes it
    the digest of the bytes that were compiled (not of a file edited meanwhile), and saves
    reading a thousand overlays twice.
    """

    inner: SourceTree
    _read: dict[str, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def read_bytes(self, relpath: str) -> bytes:
        if relpath not in self._read:
            self._read[relpath] = self.inner.read_bytes(relpath)
        return self._read[relpath]

    def is_file(self, relpath: str) -> bool:
        return relpath in self._read or self.inner.is_file(relpath)

    def is_dir(self, relpath: str) -> bool:
        return self.inner.is_dir(relpath)
