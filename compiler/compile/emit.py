"""Stage 6, emit: turn rendered objects and host files into the bytes of out/, then write them.

``serialize`` is pure (the same input gives byte-identical files); ``write_out`` is the
only writer of out/, and swaps a fully built directory in so that a failed compile never
leaves half an out/. kgit owns ``hosts/``, ``manifests/``, ``index.json`` and
``.gitattributes`` inside out/; any other file there is the user's and is carried over
untouched. Files and folders get fixed modes whatever the umask; a compile killed mid-way
leaves at most a ``.out.kgit-*`` folder beside out/, which the next compile deletes.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.compile.changecause import index_fields
from compiler.compile.resources import ResourceSet
from compiler.core import yamlout
from compiler.core.errors import OutputError
from compiler.core.ownership import PART_OF_LABEL, cluster_applyset_id

OWNED_TOP_LEVEL = ("hosts", "manifests", "index.json", ".gitattributes")
SOURCE_ANNOTATION = "kgit.dev/source"
EXECUTABLE = 0o755
REGULAR = 0o644
FOLDER = 0o755
MAX_OBJECT_BYTES = 1536 * 1024  # etcd's default --max-request-bytes: no object is larger
# out/ is compared byte for byte (`kgit compile --check`) and provision.sh must keep LF
# endings to run: Git must store and check out these files as they are, even under
# core.autocrlf=true.
GITATTRIBUTES = (
    "# Written by kgit: out/ is compiled output, kept byte for byte (no CRLF conversion,\n"
    "# whatever core.autocrlf says), so that `kgit compile --check` and provision.sh work\n"
    "# on every checkout.\n"
    "* -text\n"
)


@dataclass(frozen=True)
class HostFile:
    """A file for a host (script or config), at a path relative to out/."""

    path: str
    content: str
    executable: bool = False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_owned(relpath: str) -> bool:
    top = relpath.split("/", 1)[0]
    return top in OWNED_TOP_LEVEL


def _stamped(body: dict, source: str, set_id: str) -> dict:
    """The object with where it came from, and the ApplySet label that marks it as kgit's.

    The label is written into out/ (not only added at apply time) so that plain
    ``kubectl diff --server-side -f out/manifests`` and ``kubectl apply --applyset`` see
    exactly what kgit applies.
    """
    metadata = dict(body.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    annotations[SOURCE_ANNOTATION] = source
    metadata["annotations"] = annotations
    metadata["labels"] = {**(metadata.get("labels") or {}), PART_OF_LABEL: set_id}
    return {**body, "metadata": metadata}


def serialize(
    resources: ResourceSet,
    host_files: Iterable[HostFile],
    *,
    spec_name: str,
    cluster: str,
    inputs: Mapping[str, str] | None = None,
) -> dict[str, bytes]:
    """Every file of out/ (path -> bytes), including index.json. Pure."""
    header = yamlout.header_comment(spec_name)
    set_id = cluster_applyset_id(cluster)
    by_file: dict[str, list[str]] = {}
    objects: list[dict[str, Any]] = []
    for resource in resources:
        document = yamlout.dump(_stamped(resource.body, resource.source, set_id))
        if len(document) * 4 > MAX_OBJECT_BYTES and len(document.encode()) > MAX_OBJECT_BYTES:
            raise OutputError(
                f"{resource.key} (from {resource.source}) is {len(document.encode())} bytes; "
                f"etcd refuses objects over {MAX_OBJECT_BYTES} bytes (1.5 MiB), so it could "
                "never be applied"
            )
        by_file.setdefault(resource.file, []).append(document)
        key = resource.key
        objects.append(
            {
                "apiVersion": resource.body.get("apiVersion"),
                "kind": key.kind,
                "namespace": key.namespace or None,
                "name": key.name,
                "file": resource.file,
                "sha256": sha256(document.encode()),
                "source": resource.source,
                **index_fields(resource.body),
            }
        )
    files: dict[str, bytes] = {".gitattributes": GITATTRIBUTES.encode()}
    modes: dict[str, int] = {}
    for path, documents in by_file.items():
        files[path] = (header + "".join(f"---\n{d}" for d in documents)).encode()
    for host_file in host_files:
        if host_file.path in files:
            raise OutputError(f"out/{host_file.path} would be written twice")
        files[host_file.path] = host_file.content.replace("\r\n", "\n").encode()
        modes[host_file.path] = EXECUTABLE if host_file.executable else REGULAR
    index: dict[str, Any] = {
        "generatedBy": f"kgit from {spec_name}; do not edit by hand",
        "cluster": cluster,
        **({"inputs": dict(sorted(inputs.items()))} if inputs else {}),
        "files": [
            {"path": p, "sha256": sha256(files[p]), "executable": modes.get(p) == EXECUTABLE}
            for p in sorted(files)
        ],
        "objects": sorted(
            objects,
            key=lambda o: (o["file"], o["kind"], o["namespace"] or "", o["name"]),
        ),
    }
    files["index.json"] = (json.dumps(index, indent=2, sort_keys=True) + "\n").encode()
    return dict(sorted(files.items()))


def index_matches_files(files: Mapping[str, bytes]) -> bool:
    """True when out/'s files are exactly those its index.json lists, with those digests."""
    try:
        listed = {f["path"]: f["sha256"] for f in json.loads(files["index.json"])["files"]}
    except (KeyError, TypeError, ValueError):
        return False
    present = {path: data for path, data in files.items() if path != "index.json"}
    return listed.keys() == present.keys() and all(
        sha256(data) == listed[path] for path, data in present.items()
    )


def executable_paths(files: Mapping[str, bytes]) -> set[str]:
    """Which files of a serialized out/ are executable, as recorded in its index."""
    index = json.loads(files.get("index.json", b'{"files": []}'))
    return {f["path"] for f in index.get("files", []) if f.get("executable")}


def read_out(out_dir: Path) -> dict[str, bytes]:
    """kgit's own files currently in out/ (path -> bytes); empty when out/ does not exist."""
    if not out_dir.is_dir():
        return {}
    files = sorted(_regular_files(str(out_dir), ""), key=lambda item: item[0].split("/"))
    found: dict[str, bytes] = {}
    for rel, path in files:
        if is_owned(rel):
            with open(path, "rb") as file:
                found[rel] = file.read()
    return found


def _regular_files(folder: str, prefix: str) -> Iterator[tuple[str, str]]:
    """(relative path, path) of each regular file under ``folder``; symlinks are skipped.

    os.scandir, not Path.rglob: its entries know their type without a stat() each, and
    out/ of a large cluster has thousands of files, read on every compile.
    """
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                yield from _regular_files(entry.path, f"{prefix}{entry.name}/")
            elif entry.is_file():
                yield f"{prefix}{entry.name}", entry.path


@dataclass(frozen=True)
class Staleness:
    path: str
    reason: str  # "changed", "missing" or "extra"

    def __str__(self) -> str:
        return f"out/{self.path}: {self.reason}"


def compare(expected: Mapping[str, bytes], actual: Mapping[str, bytes]) -> list[Staleness]:
    """What differs between a fresh compile and out/ as it is, file by file."""
    stale = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            stale.append(Staleness(path, "missing"))
        elif path not in expected:
            stale.append(Staleness(path, "extra (no longer generated)"))
        elif expected[path] != actual[path]:
            stale.append(Staleness(path, "changed (edited by hand, or cluster.yaml changed)"))
    return stale


def stale_files(
    expected: Mapping[str, bytes], actual: Mapping[str, bytes], out_dir: Path
) -> list[Staleness]:
    """Everything `kgit compile --check` reports: contents, missing and extra files, and
    exec bits, in path order. ``actual`` is ``read_out(out_dir)``."""
    stale = compare(expected, actual) + compare_exec_bits(expected, out_dir)
    return sorted(stale, key=lambda item: item.path)


def compare_exec_bits(expected: Mapping[str, bytes], out_dir: Path) -> list[Staleness]:
    """Files of out/ whose executable bit is not the one the index records.

    Contents alone do not prove out/ fresh: a provision.sh that lost its exec bit (a copy,
    an archive, a checkout with core.fileMode off) no longer runs as ``./provision.sh``.
    """
    executables = executable_paths(expected)
    stale = []
    for rel in sorted(expected):
        path = out_dir / rel
        if rel == "index.json" or not path.is_file():
            continue
        is_executable = bool(path.stat().st_mode & 0o111)
        if rel in executables and not is_executable:
            stale.append(Staleness(rel, "not executable (chmod +x, or run `kgit compile`)"))
        elif rel not in executables and is_executable:
            stale.append(Staleness(rel, "executable, but should not be"))
    return stale


def _is_current(
    out_dir: Path, files: Mapping[str, bytes], current: Mapping[str, bytes] | None
) -> bool:
    """True when kgit's files in out_dir are exactly ``files``, with the right modes."""
    if dict(read_out(out_dir) if current is None else current) != dict(files):
        return False
    executables = executable_paths(files)
    for rel in files:
        mode = (out_dir / rel).stat().st_mode & 0o777
        if mode != (EXECUTABLE if rel in executables else REGULAR):
            return False
    return all((out_dir / folder).stat().st_mode & 0o777 == FOLDER for folder in _folders(files))


def _folders(files: Mapping[str, bytes]) -> set[str]:
    """Every folder that holds one of ``files``, out/ itself ("") included."""
    folders = {""}
    for rel in files:
        parts = rel.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return folders


def _write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Create ``files`` in the new, empty ``folder``, each with its exact mode.

    Thousands of files for a large cluster: each folder is made once, and each file is
    written and given its mode through one descriptor (the umask would change a mode
    given to open()).
    """
    executables = executable_paths(files)
    made: set[str] = set()
    for rel, data in files.items():
        target = os.path.join(folder, rel)
        path = str(folder)
        for part in rel.split("/")[:-1]:
            path = os.path.join(path, part)
            if path not in made:
                os.mkdir(path)
                os.chmod(path, FOLDER)  # mkdir's mode is filtered by the umask
                made.add(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, REGULAR)
        with open(fd, "wb") as file:
            file.write(data)
            os.fchmod(fd, EXECUTABLE if rel in executables else REGULAR)


def check_out_dir(out_dir: Path) -> None:
    """Refuse an out/ that kgit cannot own as a real folder."""
    if out_dir.is_symlink():
        raise OutputError(
            f"{out_dir} is a symlink; kgit writes out/ as a real folder (Git would store "
            "the link, not the files)",
            hint="remove the link, or pass -O/--out-dir with the folder it points to",
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a directory")


def _leftover_prefix(out_dir: Path) -> str:
    return f".{out_dir.name}.kgit-"


def _lock(path: Path) -> int | None:
    """An exclusive flock on a folder, held until the descriptor is closed; None when
    another process holds it (a compile running now). A killed compile's lock is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def recover_out(out_dir: Path) -> list[str]:
    """Undo what a killed compile left beside out/; what was done, for the user.

    A kill between the two renames of the fallback swap leaves out/ missing and the old
    tree as ``.out.kgit-*.old``: it is put back. Every other ``.out.kgit-*`` folder that
    no running compile holds (a staging tree a kill interrupted, an old tree not yet
    deleted) is removed.
    """
    out_dir = out_dir.absolute()
    parent = out_dir.parent
    if not parent.is_dir():
        return []
    done = []
    prefix = _leftover_prefix(out_dir)
    leftovers = sorted(p for p in parent.iterdir() if p.name.startswith(prefix))
    retired = [p for p in leftovers if p.name.endswith(".old")]
    if retired and not out_dir.exists() and not out_dir.is_symlink():
        newest = max(retired, key=lambda p: p.lstat().st_ctime_ns)
        fd = _lock(newest)
        if fd is not None:
            try:
                os.rename(newest, out_dir)
            finally:
                os.close(fd)
            done.append(f"restored {out_dir} from {newest.name} (an interrupted compile)")
            leftovers.remove(newest)
    removed = 0
    for leftover in leftovers:
        fd = _lock(leftover) if leftover.is_dir() and not leftover.is_symlink() else None
        if fd is None:
            continue
        try:
            shutil.rmtree(leftover, ignore_errors=True)
        finally:
            os.close(fd)
        removed += 1
    if removed:
        done.append(f"removed {removed} folder(s) {prefix}* left by interrupted compiles")
    return done


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE), so that out/ exists at
    every instant; False where the kernel, libc or filesystem cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first))


def _swap(staging: Path, out_dir: Path) -> None:
    """Put the staged tree at out_dir; the old tree is deleted."""
    if _exchange(staging, out_dir):
        shutil.rmtree(staging, ignore_errors=True)  # now the old tree
        return
    # Two renames: a kill between them leaves out/ missing, which recover_out() undoes
    # on the next compile (the old tree is locked meanwhile, so no other compile takes it).
    retired = staging.parent / f"{staging.name}.old"
    fd = _lock(out_dir)
    try:
        os.rename(out_dir, retired)
        try:
            os.rename(staging, out_dir)
        except OSError:
            os.rename(retired, out_dir)  # put the old out/ back before reporting
            raise
    finally:
        if fd is not None:
            os.close(fd)
    shutil.rmtree(retired, ignore_errors=True)


def write_out(
    out_dir: Path, files: Mapping[str, bytes], *, current: Mapping[str, bytes] | None = None
) -> None:
    """Replace kgit's files in out_dir with ``files``, atomically as a whole directory.

    ``current`` is what ``read_out(out_dir)`` gave the caller moments ago, when it has it:
    a compile that changes nothing then reads out/ once, not twice.

    The new tree is built in a temporary directory beside out/ (same filesystem, so the
    swap is atomic); files in out/ that kgit does not own are copied across, so a failure
    at any point leaves the old out/ exactly as it was. The staging folder is flock()ed
    while it is built, so that a concurrent compile's cleanup leaves it alone.
    """
    out_dir = out_dir.absolute()
    parent = out_dir.parent
    check_out_dir(out_dir)
    recover_out(out_dir)
    if _is_current(out_dir, files, current):
        return  # nothing to do: leave out/ (and its timestamps) exactly as it is
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_leftover_prefix(out_dir), dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror}") from None
    lock = _lock(staging)
    try:
        _write_files(staging, files)
        os.chmod(staging, FOLDER)
        if out_dir.exists():
            for entry in out_dir.iterdir():
                if entry.name in OWNED_TOP_LEVEL:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, staging / entry.name, symlinks=True)
                else:
                    shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
            _swap(staging, out_dir)
        else:
            os.rename(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write {out_dir}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)
