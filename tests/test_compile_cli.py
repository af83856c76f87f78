"""`kgit compile` and `kgit compile --check` through compiler.cli.app.main, with exact messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from compiler.cli.app import main
from tests.hosts_helpers import CA_HASH, CERT_KEY, TOKEN, spec

PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
)
SECRET_ENV = {
    "KGIT_JOIN_TOKEN": TOKEN,
    "KGIT_CA_CERT_HASH": CA_HASH,
    "KGIT_CERT_KEY": CERT_KEY,
    "DB_PASSWORD": "s3cr3t-db-password-value",
    "TLS_KEY": PRIVATE_KEY,
    "API_TOKEN": "qwerty.0123456789qwerty",
}


def write_spec(directory: Path, **overrides) -> Path:
    document = spec(
        secrets=[
            {"name": "db", "namespace": "prod", "fromEnv": {"password": "DB_PASSWORD"}},
            {
                "name": "tls",
                "namespace": "prod",
                "type": "kubernetes.io/tls",
                "fromEnv": {"tls.key": "TLS_KEY", "tls.crt": "TLS_CERT", "token": "API_TOKEN"},
            },
        ],
        **overrides,
    )
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def compiled(tmp_path, capsys) -> Path:
    """A spec compiled once into tmp_path/out."""
    spec_file = write_spec(tmp_path)
    assert main(["compile", "-f", str(spec_file)]) == 0
    capsys.readouterr()
    return tmp_path


def check(directory: Path, capsys) -> tuple[int, str, str]:
    code = main(["compile", "-f", str(directory / "cluster.yaml"), "--check"])
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_twice_gives_byte_identical_out(compiled, capsys):
    first = snapshot(compiled / "out")

    assert main(["compile", "-f", str(compiled / "cluster.yaml")]) == 0

    assert snapshot(compiled / "out") == first
    out = capsys.readouterr().out
    assert out.startswith(
        f"compiled {compiled}/cluster.yaml -> {compiled}/out: {len(first)} files, "
    )
    assert out.endswith(" objects, 0 changed\n")
    assert "hosts/cp1/provision.sh" in first


def test_output_does_not_depend_on_how_the_spec_path_is_spelled(compiled, monkeypatch, capsys):
    first = snapshot(compiled / "out")
    monkeypatch.chdir(compiled)
    assert main(["compile", "-f", "./cluster.yaml"]) == 0
    assert main(["compile"]) == 0
    assert snapshot(compiled / "out") == first


def test_check_passes_when_out_is_fresh(compiled, capsys):
    count = len(snapshot(compiled / "out"))
    assert check(compiled, capsys) == (0, f"{compiled}/out is up to date ({count} files)\n", "")


def test_check_lists_a_hand_edit_a_deleted_file_and_an_extra_file(compiled, capsys):
    out = compiled / "out"
    script = out / "hosts/w1/provision.sh"
    script.write_text(script.read_text().replace("set -euo pipefail", "set -eu"))
    (out / "hosts/cp2/kubeadm.yaml").unlink()
    (out / "hosts/old-node").mkdir()
    (out / "hosts/old-node/provision.sh").write_text("#!/bin/sh\n")
    (out / "NOTES.md").write_text("not kgit's: never reported\n")

    code, stdout, stderr = check(compiled, capsys)

    assert (code, stdout) == (1, "")
    assert stderr == (
        "stale: out/hosts/cp2/kubeadm.yaml: missing\n"
        "stale: out/hosts/old-node/provision.sh: extra (no longer generated)\n"
        "stale: out/hosts/w1/provision.sh: changed (edited by hand, or cluster.yaml changed)\n"
        f"{out} is stale: 3 file(s) differ; run `kgit compile`\n"
    )


def test_check_flags_a_script_that_lost_its_exec_bit_and_compile_restores_it(compiled, capsys):
    out = compiled / "out"
    (out / "hosts/w1/provision.sh").chmod(0o644)
    (out / "hosts/w1/kubeadm.yaml").chmod(0o755)

    code, stdout, stderr = check(compiled, capsys)

    assert (code, stdout) == (1, "")
    assert stderr == (
        "stale: out/hosts/w1/kubeadm.yaml: executable, but should not be\n"
        "stale: out/hosts/w1/provision.sh: not executable (chmod +x, or run `kgit compile`)\n"
        f"{out} is stale: 2 file(s) differ; run `kgit compile`\n"
    )
    assert main(["compile", "-f", str(compiled / "cluster.yaml")]) == 0
    assert (out / "hosts/w1/provision.sh").stat().st_mode & 0o777 == 0o755
    assert (out / "hosts/w1/kubeadm.yaml").stat().st_mode & 0o777 == 0o644
    capsys.readouterr()
    assert check(compiled, capsys)[0] == 0


def test_compile_repairs_what_check_found_and_keeps_user_files(compiled, capsys):
    out = compiled / "out"
    fresh = snapshot(out)
    (out / "hosts/cp2/kubeadm.yaml").unlink()
    (out / "hosts/old-node").mkdir()
    (out / "hosts/old-node/provision.sh").write_text("#!/bin/sh\n")
    (out / "NOTES.md").write_text("mine\n")

    assert main(["compile", "-f", str(compiled / "cluster.yaml")]) == 0

    assert snapshot(out) == {**fresh, "NOTES.md": b"mine\n"}
    assert check(compiled, capsys)[0] == 0


def test_check_on_a_spec_change_names_the_changed_host_files(compiled, capsys):
    document = yaml.safe_load((compiled / "cluster.yaml").read_text())
    document["spec"]["network"]["kubeProxyMode"] = "ipvs"
    (compiled / "cluster.yaml").write_text(yaml.safe_dump(document))

    code, _, stderr = check(compiled, capsys)

    assert code == 1
    assert "stale: out/hosts/cp1/files/etc/modules-load.d/k8s.conf: changed" in stderr
    assert "stale: out/hosts/cp1/kubeadm.yaml: changed" in stderr


TOKEN_FORMAT = re.compile(rb"[a-z0-9]{6}\.[a-z0-9]{16}")


def test_no_secret_reaches_out_even_when_the_environment_holds_them(tmp_path, monkeypatch, capsys):
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    spec_file = write_spec(tmp_path)

    assert main(["compile", "-f", str(spec_file)]) == 0

    files = snapshot(tmp_path / "out")
    assert any(p.startswith("manifests/secrets/") for p in files)
    assert b"${KGIT_JOIN_TOKEN}" in files["hosts/w1/kubeadm.yaml"]
    for path, data in files.items():
        assert not TOKEN_FORMAT.search(data), path
        assert b"-----BEGIN" not in data, path
        for value in SECRET_ENV.values():
            assert value.encode() not in data, path
    captured = capsys.readouterr()
    for value in SECRET_ENV.values():
        assert value not in captured.out + captured.err
