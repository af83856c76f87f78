"""Committing compiled output: which files, whether it is safe, and what the message says.

``kgit compile --commit`` commits kgit's own files under out/ together with every input the
compile read (the spec, its overlays, vendored manifests, kgit.lock), so that a commit
always holds out/ and the spec it came from: ``kgit diff`` between two commits and the
change-cause both describe one change. ``kgit set-image --commit`` commits out/ and the
spec. Nothing else of the user's is committed. Before overwriting out/ they
refuse when out/ holds hand edits: a file of out/ whose work-tree content is neither what
HEAD has, nor what compiling the current spec gives, nor what kgit recorded in
out/index.json when it last wrote out/, can only have been edited by hand, and compiling
would silently throw that edit away.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from git.exc import GitCommandError

from compiler.compile import emit
from compiler.core.errors import GitError
from compiler.repo.changes import OutputChanges, image_changes
from compiler.repo.gitrepo import (
    Repository,
    changed_paths,
    commit_paths,
    head_commit,
    open_repository,
    read_owned_out,
    store_blob,
)

TRAILER = "Kgit-Source"


@dataclass(frozen=True)
class Workspace:
    """A spec and its out/ inside one Git work tree, with their repository-relative paths."""

    repository: Repository
    spec: Path
    out_dir: Path
    spec_relpath: str
    out_relpath: str

    @classmethod
    def open(cls, spec: Path, out_dir: Path) -> Workspace:
        repository = open_repository(spec)
        return cls(
            repository,
            spec,
            out_dir,
            repository.relpath(spec),
            repository.relpath(out_dir),
        )

    def head_out(self) -> dict[str, bytes]:
        """kgit's files of out/ as HEAD has them (empty before the first commit)."""
        return read_owned_out(head_commit(self.repository), self.out_relpath)

    def input_paths(self, relpaths: Iterable[str]) -> list[str]:
        """Paths relative to the spec's folder (as the compile read them) as paths relative
        to the repository root; a GitError names an input outside the repository."""
        folder = self.spec.parent
        return sorted(self.repository.relpath(folder / p) for p in relpaths)

    def out_paths(self, relpaths: Iterable[str]) -> list[str]:
        """Paths relative to out/ as paths relative to the repository root."""
        return sorted(
            posixpath.join(self.out_relpath, p) if self.out_relpath else p for p in relpaths
        )


def _written_by_kgit(work: Mapping[str, bytes]) -> set[str]:
    """Files of out/ whose content is what kgit recorded in out/index.json when it wrote them.

    index.json holds the sha256 of every file kgit wrote; a file edited by hand no longer
    matches, and index.json itself counts as kgit's when every hash it lists still matches.
    """
    try:
        index = json.loads(work.get("index.json", b"{}"))
        recorded = {entry["path"]: entry["sha256"] for entry in index.get("files", [])}
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()
    matching = {p for p, digest in recorded.items() if p in work and emit.sha256(work[p]) == digest}
    if recorded and matching == set(recorded):
        matching.add("index.json")
    return matching


def hand_edits(
    work: Mapping[str, bytes], head: Mapping[str, bytes], fresh: Mapping[str, bytes]
) -> list[str]:
    """Files of out/ (relative to it) edited by hand.

    A file is kgit's own when it is as HEAD has it, as compiling the current spec gives it,
    or as kgit recorded it in out/index.json (an earlier `kgit compile` of another version
    of the spec); anything else was edited by hand.
    """
    written = _written_by_kgit(work)
    return sorted(
        path
        for path, data in work.items()
        if data != head.get(path) and data != fresh.get(path) and path not in written
    )


def refuse_hand_edits(
    work: Mapping[str, bytes], head: Mapping[str, bytes], fresh: Mapping[str, bytes], out: str
) -> None:
    edited = hand_edits(work, head, fresh)
    if edited:
        shown = ", ".join(edited[:5])
        more = f" and {len(edited) - 5} more" if len(edited) > 5 else ""
        raise GitError(
            f"{out} has hand edits that compiling would overwrite: {shown}{more}",
            hint="move the change into cluster.yaml or overlays/, or pass --force to discard it",
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def default_message(changes: OutputChanges) -> str:
    """A one-line subject that names what changed, e.g. the image updates and a count."""
    images = [f"{c.container} image {c.before} -> {c.after}" for c in image_changes(changes)]
    counts = [
        f"{_plural(changes.count(action), 'object')} {action}"
        for action in ("changed", "added", "removed")
        if changes.count(action)
    ]
    if changes.host_files:
        counts.append(f"{_plural(len(changes.host_files), 'host file')} changed")
    lead = ", ".join(images) if images else "recompile out/"
    return f"kgit: {lead}; {', '.join(counts) or 'no object changed'}"


def inputs_to_commit(
    current: Iterable[str], head_out: Mapping[str, bytes], spec_folder: Path
) -> list[str]:
    """The inputs (relative to the spec's folder) a compile --commit commits with out/.

    Those of this compile, and those HEAD's out/index.json recorded that are gone from the
    work tree now (an overlay deleted with its reference is committed as a deletion). An
    input that is no longer read but still exists is the user's to commit or not.
    """
    try:
        recorded = json.loads(head_out.get("index.json", b"{}")).get("inputs") or {}
    except (ValueError, AttributeError):
        recorded = {}
    gone = {p for p in recorded if isinstance(p, str) and not (spec_folder / p).exists()}
    return sorted(set(current) | gone)


def change_cause(message: str) -> str:
    """The change-cause annotation for a commit message: its subject line."""
    return message.strip().splitlines()[0].strip() if message.strip() else ""


def with_trailer(message: str, spec_relpath: str, blob: str) -> str:
    """The message with a trailer naming the exact spec blob out/ was compiled from."""
    return f"{message.rstrip()}\n\n{TRAILER}: {spec_relpath}@{blob}\n"


@dataclass(frozen=True)
class CommitResult:
    sha: str | None  # None: nothing changed, nothing committed
    paths: tuple[str, ...]


def commit_output(
    workspace: Workspace,
    out_files: Iterable[str],
    message: str,
    *,
    extra_paths: Iterable[str] = (),
) -> CommitResult:
    """Commit kgit's files of out/ (those given, and any HEAD has that are gone) and extras.

    ``out_files`` are paths relative to out/ that exist now; files kgit owned at HEAD that
    are no longer generated are committed as deletions. No commit when nothing changed.
    """
    candidates = set(workspace.out_paths(out_files))
    candidates |= set(workspace.out_paths(workspace.head_out()))
    candidates |= set(workspace.out_paths(emit.read_out(workspace.out_dir)))
    candidates |= set(extra_paths)
    paths = changed_paths(workspace.repository, candidates)
    if not paths:
        return CommitResult(None, ())
    spec_bytes = workspace.spec.read_bytes()
    blob = store_blob(workspace.repository, spec_bytes)
    full = with_trailer(message, workspace.spec_relpath, blob)
    sha = commit_paths(workspace.repository, paths, full)
    return CommitResult(sha, tuple(paths))


def spec_is_uncommitted(workspace: Workspace) -> bool:
    return bool(changed_paths(workspace.repository, [workspace.spec_relpath]))


def refuse_ignored_inputs(workspace: Workspace, paths: Iterable[str]) -> None:
    """A clear refusal when Git ignores an input: committing out/ without it would record
    output that no commit can reproduce."""
    paths = sorted(paths)
    if not paths:
        return
    try:
        ignored = workspace.repository.repo.git.check_ignore("--no-index", "--", *paths)
    except GitCommandError:  # exit 1: none is ignored
        return
    listed = ", ".join(ignored.split())
    raise GitError(
        f"cannot commit out/ with its inputs: Git ignores {listed}",
        hint="remove it from .gitignore, or compile without --commit and commit by hand",
    )
