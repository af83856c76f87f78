"""out/ against hostile umasks, kills mid-swap, symlinks and core.autocrlf: folders get
fixed modes, out/ never goes missing, leftovers are cleaned, Git keeps out/ byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.compile import emit
from tests.git_helpers import commit_all, copy_example, init_repo, kgit, require_bundled_compile
from tests.test_emit import sample_files, tree_of

REPO = Path(__file__).resolve().parent.parent


def folder_modes(out: Path) -> dict[str, int]:
    return {
        p.relative_to(out).as_posix(): p.stat().st_mode & 0o777
        for p in [out, *out.rglob("*")]
        if p.is_dir()
    }


def test_folders_get_fixed_modes_whatever_the_umask(tmp_path):
    out = tmp_path / "out"
    old = os.umask(0)
    try:
        emit.write_out(out, sample_files())
    finally:
        os.umask(old)
    modes = folder_modes(out)
    assert set(modes) == {".", "hosts", "hosts/n1", "manifests", "manifests/apps"} | {
        "manifests/apps/web"
    }
    assert set(modes.values()) == {0o755}


def test_a_compile_repairs_folder_modes_of_an_otherwise_current_out(tmp_path):
    out = tmp_path / "out"
    emit.write_out(out, sample_files())
    os.chmod(out / "hosts/n1", 0o777)
    emit.write_out(out, sample_files())
    assert set(folder_modes(out).values()) == {0o755}


# A child process that compiles and is killed (os._exit, no cleanup) right after the Nth
# rename or exchange of the swap: what a kill -9 at that instant leaves behind.
KILLER = """
import os, sys
from pathlib import Path
from compiler.compile import emit
from tests.test_emit import sample_files
out, after, exchange = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "exchange"
files = {**sample_files(), "manifests/new.yaml": b"new\\n"}
calls = 0
def killing(real):
    def call(*args, **kwargs):
        global calls
        result = real(*args, **kwargs)
        calls += 1
        if calls == after:
            os._exit(137)
        return result
    return call
os.rename = killing(os.rename)
emit._exchange = killing(emit._exchange) if exchange else (lambda a, b: False)
emit.write_out(out, files)
"""


@pytest.mark.parametrize(
    ("mode", "after", "missing_until_next_run"),
    [
        pytest.param("exchange", 1, False, id="exchange-killed-after-the-swap"),
        pytest.param("renames", 1, True, id="two-renames-killed-between-them"),
        pytest.param("renames", 2, False, id="two-renames-killed-after-both"),
    ],
)
def test_a_kill_during_the_swap_never_loses_out(tmp_path, mode, after, missing_until_next_run):
    if mode == "exchange":
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        if not emit._exchange(tmp_path / "a", tmp_path / "b"):
            pytest.skip("this filesystem cannot exchange two paths (renameat2)")
        (tmp_path / "a").rmdir()
        (tmp_path / "b").rmdir()
    out = tmp_path / "out"
    emit.write_out(out, sample_files())
    (out / "README.md").write_text("mine")
    before = tree_of(out)
    child = subprocess.run(
        [sys.executable, "-c", KILLER, str(out), str(after), mode],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 137, child.stderr
    assert out.exists() is not missing_until_next_run
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "out")
    assert leftovers and all(name.startswith(".out.kgit-") for name in leftovers)

    done = emit.recover_out(out)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert out.is_dir()
    if missing_until_next_run:
        assert tree_of(out) == before  # the old out/, put back whole
        assert done[0].startswith(f"restored {out} from .out.kgit-")
    else:
        assert tree_of(out)["manifests/new.yaml"] == (b"new\n", 0o644)
        assert tree_of(out)["README.md"][0] == b"mine"


def test_the_next_compile_restores_a_missing_out_and_removes_leftovers(tmp_path, capsys):
    require_bundled_compile()
    spec = copy_example(tmp_path)
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0
    out = tmp_path / "out"
    (out / "README.md").write_text("mine")
    os.rename(out, tmp_path / ".out.kgit-abc123.old")  # killed between the two renames
    (tmp_path / ".out.kgit-def456" / "hosts").mkdir(parents=True)  # killed while staging

    run = kgit(capsys, "compile", "-f", str(spec))

    assert run.code == 0
    assert (out / "README.md").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    assert run.err.splitlines()[:2] == [
        f"warning: restored {out} from .out.kgit-abc123.old (an interrupted compile)",
        "warning: removed 1 folder(s) .out.kgit-* left by interrupted compiles",
    ]


def test_a_staging_folder_held_by_a_running_compile_is_left_alone(tmp_path):
    out = tmp_path / "out"
    emit.write_out(out, sample_files())
    busy = tmp_path / ".out.kgit-busy"
    busy.mkdir()
    fd = emit._lock(busy)  # as write_out holds its staging folder
    assert fd is not None
    try:
        assert emit.recover_out(out) == []
        assert busy.is_dir()
    finally:
        os.close(fd)
    assert emit.recover_out(out) == ["removed 1 folder(s) .out.kgit-* left by interrupted compiles"]


def test_an_out_that_is_a_symlink_is_refused_and_left_as_it_is(tmp_path, capsys):
    require_bundled_compile()
    spec = copy_example(tmp_path)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "out").symlink_to(target)
    for argv in (["compile"], ["compile", "--check"]):
        run = kgit(capsys, *argv, "-f", str(spec))
        assert run.code == 1
        assert f"{tmp_path / 'out'} is a symlink; kgit writes out/ as a real folder" in run.err
        assert (tmp_path / "out").is_symlink() and list(target.iterdir()) == []


def test_compile_check_passes_in_a_clone_with_core_autocrlf(tmp_path, capsys):
    require_bundled_compile()
    origin = tmp_path / "origin"
    spec = copy_example(origin)
    assert kgit(capsys, "compile", "-f", str(spec)).code == 0
    commit_all(init_repo(origin), "cluster and out/")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "-c", "core.autocrlf=true", str(origin), str(clone)], check=True
    )
    assert b"\r\n" in (clone / "cluster.yaml").read_bytes()  # autocrlf is at work
    assert b"\r\n" not in (clone / "out/hosts/k8s-master/provision.sh").read_bytes()

    run = kgit(capsys, "compile", "-f", str(clone / "cluster.yaml"), "--check")

    assert run.code == 0, run.err


def test_leftover_staging_folders_are_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", ".out.kgit-abc123/", ".out.kgit-abc123.old/"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [".out.kgit-abc123/", ".out.kgit-abc123.old/"]
