"""provision.sh, run for real: bash with --root and PATH shims (see tests/hosts_helpers.py).

Each test compiles a spec, runs one node's script against a fake host and checks the calls
it made, the files it wrote and what it printed; running it again must change nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler.compile.render.hosts import render_hosts
from tests.hosts_helpers import (
    CA_HASH,
    CERT_KEY,
    OS_RELEASE,
    TOKEN,
    FakeHost,
    Run,
    cluster_of,
    spec,
)

DEBIAN_CRIO = spec()
RHEL_CONTAINERD = spec(
    os="rhel",
    kubernetes={"version": "1.30.8", "controlPlaneEndpoint": "10.0.0.10:6443"},
    runtime={
        "name": "containerd",
        "registryMirrors": [{"registry": "docker.io", "endpoints": ["https://mirror.example"]}],
    },
    network={"kubeProxyMode": "ipvs"},
)
JOIN_ENV = {"KGIT_JOIN_TOKEN": TOKEN, "KGIT_CA_CERT_HASH": CA_HASH, "KGIT_CERT_KEY": CERT_KEY}


def script_for(tmp_path: Path, document: dict, node: str) -> tuple[Path, dict[str, str]]:
    """Write one node's provision.sh to tmp_path; also return that node's out/ files."""
    files = {
        f.path.removeprefix(f"hosts/{node}/"): f.content
        for f in render_hosts(cluster_of(document))
        if f.path.startswith(f"hosts/{node}/")
    }
    script = tmp_path / f"{node}-provision.sh"
    script.write_text(files["provision.sh"])
    return script, files


def installed_files(out_files: dict[str, str]) -> dict[str, str]:
    """The files/ part of a node's out/: host path -> content."""
    return {p.removeprefix("files"): c for p, c in out_files.items() if p.startswith("files/")}


def without_key_fetch(calls: list[str]) -> list[str]:
    # The signing-key downloads (curl, then gpg --dearmor into a temporary file).
    return [c for c in calls if not c.startswith(("curl ", "gpg "))]


def assert_secret_free(run: Run) -> None:
    for secret in (TOKEN, CA_HASH, CERT_KEY, "zyxwvu.9876543210zyxwvu"):
        assert secret not in run.stdout
        assert secret not in run.stderr


def test_debian_crio_init_node_provisions_then_changes_nothing_on_rerun(tmp_path):
    script, out_files = script_for(tmp_path, DEBIAN_CRIO, "cp1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])

    first = host.run(script, env={"SUDO_USER": "alice"})

    assert first.returncode == 0, first.stderr
    assert without_key_fetch(first.calls) == [
        "swapoff -a",
        "modprobe overlay",
        "modprobe br_netfilter",
        "sysctl --system",
        "apt-get update",
        "apt-get install -y cri-o",
        "systemctl enable --now crio",
        "apt-get update",
        "apt-get install -y --allow-change-held-packages"
        " kubelet=1.31.4-1.1 kubeadm=1.31.4-1.1 kubectl=1.31.4-1.1",
        "apt-mark hold kubelet kubeadm kubectl",
        "systemctl enable --now kubelet",
        "kubeadm init --config /etc/kubernetes/kgit/kubeadm.yaml",
        f"chown 1000:1001 {host.root}/home/alice/.kube {host.root}/home/alice/.kube/config",
    ]
    assert sorted(c for c in first.calls if c.startswith("curl ")) == [
        "curl -fsSL https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v1.31/deb/Release.key",
        "curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key",
    ]
    written = host.files()
    for path, content in installed_files(out_files).items():
        assert written[path] == content, path
    assert written["/etc/kubernetes/kgit/kubeadm.yaml"] == out_files["kubeadm.yaml"]
    assert host.mode("/etc/kubernetes/kgit/kubeadm.yaml") == 0o600
    assert written["/etc/fstab"] == (
        "UUID=1234 / ext4 errors=remount-ro 0 1\n"
        "# kgit: swap off for the kubelet: /swapfile none swap sw 0 0\n"
    )
    assert written["/home/alice/.kube/config"] == "admin kubeconfig\n"
    # kubeadm init's output (with its join command and token) went to a root-only file.
    assert "zyxwvu.9876543210zyxwvu" in written["/var/log/kgit/kubeadm-init.log"]
    assert host.mode("/var/log/kgit/kubeadm-init.log") == 0o600
    assert_secret_free(first)
    assert "kubeadm token create --print-join-command" in first.stdout

    second = host.run(script, env={"SUDO_USER": "alice"})

    assert second.returncode == 0, second.stderr
    assert second.calls == []  # no restart, no re-install, no re-init
    assert host.files() == written
    assert "[kgit preflight] kubelet is running: skipping the port check" in second.stdout
    assert (
        "[kgit kubeadm] already initialised (/etc/kubernetes/admin.conf exists): "
        "skipping kubeadm init" in second.stdout
    )


def test_rhel_containerd_worker_joins_with_secrets_from_the_environment(tmp_path):
    script, out_files = script_for(tmp_path, RHEL_CONTAINERD, "w1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["rhel"])
    (host.root / "etc/selinux").mkdir(parents=True)
    (host.root / "etc/selinux/config").write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")

    first = host.run(script, env=JOIN_ENV)

    assert first.returncode == 0, first.stderr
    assert first.calls == [
        "swapoff -a",
        "setenforce 0",
        "modprobe overlay",
        "modprobe br_netfilter",
        "modprobe ip_vs",
        "modprobe ip_vs_rr",
        "modprobe ip_vs_wrr",
        "modprobe ip_vs_sh",
        "modprobe nf_conntrack",
        "sysctl --system",
        "dnf install -y containerd.io",
        "systemctl enable --now containerd",
        "dnf install -y --disableexcludes=kubernetes kubelet-1.30.8 kubeadm-1.30.8 kubectl-1.30.8",
        "systemctl enable --now kubelet",
        "kubeadm join --config <temporary>",
    ]
    written = host.files()
    for path, content in installed_files(out_files).items():
        assert written[path] == content, path
    assert written["/etc/selinux/config"] == "SELINUX=permissive\nSELINUXTYPE=targeted\n"
    # kubeadm got the configuration with the secrets filled in, in a root-only file...
    joined = (host.state / "kubeadm-config-0.yaml").read_text()
    assert joined == out_files["kubeadm.yaml"].replace("${KGIT_JOIN_TOKEN}", TOKEN).replace(
        "${KGIT_CA_CERT_HASH}", CA_HASH
    )
    assert (host.state / "kubeadm-config-0.mode").read_text().strip() == "600"
    # ...which is gone afterwards, and the secrets were never printed.
    assert list(host.tmp.iterdir()) == []
    assert_secret_free(first)

    second = host.run(script, env=JOIN_ENV)

    assert second.returncode == 0, second.stderr
    assert second.calls == []
    assert host.files() == written
    assert (
        "[kgit kubeadm] already joined (/etc/kubernetes/kubelet.conf exists): "
        "skipping kubeadm join" in second.stdout
    )


def test_containerd_config_change_restarts_the_runtime_once(tmp_path):
    host = FakeHost(tmp_path / "host", OS_RELEASE["rhel"])
    script, _ = script_for(tmp_path, RHEL_CONTAINERD, "w1")
    assert host.run(script, "--phase", "runtime").returncode == 0
    changed = {
        **RHEL_CONTAINERD,
        "spec": {
            **RHEL_CONTAINERD["spec"],
            "runtime": {**RHEL_CONTAINERD["spec"]["runtime"], "cgroupDriver": "cgroupfs"},
        },
    }
    (tmp_path / "new").mkdir()
    new_script, _ = script_for(tmp_path / "new", changed, "w1")

    first = host.run(new_script, "--phase", "runtime")
    second = host.run(new_script, "--phase", "runtime")

    assert first.calls == ["systemctl restart containerd"]
    assert second.calls == []


@pytest.mark.parametrize(
    ("node", "missing_env", "message"),
    [
        pytest.param(
            "w1",
            {},
            "[kgit kubeadm] error: missing KGIT_JOIN_TOKEN KGIT_CA_CERT_HASH in the environment: "
            "on the first control-plane node, 'kubeadm token create --print-join-command' prints "
            "the token (after --token) and the CA cert hash (after "
            "--discovery-token-ca-cert-hash); export them and run: "
            "sudo --preserve-env=KGIT_JOIN_TOKEN,KGIT_CA_CERT_HASH {script} --phase kubeadm\n",
            id="worker-without-anything",
        ),
        pytest.param(
            "cp2",
            {"KGIT_JOIN_TOKEN": TOKEN, "KGIT_CA_CERT_HASH": CA_HASH},
            "[kgit kubeadm] error: missing KGIT_CERT_KEY in the environment: on the first "
            "control-plane node, 'kubeadm token create --print-join-command' prints the token "
            "(after --token) and the CA cert hash (after --discovery-token-ca-cert-hash), and "
            "'kubeadm init phase upload-certs --upload-certs' prints the certificate key "
            "(KGIT_CERT_KEY); export them and run: sudo "
            "--preserve-env=KGIT_JOIN_TOKEN,KGIT_CA_CERT_HASH,KGIT_CERT_KEY {script} "
            "--phase kubeadm\n",
            id="control-plane-without-certificate-key",
        ),
    ],
)
def test_join_without_secrets_fails_naming_the_commands_that_print_them(
    tmp_path, node, missing_env, message
):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, node)
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])

    run = host.run(script, "--phase", "kubeadm", env=missing_env)

    assert run.returncode == 1
    assert run.stderr == message.format(script=script)
    assert run.calls == []
    assert_secret_free(run)


def test_malformed_token_is_rejected_without_showing_it(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "w1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])

    run = host.run(
        script,
        "--phase",
        "kubeadm",
        env={"KGIT_JOIN_TOKEN": "NOT-A-TOKEN-secretvalue", "KGIT_CA_CERT_HASH": CA_HASH},
    )

    assert run.returncode == 1
    assert run.stderr == (
        "[kgit kubeadm] error: KGIT_JOIN_TOKEN is not a bootstrap token "
        "([a-z0-9]{6}.[a-z0-9]{16}; value not shown)\n"
    )
    assert "secretvalue" not in run.stdout + run.stderr


def test_dry_run_prints_the_plan_masks_secrets_and_touches_nothing(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "cp2")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])
    before = host.files()

    run = host.run(script, "--dry-run", env={**JOIN_ENV, "SHIM_UID": "1000"})

    assert run.returncode == 0, run.stderr
    assert run.calls == []
    assert host.files() == before
    assert "[kgit kernel] would write /etc/sysctl.d/k8s.conf (mode 0644):" in run.stdout
    assert "    | net.ipv4.ip_forward = 1" in run.stdout
    assert "+ modprobe br_netfilter" in run.stdout
    assert "+ env DEBIAN_FRONTEND=noninteractive apt-get install -y cri-o" in run.stdout
    assert (
        "KGIT_JOIN_TOKEN=********, KGIT_CA_CERT_HASH=********, KGIT_CERT_KEY=********" in run.stdout
    )
    assert "not running as root: fine for --dry-run" in run.stderr
    assert_secret_free(run)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            (),
            {"SHIM_UID": "1000"},
            "[kgit start] error: run as root (sudo {script})\n",
            id="not-root",
        ),
        pytest.param(
            ("--phase", "bogus"),
            {},
            "[kgit start] error: unknown phase 'bogus'; phases: "
            "preflight kernel runtime packages kubeadm post\n",
            id="unknown-phase",
        ),
    ],
)
def test_refuses_to_start(tmp_path, args, env, message):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "w1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])

    run = host.run(script, *args, env=env)

    assert (run.returncode, run.stderr, run.calls) == (1, message.format(script=script), [])


def test_refuses_a_host_of_another_os_family(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "w1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["rhel"])

    run = host.run(script)

    assert run.returncode == 1
    assert run.stderr == (
        "[kgit start] error: this script is for the debian family (spec.nodes: w1), "
        "but /etc/os-release says: rocky rhel centos fedora\n"
    )
    assert run.calls == []


def test_ubuntu_counts_as_the_debian_family(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "w1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["ubuntu"])

    assert host.run(script, "--phase", "kernel").returncode == 0


def test_preflight_names_busy_ports(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "cp1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"], swap=False)
    (host.state / "listening").write_text(
        "LISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*\nLISTEN 0 4096 *:6443 *:*\n"
        "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n"
    )

    run = host.run(script, "--phase", "preflight")

    assert run.returncode == 1
    assert run.stderr == (
        "[kgit preflight] error: port(s) 6443 2379 already in use; a control-plane node "
        "needs 6443 2379 2380 10250 10257 10259 free (see: ss -tlnp)\n"
    )


def test_kernel_phase_fails_loudly_when_br_netfilter_does_not_load(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "w1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])
    # A kernel without the module: modprobe "succeeds" but nothing appears in /sys/module.
    (host.bin / "modprobe").write_text("#!/usr/bin/env bash\nexit 0\n")

    run = host.run(script, "--phase", "kernel")

    assert run.returncode == 1
    assert re.fullmatch(
        r"\[kgit kernel\] error: br_netfilter is not loaded .*reply from unexpected source'\n",
        run.stderr,
    )
    assert "replies from pods are not un-NATed" in run.stderr


# What each phase does alone on a fresh debian + CRI-O host (init node cp1), by hand from the
# phase descriptions in docs/hosts.md: the calls it makes (key downloads aside) and the files
# it writes. Nothing of any other phase may happen.
PHASES_ALONE = [
    pytest.param("preflight", ["swapoff -a"], {"/etc/fstab", "/proc/swaps"}, id="preflight"),
    pytest.param(
        "kernel",
        ["modprobe overlay", "modprobe br_netfilter", "sysctl --system"],
        {"/etc/modules-load.d/k8s.conf", "/etc/sysctl.d/k8s.conf"},
        id="kernel",
    ),
    pytest.param(
        "runtime",
        ["apt-get update", "apt-get install -y cri-o", "systemctl enable --now crio"],
        {
            "/etc/apt/keyrings/cri-o-apt-keyring.gpg",
            "/etc/apt/sources.list.d/cri-o.list",
            "/etc/crio/crio.conf.d/10-kgit.conf",
        },
        id="runtime",
    ),
    pytest.param(
        "packages",
        [
            "apt-get update",
            "apt-get install -y --allow-change-held-packages"
            " kubelet=1.31.4-1.1 kubeadm=1.31.4-1.1 kubectl=1.31.4-1.1",
            "apt-mark hold kubelet kubeadm kubectl",
            "systemctl enable --now kubelet",
        ],
        {"/etc/apt/keyrings/kubernetes-apt-keyring.gpg", "/etc/apt/sources.list.d/kubernetes.list"},
        id="packages",
    ),
    pytest.param(
        "kubeadm",
        ["kubeadm init --config /etc/kubernetes/kgit/kubeadm.yaml"],
        {
            "/etc/kubernetes/kgit/kubeadm.yaml",
            "/var/log/kgit/kubeadm-init.log",
            # written by the kubeadm shim, as the real kubeadm init would
            "/etc/kubernetes/admin.conf",
            "/etc/kubernetes/kubelet.conf",
        },
        id="kubeadm",
    ),
]


@pytest.mark.parametrize(("phase", "calls", "written"), PHASES_ALONE)
def test_each_phase_runs_alone_and_dry_run_of_it_touches_nothing(tmp_path, phase, calls, written):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "cp1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])
    before = host.files()

    dry = host.run(script, "--phase", phase, "--dry-run", env={"SUDO_USER": "alice"})

    assert dry.returncode == 0, dry.stderr
    assert (dry.calls, host.files()) == ([], before)
    tags = {line.split("]")[0] for line in dry.stdout.splitlines() if line.startswith("[kgit ")}
    assert tags == {f"[kgit {phase}", "[kgit done"}

    run = host.run(script, "--phase", phase, env={"SUDO_USER": "alice"})

    assert run.returncode == 0, run.stderr
    assert without_key_fetch(run.calls) == calls
    after = host.files()
    assert {path for path in after if before.get(path) != after[path]} == written


def test_post_phase_alone_needs_kubeadm_first_then_installs_the_admin_kubeconfig(tmp_path):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "cp1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])

    early = host.run(script, "--phase", "post", env={"SUDO_USER": "alice"})

    assert (early.returncode, early.calls) == (1, [])
    assert early.stderr == (
        "[kgit post] error: /etc/kubernetes/admin.conf not found: run the kubeadm phase first\n"
    )

    (host.root / "etc/kubernetes").mkdir(parents=True)
    (host.root / "etc/kubernetes/admin.conf").write_text("admin kubeconfig\n")
    run = host.run(script, "--phase", "post", env={"SUDO_USER": "alice"})

    assert run.returncode == 0, run.stderr
    assert run.calls == [
        f"chown 1000:1001 {host.root}/home/alice/.kube {host.root}/home/alice/.kube/config"
    ]
    assert host.files()["/home/alice/.kube/config"] == "admin kubeconfig\n"


KUBE_KEYRING = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param(
            {"SHIM_CURL_CUT": "1"},
            "[kgit packages] error: could not download the signing key "
            "https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key; nothing was installed, "
            "re-run to retry",
            id="download-cut-short",
        ),
        pytest.param(
            {"SHIM_GPG_BAD": "1"},
            "[kgit packages] error: https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key is "
            "not an OpenPGP key (gpg --dearmor failed); nothing was installed",
            id="not-a-key",
        ),
    ],
)
def test_a_failed_key_download_leaves_no_keyring_and_the_rerun_fetches_it(tmp_path, fault, message):
    script, _ = script_for(tmp_path, DEBIAN_CRIO, "cp1")
    host = FakeHost(tmp_path / "host", OS_RELEASE["debian"])

    broken = host.run(script, "--phase", "packages", env=fault)

    assert broken.returncode == 1
    assert message in broken.stderr.splitlines()
    keyrings = host.root / "etc/apt/keyrings"
    assert not keyrings.exists() or sorted(p.name for p in keyrings.iterdir()) == []
    assert list(host.tmp.iterdir()) == []  # no temporary file left behind

    fixed = host.run(script, "--phase", "packages")

    assert fixed.returncode == 0, fixed.stderr
    assert f"[kgit packages] unchanged: {KUBE_KEYRING}" not in fixed.stdout
    assert host.files()[KUBE_KEYRING] == (
        "dearmored\narmored key for https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key\n"
    )
    assert host.mode(KUBE_KEYRING) == 0o644
