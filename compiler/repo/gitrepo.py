"""The Git edge of kgit: open a repository, read a revision's files, commit chosen paths.

Everything Git-specific lives here, behind small functions over plain values, so the rest
of kgit never touches GitPython. ``GitTree`` lets the pipeline compile straight from a
revision's objects (``kgit diff``) without checking anything out. Every failure a user can
cause is a ``GitError`` with one clear sentence.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from compiler.compile import emit
from compiler.core.errors import GitError
from compiler.core.sources import clean_relpath

_SYMLINK_MODE = 0o120000


@dataclass(frozen=True)
class Repository:
    """An open, non-bare repository and its work tree's absolute root."""

    repo: git.Repo
    root: Path

    def relpath(self, path: Path) -> str:
        """``path`` as a POSIX path relative to the work tree ('' for the root itself)."""
        resolved = path.absolute().resolve()
        if not resolved.is_relative_to(self.root):
            raise GitError(f"{path} is outside the Git repository at {self.root}")
        rel = resolved.relative_to(self.root).as_posix()
        return "" if rel == "." else rel


def open_repository(path: Path) -> Repository:
    """The repository that contains ``path`` (a file or a folder, searched upwards)."""
    start = path.absolute()
    probe = start if start.is_dir() else start.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        repo = git.Repo(probe, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise GitError(
            f"{path} is not inside a Git repository", hint="run `git init` there first"
        ) from None
    if repo.bare or repo.working_tree_dir is None:
        raise GitError(f"{repo.git_dir} is a bare repository; kgit needs a work tree")
    return Repository(repo, Path(repo.working_tree_dir).resolve())


def head_commit(repository: Repository) -> git.Commit | None:
    """The commit HEAD points at (detached or not); None in a repository with no commits."""
    head = repository.repo.head
    return head.commit if head.is_valid() else None


def resolve(repository: Repository, revision: str) -> git.Commit:
    """The commit a revision names (branch, tag, sha, HEAD~1, origin/main, HEAD@{2.days.ago}).

    Git itself resolves it (``git rev-parse``): GitPython's own parser lacks reflog dates
    and walks to parents a shallow clone does not have.
    """
    git_ = repository.repo.git
    try:
        sha = git_.rev_parse("--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    except GitCommandError:
        try:
            sha = git_.rev_parse("--verify", "--quiet", "--end-of-options", revision)
            kind = git_.cat_file("-t", sha)
        except GitCommandError:
            raise GitError(f"unknown revision {revision!r}", hint=_shallow_hint(git_)) from None
        raise GitError(f"revision {revision!r} is a {kind}, not a commit") from None
    return repository.repo.commit(sha)


def _shallow_hint(git_: git.Git) -> str | None:
    try:
        shallow = git_.rev_parse("--is-shallow-repository") == "true"
    except GitCommandError:
        return None
    if not shallow:
        return None
    return "this clone is shallow and may lack it: git fetch --unshallow, or fetch-depth: 0 in CI"


def _join(prefix: str, relpath: str) -> str:
    path = clean_relpath(relpath)
    parts = [p for p in (prefix, str(path)) if p and p != "."]
    return "/".join(parts)


@dataclass(frozen=True)
class GitTree:
    """A ``SourceTree`` over one commit's files, read lazily from Git's object database.

    ``prefix`` is the folder of the spec inside the repository, so that paths given to the
    pipeline ("cluster.yaml", "overlays/nginx.yaml") are relative to it, as on disk.
    """

    commit: git.Commit
    prefix: str = ""

    def _object(self, relpath: str) -> git.Blob | git.Tree | None:
        full = _join(self.prefix, relpath)
        if not full:
            return self.commit.tree
        try:
            return self.commit.tree / full
        except KeyError:
            return None

    def read_bytes(self, relpath: str) -> bytes:
        obj = self._object(relpath)
        if isinstance(obj, git.Tree):
            raise IsADirectoryError(relpath)
        if not isinstance(obj, git.Blob) or obj.mode == _SYMLINK_MODE:
            raise FileNotFoundError(relpath)
        return obj.data_stream.read()

    def is_file(self, relpath: str) -> bool:
        try:
            obj = self._object(relpath)
        except FileNotFoundError:
            return False
        return isinstance(obj, git.Blob) and obj.mode != _SYMLINK_MODE

    def is_dir(self, relpath: str) -> bool:
        try:
            return isinstance(self._object(relpath), git.Tree)
        except FileNotFoundError:
            return False


def read_owned_out(commit: git.Commit | None, out_relpath: str) -> dict[str, bytes]:
    """kgit's files of out/ as committed in ``commit`` (path relative to out/ -> bytes)."""
    found: dict[str, bytes] = {}
    for path, (data, mode) in files_under(commit, out_relpath).items():
        rel = PurePosixPath(path).relative_to(out_relpath or ".").as_posix()
        if mode != _SYMLINK_MODE and emit.is_owned(rel):
            found[rel] = data
    return dict(sorted(found.items()))


def store_blob(repository: Repository, data: bytes) -> str:
    """Write ``data`` as a blob into the object database and return its id.

    Storing it (not only hashing) means ``git cat-file -p <id>`` can show the exact spec a
    commit of out/ was compiled from, even when that spec was never committed.
    """
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        handle.write(data)
    try:
        return repository.repo.git.hash_object("-w", "--", handle.name).strip()
    finally:
        os.unlink(handle.name)


def _git_failure(action: str, exc: GitCommandError) -> GitError:
    """One sentence from git's stderr: its first line that is not a hint."""
    detail = str(exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'")
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("hint:")]
    first = useful[0] if useful else ""
    if first.endswith(":") and len(useful) > 1:  # "...ignored by one of your .gitignore files:"
        first = f"{first} {useful[1]}"
    for prefix in ("fatal: ", "error: "):
        first = first.removeprefix(prefix)
    return GitError(f"{action} failed: {first or f'git exited with {exc.status}'}")


def changed_paths(repository: Repository, paths: Iterable[str]) -> list[str]:
    """Those of ``paths`` whose work-tree state differs from HEAD (added, changed, deleted)."""
    paths = sorted(set(paths))
    if not paths:
        return []
    head = head_commit(repository)
    result = []
    for path in paths:
        on_disk = repository.root / path
        data = on_disk.read_bytes() if on_disk.is_file() and not on_disk.is_symlink() else None
        committed: bytes | None = None
        if head is not None:
            try:
                blob = head.tree / path
                if isinstance(blob, git.Blob):
                    committed = blob.data_stream.read()
            except KeyError:
                committed = None
        if data != committed or (
            data is not None and head is not None and _mode_changed(head, path, on_disk)
        ):
            result.append(path)
    return result


def _mode_changed(head: git.Commit, path: str, on_disk: Path) -> bool:
    try:
        blob = head.tree / path
    except KeyError:
        return True
    executable = bool(on_disk.stat().st_mode & 0o111)
    return isinstance(blob, git.Blob) and executable != bool(blob.mode & 0o111)


def commit_paths(repository: Repository, paths: Iterable[str], message: str) -> str:
    """Commit exactly ``paths`` (repository-relative) as they are in the work tree.

    ``git commit --only`` takes these paths from the work tree and nothing else: whatever
    the user had staged for other paths stays staged and out of this commit, and unstaged
    edits stay unstaged. It works on a branch, a detached HEAD and an unborn branch.
    Returns the new commit's id.
    """
    paths = sorted(set(paths))
    if not paths:
        raise GitError("nothing to commit")
    repo = repository.repo
    with tempfile.NamedTemporaryFile("w", delete=False, encoding="utf-8") as handle:
        handle.write(message if message.endswith("\n") else message + "\n")
    staged = _index_entries(repository, paths)
    try:
        # `add -A` records new files and deletions in the index so `--only` knows them.
        try:
            repo.git.add("-A", "--", *paths)
        except GitCommandError as exc:
            _restore_index(repository, paths, staged)
            raise _git_failure("git add", exc) from None
        try:
            repo.git.commit("--only", "--quiet", "--cleanup=strip", "-F", handle.name, "--", *paths)
        except GitCommandError as exc:
            # A hook refused: unstage what `add` staged, so the index is the user's again.
            _restore_index(repository, paths, staged)
            raise _git_failure("git commit", exc) from None
    finally:
        os.unlink(handle.name)
    return repo.head.commit.hexsha


def files_under(commit: git.Commit | None, prefix: str) -> dict[str, tuple[bytes, int]]:
    """Repository-relative path -> (content, mode) of the blobs under ``prefix`` at
    ``commit`` (a file, a folder, or "" for the whole tree); empty when it is not there."""
    if commit is None:
        return {}
    try:
        folder = commit.tree / prefix if prefix else commit.tree
    except KeyError:
        return {}
    if isinstance(folder, git.Blob):
        return {str(folder.path): (folder.data_stream.read(), folder.mode)}
    return {
        str(item.path): (item.data_stream.read(), item.mode)
        for item in folder.traverse()
        if isinstance(item, git.Blob)
    }


def committed_revision(folder: Path) -> str | None:
    """The HEAD commit when everything under ``folder`` is committed (no change, nothing
    untracked); None otherwise, or when ``folder`` is not in a Git work tree."""
    try:
        repo = git.Repo(folder, search_parent_directories=True)
        if repo.bare or repo.is_dirty(untracked_files=True, path=str(folder)):
            return None
        return repo.head.commit.hexsha
    except (InvalidGitRepositoryError, NoSuchPathError, GitCommandError, ValueError):
        return None  # no Git, or no commit yet


def _normalized_remote(url: str) -> str:
    """host/owner/repo of a remote URL, the same for its ssh and https spellings:
    git@github.com:o/r.git, https://user@github.com/o/r and ssh://git@github.com/o/r.git
    all give github.com/o/r; a local path stays a path."""
    url = url.strip().removesuffix("/").removesuffix(".git")
    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", url)
    if scp and "://" not in url:
        return f"{scp.group(1).lower()}/{scp.group(2)}"
    match = re.fullmatch(r"[a-z+]+://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.+)", url)
    if match:
        return f"{match.group(1).lower()}/{match.group(2)}"
    return url


def repository_identity(spec: Path) -> str | None:
    """Which repository and spec a cluster is managed from: the origin remote (normalised)
    and the spec's path in it, e.g. ``github.com/acme/clusters#prod/cluster.yaml``. None
    without Git or without an origin remote: nothing stable to record or compare."""
    try:
        repository = open_repository(spec)
        remote = (
            repository.repo.remotes["origin"].url if "origin" in repository.repo.remotes else None
        )
    except (GitError, GitCommandError, ValueError, IndexError):
        return None
    if not remote:
        return None
    return f"{_normalized_remote(remote)}#{repository.relpath(spec)}"


_NO_ENTRY = "0 " + "0" * 40


def _index_entries(repository: Repository, paths: list[str]) -> dict[str, str]:
    """path -> "mode sha stage" of each of ``paths`` the index holds now."""
    listed = repository.repo.git.ls_files("-s", "-z", "--", *paths)
    entries = {}
    for record in listed.split("\0"):
        if record:
            info, _, path = record.partition("\t")
            entries[path] = info
    return entries


def _restore_index(repository: Repository, paths: list[str], entries: dict[str, str]) -> None:
    """Put the index entries of ``paths`` back as ``_index_entries`` found them (a path
    that had none is removed again); the work tree is not touched."""
    wanted = set(paths) | set(entries)
    records = "".join(f"{entries.get(p, _NO_ENTRY)}\t{p}\0" for p in sorted(wanted))
    with tempfile.TemporaryFile() as stdin:
        stdin.write(records.encode())
        stdin.seek(0)
        repository.repo.git.update_index("-z", "--index-info", istream=stdin)
