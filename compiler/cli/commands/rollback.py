"""kgit rollback REV: apply out/ as it was committed at Git revision REV.

out/ is read from Git's objects at REV, never from the work tree, then planned and applied
exactly like ``kgit apply`` (lock, order, prune rules, wait, history; confirmation unless
``--yes``). The work tree is left alone, so afterwards Git still describes the newer state;
kgit prints how to make Git match.

``--revert`` does that too, after a successful apply: ONE new commit on the current branch
that restores, as they were at REV, the spec file, kgit's files in out/, and everything
under overlays/ and vendor/ beside the spec (files added since REV are removed). History is
not rewritten, and other paths are untouched. These paths must have no uncommitted changes
(checked before anything is applied).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from compiler.cli.commands.apply import add_apply_options, execute
from compiler.cli.commands.common import client_options, locate_spec
from compiler.cli.commands.plan import spec_repository
from compiler.compile import emit
from compiler.core import exitcodes
from compiler.core.errors import GitError, PlanError

if TYPE_CHECKING:
    import git

    from compiler.repo.gitrepo import Repository

RESTORED_DIRS = ("overlays", "vendor")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("revision", metavar="REV", help="the Git revision whose out/ to apply")
    parser.add_argument(
        "--revert",
        action="store_true",
        help="after applying, commit the spec, out/, overlays/ and vendor/ as they were at REV",
    )
    add_apply_options(parser)


def _restore_set(
    repository: Repository, commit: git.Commit, spec_rel: str, out_rel: str
) -> dict[str, tuple[bytes, int] | None]:
    """Path -> content at REV (None: delete it), for every path --revert touches."""
    from compiler.repo.gitrepo import files_under, head_commit

    head = head_commit(repository)
    base = str(PurePosixPath(spec_rel).parent).removeprefix(".")
    prefixes = [spec_rel] + [str(PurePosixPath(base, d)) if base else d for d in RESTORED_DIRS]
    wanted: dict[str, tuple[bytes, int] | None] = {}
    for prefix in [*prefixes, out_rel]:
        then = files_under(commit, prefix)
        now = files_under(head, prefix) if head is not None else {}
        if prefix == out_rel:

            def owned(path: str) -> bool:
                return emit.is_owned(PurePosixPath(path).relative_to(out_rel or ".").as_posix())

            then = {p: v for p, v in then.items() if owned(p)}
            now = {p: v for p, v in now.items() if owned(p)}
        wanted.update({path: None for path in now})
        wanted.update(then)
    return wanted


def _write_restore(root: Path, wanted: dict[str, tuple[bytes, int] | None]) -> None:
    for path, content in sorted(wanted.items()):
        target = root / path
        if content is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content[0])
        target.chmod(0o755 if content[1] & 0o111 else 0o644)


def run(args: argparse.Namespace) -> int:
    from compiler.reconcile.client import connect
    from compiler.reconcile.desired import desired_from_files, read_cluster_name
    from compiler.reconcile.plan import PlanOptions
    from compiler.repo.gitrepo import (
        changed_paths,
        commit_paths,
        open_repository,
        read_owned_out,
        resolve,
    )

    where = locate_spec(args)
    repository = open_repository(Path(args.file))
    commit = resolve(repository, args.revision)
    short = commit.hexsha[:12]
    out_rel = repository.relpath(where.out_dir)
    files = read_owned_out(commit, out_rel)
    if not any(path.startswith("manifests/") for path in files):
        raise GitError(f"revision {args.revision} ({short}) has no compiled {out_rel}/manifests")
    desired = desired_from_files(files)
    if (where.out_dir / "index.json").is_file():
        current = read_cluster_name(where.out_dir)
        if current != desired.cluster_name:
            raise PlanError(
                f"revision {short} compiled cluster {desired.cluster_name!r}, but out/ is "
                f"for {current!r}; refusing to roll back across clusters"
            )
    spec_rel = repository.relpath(Path(args.file))
    restore = _restore_set(repository, commit, spec_rel, out_rel) if args.revert else {}
    dirty = changed_paths(repository, restore)
    if dirty:
        raise GitError(
            f"--revert needs {', '.join(dirty[:3])}{' ...' if len(dirty) > 3 else ''} to have "
            "no uncommitted changes",
            hint="commit or discard them first",
        )

    client = connect(args.kubeconfig, args.context, options=client_options(args, args.parallelism))
    try:
        print(f"Rolling back to out/ of {args.revision} ({short}).", file=sys.stderr)
        options = PlanOptions(
            git_revision=commit.hexsha,
            parallelism=args.parallelism,
            rebuild_inventory=args.rebuild_inventory,
            adopt=args.adopt,
            repository=spec_repository(args),
        )
        code = execute(client, desired, args, plan_options=options)
    finally:
        client.close()

    if args.revert:
        _write_restore(repository.root, restore)
        changed = changed_paths(repository, restore)
        if changed:
            sha = commit_paths(
                repository,
                changed,
                f"Roll back to {short}\n\nRestore {spec_rel}, {out_rel or '.'}/ and "
                f"{', '.join(RESTORED_DIRS)} as they were at {commit.hexsha}, which kgit "
                "rollback applied to the cluster.",
            )
            print(f"Committed {sha[:12]}: Git now matches what the cluster runs.", file=sys.stderr)
        else:
            print("Git already matches what the cluster runs.", file=sys.stderr)
    else:
        print(
            f"The cluster now runs out/ of {short}; Git's work tree still describes the newer "
            f"state. To make Git match: `kgit rollback {args.revision} --revert` (one commit "
            f"restoring {spec_rel} and out/), or `git revert --no-edit {short}..HEAD` and "
            "`kgit compile --check`.",
            file=sys.stderr,
        )
    return code if code else exitcodes.SUCCESS
