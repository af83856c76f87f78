"""kgit.lock: the record that pins every vendored upstream manifest to its sha256.

Compiling reads it (through the same ``SourceTree`` as the spec, so a compile of a Git
revision checks that revision's lock) and refuses a vendored file whose bytes no longer
match (``check_locked``), so what is reviewed and applied is exactly what was downloaded.
Writing it is ``kgit vendor``'s job (compiler.repo.vendor). Pure: no disk, no network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import yaml

from compiler.compile.emit import sha256
from compiler.core import yamlout
from compiler.core.errors import KgitError
from compiler.core.sources import SourceTree

LOCK_FILE = "kgit.lock"
LOCK_API_VERSION = "kgit.dev/v1alpha1"
URL_ADDON = "url"  # `kgit vendor url URL --sha256 HEX`: any upstream manifest, pinned


class VendorError(KgitError):
    """A manifest cannot be vendored, or a vendored one does not match kgit.lock."""

    reference = "vendor"


@dataclass(frozen=True)
class LockEntry:
    """One vendored file as kgit.lock records it."""

    addon: str
    version: str
    url: str
    sha256: str


def vendor_hint(entry: LockEntry) -> str:
    """The command that vendors ``entry`` again."""
    if entry.addon == URL_ADDON:
        return f"`kgit vendor url {entry.url} --sha256 {entry.sha256}`"
    return f"`kgit vendor {entry.addon} {entry.version}`"


def locked_entry(tree: SourceTree, relpath: str) -> LockEntry | None:
    """kgit.lock's entry for ``relpath`` in ``tree``, or None."""
    if not tree.is_file(LOCK_FILE):
        return None
    return parse_lock(tree.read_bytes(LOCK_FILE).decode("utf-8", "replace")).get(relpath)


def parse_lock(text: str) -> dict[str, LockEntry]:
    """The entries of a kgit.lock, by vendored path. A malformed lock is one clear error."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise VendorError(f"{LOCK_FILE} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("vendor", {}), dict):
        raise VendorError(f"{LOCK_FILE} must be a mapping with a 'vendor' mapping")
    entries = {}
    for path, raw in (data.get("vendor") or {}).items():
        fields = ("addon", "version", "url", "sha256")
        if not isinstance(raw, dict) or any(not isinstance(raw.get(f), str) for f in fields):
            raise VendorError(
                f"{LOCK_FILE}: the entry for {path} needs the strings {', '.join(fields)}"
            )
        entries[str(path)] = LockEntry(*(raw[f] for f in fields))
    return entries


def dump_lock(entries: Mapping[str, LockEntry]) -> str:
    """kgit.lock's text: deterministic (sorted keys, the shared YAML emitter)."""
    body = {
        "apiVersion": LOCK_API_VERSION,
        "kind": "Lock",
        "vendor": {path: asdict(entries[path]) for path in sorted(entries)},
    }
    return (
        "# Written by `kgit vendor`: upstream files under vendor/ and the sha256 of each.\n"
        "# `kgit compile` refuses a vendored file whose bytes no longer match.\n"
        + yamlout.dump(body)
    )


def check_locked(tree: SourceTree, relpath: str, data: bytes) -> None:
    """Refuse ``data`` (the bytes of ``relpath``) if kgit.lock pins that file to other bytes.

    Reads kgit.lock through ``tree`` so a compile of a Git revision checks that revision's
    lock. A file that the lock does not list is not checked (it was not vendored by kgit).
    """
    if not tree.is_file(LOCK_FILE):
        return
    entry = parse_lock(tree.read_bytes(LOCK_FILE).decode("utf-8", "replace")).get(relpath)
    if entry is None:
        return
    actual = sha256(data)
    if actual != entry.sha256:
        raise VendorError(
            f"{relpath} does not match {LOCK_FILE}: expected sha256 {entry.sha256}, found {actual}",
            hint=(
                f"restore the file as vendored (git checkout -- {relpath}) or vendor it "
                f"again with {vendor_hint(entry)}, which updates {LOCK_FILE}"
            ),
        )
