"""The bash programs kgit sends over SSH, run by a local bash: values arrive byte for byte
(quotes, $(...), newlines and all), secrets reach the script's environment and nothing
else, and the facts program is read-only. No SSH here: the programs are plain text."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from compiler.hosts import remote
from compiler.hosts.facts import parse_dry_run, parse_facts

HOSTILE = "x'; touch /tmp/kgit-pwned; echo '$(touch /tmp/kgit-pwned2)`id`\n\\n\"\t"


def run(program: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "KGIT_HOST_ROOT": str(root), "LC_ALL": "C"}
    return subprocess.run(
        ["bash", "-s"],
        input=program,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_the_script_is_installed_byte_for_byte_and_secrets_only_reach_its_environment(
    tmp_path,
):
    script = (
        "#!/usr/bin/env bash\n"
        f"# {HOSTILE.replace(chr(10), ' ')}\n"
        'printf "%s|%s|%s\\n" "$*" "$KGIT_JOIN_TOKEN" "$KGIT_CERT_KEY" >>"$2/../ran"\n'
    )
    secrets = {"KGIT_JOIN_TOKEN": "abcdef.0123456789abcdef", "KGIT_CERT_KEY": HOSTILE}
    root = tmp_path / "root"

    done = run(remote.phases_program(script, ("kernel", "kubeadm"), secrets), root)

    assert done.returncode == 0, done.stderr
    installed = root / "var/lib/kgit/provision.sh"
    assert installed.read_text() == script
    assert oct(installed.stat().st_mode & 0o777) == "0o700"
    ran = (tmp_path / "ran").read_text()
    first = HOSTILE.split(chr(10))[0]
    assert ran.splitlines()[0] == f"--root {root} --phase kernel|abcdef.0123456789abcdef|{first}"
    assert not Path("/tmp/kgit-pwned").exists() and not Path("/tmp/kgit-pwned2").exists()
    assert "0123456789abcdef" not in done.stdout + done.stderr


def test_a_failing_phase_stops_the_rest(tmp_path):
    script = '#!/usr/bin/env bash\n[[ "$4" != kernel ]] || exit 3\necho "$4" >>"$2/../ran"\n'
    done = run(remote.phases_program(script, ("preflight", "kernel", "runtime")), tmp_path / "r")
    assert done.returncode == 3
    assert (tmp_path / "ran").read_text() == "preflight\n"


def test_the_facts_program_reads_and_changes_nothing(tmp_path):
    root = tmp_path / "root"
    (root / "etc/kubernetes").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (root / "etc/kubernetes/kubelet.conf").write_text("x\n")
    script = (
        "#!/usr/bin/env bash\n"
        'echo "[kgit kernel] phase kernel on n1"\n'
        'echo "+ modprobe overlay"\n'
        'echo "[kgit kernel] would write /etc/sysctl.d/k8s.conf (mode 0644):"\n'
        'echo "[kgit kubeadm] phase kubeadm on n1"\n'
        'echo "[kgit kubeadm] unchanged: /etc/kubernetes/kgit/kubeadm.yaml"\n'
    )
    before = sorted(p.relative_to(root) for p in root.rglob("*"))

    done = run(remote.facts_program(script, "debian", ("kubelet",)), root)

    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    facts = parse_facts("n1", done.stdout)
    assert (facts.os_id, facts.os_version, facts.kubelet_conf, facts.admin_conf) == (
        "debian",
        "12",
        True,
        False,
    )
    assert facts.changes == {
        "kernel": ("modprobe overlay", "would write /etc/sysctl.d/k8s.conf (mode 0644)")
    }


def test_dry_run_lines_are_counted_under_their_phase():
    output = (
        "[kgit preflight] phase preflight on w1\n"
        "[kgit preflight] kubelet is running: skipping the port check\n"
        "[kgit kubeadm] phase kubeadm on w1\n"
        "[kgit kubeadm] would write /etc/kubernetes/kgit/kubeadm.yaml (mode 0600):\n"
        "    | kind: JoinConfiguration\n"
        "[kgit kubeadm] warning: missing KGIT_JOIN_TOKEN\n"
        "+ kubeadm join --config <temporary copy>\n"
        "[kgit done] dry run of preflight kubeadm on w1: nothing was changed\n"
    )
    assert parse_dry_run(output) == {
        "kubeadm": (
            "would write /etc/kubernetes/kgit/kubeadm.yaml (mode 0600)",
            "kubeadm join --config <temporary copy>",
        )
    }


def test_the_lock_is_taken_once_and_released_only_by_its_holder(tmp_path):
    root = tmp_path / "root"
    assert run(remote.lock_program("alice token 1"), root).stdout == "acquired\n"
    assert run(remote.lock_program("bob token 2"), root).stdout == "held\nalice token 1\n"
    run(remote.unlock_program("bob token 2"), root)
    assert (root / "var/lib/kgit/hosts-apply.lock").exists()
    run(remote.unlock_program("alice token 1"), root)
    assert not (root / "var/lib/kgit/hosts-apply.lock").exists()
