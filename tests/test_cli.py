"""The kgit command: exit codes, messages, --debug, --help, --version and start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import __version__
from compiler.cli.app import COMMANDS, main
from compiler.core.errors import SpecError

BAD_SPEC = "apiVersion: v1\nkind: Cluster\nmetadata: {name: lab}\nspec: {}\n"


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_validate_accepts_the_bundled_cluster_yaml(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = repo_root / "cluster.yaml"
    assert main(["validate", "-f", str(spec)]) == 0
    assert capsys.readouterr().out == f"{spec}: valid (3 nodes, 1 apps)\n"


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([str(Path(sys.executable).parent / "kgit")], id="console-script"),
        pytest.param([sys.executable, "-m", "compiler"], id="python-m-compiler"),
    ],
)
def test_validate_in_a_subprocess_exits_0_on_the_bundled_spec(
    repo_root: Path, command: list[str]
) -> None:
    if not Path(command[0]).exists():
        pytest.skip(f"{command[0]} is not installed")
    result = _run(*command, "validate", "-f", "cluster.yaml", cwd=repo_root)
    assert (result.returncode, result.stdout) == (0, "cluster.yaml: valid (3 nodes, 1 apps)\n")
    assert "Traceback" not in result.stderr


def test_invalid_spec_in_a_subprocess_exits_1_with_located_errors(tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text(BAD_SPEC)
    result = _run(sys.executable, "-m", "compiler", "validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: cluster.yaml:1:13: apiVersion: must be 'kgit.dev/v1alpha1', not 'v1'",
        "error: cluster.yaml:4:1: spec: missing required key 'kubernetes'",
        "error: cluster.yaml:4:1: spec: missing required key 'nodes'",
        "3 errors found",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--debug", "validate"], id="debug-before-the-command"),
        pytest.param(["validate", "--debug"], id="debug-after-the-command"),
    ],
)
def test_debug_lets_the_exception_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    (tmp_path / "cluster.yaml").write_text(BAD_SPEC)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError):
        main(argv)


def test_kgit_debug_environment_variable_lets_the_exception_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cluster.yaml").write_text(BAD_SPEC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KGIT_DEBUG", "1")
    with pytest.raises(SpecError):
        main(["validate"])


def _explode(*_args: object) -> None:
    raise RuntimeError("boom\nwith a second line")


def test_internal_error_is_one_line_without_traceback(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import compiler.cli.commands.validate as validate_command

    monkeypatch.setattr(validate_command, "load_spec", _explode)
    assert main(["validate", "-f", str(repo_root / "cluster.yaml")]) == 1
    assert capsys.readouterr().err == (
        "error: internal error: RuntimeError: boom with a second line; "
        "run with --debug for the traceback\n"
    )


def test_internal_error_with_debug_shows_the_traceback(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compiler.cli.commands.validate as validate_command

    monkeypatch.setattr(validate_command, "load_spec", _explode)
    with pytest.raises(RuntimeError, match="boom"):
        main(["validate", "--debug", "-f", str(repo_root / "cluster.yaml")])


def test_usage_error_exits_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    # 2 means "changes present" in kgit; a usage error is an error.
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--no-such-option"])
    assert caught.value.code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: unrecognized arguments: --no-such-option"
    )


def test_unknown_command_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 1
    assert "error: argument COMMAND: invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1
    assert capsys.readouterr().out.startswith("usage: kgit ")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"kgit {__version__}\n"


def test_help_describes_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name, info in COMMANDS.items():
        assert f"{name} {info.summary}" in text, name


@pytest.mark.parametrize("name", ["validate", "schema"])
def test_command_help_shows_its_summary(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([name, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: kgit {name} [-h] [--debug]")
    assert COMMANDS[name].summary in out


def test_validate_help_documents_the_file_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    assert "-f FILE, --file FILE" in capsys.readouterr().out


STARTUP_PROBE = """
import sys
from compiler.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print({name: name in sys.modules for name in ("kubernetes", "rich")}, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(["validate", "-f", "cluster.yaml"], id="validate"),
        pytest.param(["schema"], id="schema"),
        pytest.param(["compile", "--check"], id="compile-check"),
        pytest.param(["diff", "--demo"], id="diff"),
    ],
)
def test_fast_commands_do_not_import_heavy_packages(repo_root: Path, argv: list[str]) -> None:
    # The kubernetes client alone costs about 0.3 s of start-up; rich (colour, progress)
    # is not needed to check a spec either.
    result = _run(sys.executable, "-c", STARTUP_PROBE, *argv, cwd=repo_root)
    imported = result.stderr.splitlines()[-1]
    assert imported == "{'kubernetes': False, 'rich': False}"


def test_schema_command_output_is_json(repo_root: Path) -> None:
    result = _run(sys.executable, "-m", "compiler", "schema", cwd=repo_root)
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "kgit Cluster"
