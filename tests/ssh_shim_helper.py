"""The Python half of the test nodes' shims: kubeadm, and the kubelet restart.

Run on a test node (through sshd) as ``python ssh_shim_helper.py kubeadm ARGS...`` or
``... kubelet-restarted``. It plays what the real kubeadm and kubelet do to the world that
kgit observes: files under the node's root (admin.conf, kubelet.conf, the CA certificate,
the API server's static pod manifest) and the Node object in the test API server. It also
checks what a real kubeadm would check: a join's bootstrap token exists as a Secret in the
API server, its CA hash is the cluster CA's, and a control-plane join's certificate key is
the one uploaded with ``kubeadm init phase upload-certs``.

Environment (set per node by the test sshd's ``SetEnv``): SHIM_ROOT, SHIM_STATE, SHIM_NODE,
SHIM_CLUSTER (state shared by the nodes of one test cluster), SHIM_LOG (one log line per
call of every node, in the order they happened).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(os.environ.get("SHIM_ROOT", "/nonexistent"))
STATE = Path(os.environ.get("SHIM_STATE", "/nonexistent"))
CLUSTER = Path(os.environ.get("SHIM_CLUSTER", "/nonexistent"))
NODE = os.environ.get("SHIM_NODE", "?")


def log(line: str) -> None:
    """One line in the node's calls.log and in the cluster-wide ordered log."""
    with open(STATE / "calls.log", "a") as handle:
        handle.write(line + "\n")
    with open(os.environ["SHIM_LOG"], "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(f"{NODE}: {line}\n")


def record_argv() -> None:
    """Every process's argv on this machine, for the test that greps them for secrets."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            lines.append(raw.replace(b"\0", b" ").decode(errors="replace"))
    with open(CLUSTER / "argv.log", "a") as handle:
        handle.write("\n".join(lines) + "\n")


def api_url() -> str:
    config = yaml.safe_load((CLUSTER / "admin.conf").read_text())
    return config["clusters"][0]["cluster"]["server"]


def api(method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api_url() + path, data=data, method=method)
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def installed(package: str) -> str:
    path = STATE / "pkg" / package
    return path.read_text().strip() if path.exists() else ""


def upstream(version: str) -> str:
    return version.split("-", 1)[0]


def register_node(registration: dict[str, Any]) -> None:
    """What the kubelet does when it first starts: create its Node with labels and taints."""
    labels = {"kubernetes.io/hostname": registration["name"]}
    args = registration.get("kubeletExtraArgs") or []
    pairs = args.items() if isinstance(args, dict) else ((a["name"], a["value"]) for a in args)
    for name, value in pairs:
        if name == "node-labels":
            for item in value.split(","):
                key, _, val = item.partition("=")
                labels[key] = val
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": registration["name"], "labels": labels},
        "spec": {"taints": registration.get("taints") or []},
        "status": {"nodeInfo": {"kubeletVersion": "v" + upstream(installed("kubelet"))}},
    }
    if not body["spec"]["taints"]:
        del body["spec"]["taints"]
    api("POST", "/api/v1/nodes", body)
    set_kubelet_version(body["status"]["nodeInfo"]["kubeletVersion"])


def set_kubelet_version(version: str) -> None:
    api(
        "PATCH",
        f"/api/v1/nodes/{NODE}/status",
        {"status": {"nodeInfo": {"kubeletVersion": version}}},
        "application/merge-patch+json",
    )


def cordoned() -> bool:
    node = api("GET", f"/api/v1/nodes/{NODE}") or {}
    return bool(node.get("spec", {}).get("unschedulable"))


def write_manifest(version: str) -> None:
    manifests = ROOT / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / "kube-apiserver.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\nspec:\n  containers:\n"
        f"  - name: kube-apiserver\n    image: registry.example/kube-apiserver:{version}\n"
    )


def config_documents(path: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if path == "/dev/stdin" else Path(path).read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def fail_if_asked(step: str) -> None:
    if (STATE / f"fail-{step}").exists():
        print(f"[shim] {step} failed (injected)", file=sys.stderr)
        sys.exit(1)


def kubeadm_init(config_path: str) -> None:
    documents = config_documents(config_path)
    init = next(d for d in documents if d["kind"] == "InitConfiguration")
    cluster = next(d for d in documents if d["kind"] == "ClusterConfiguration")
    if (ROOT / "etc/kubernetes/manifests/kube-vip.yaml").exists():
        log("(kube-vip's static pod is in place before kubeadm init)")
    log(f"kubeadm init --config {config_path.removeprefix(str(ROOT))}")
    kube = ROOT / "etc/kubernetes"
    (kube / "pki").mkdir(parents=True, exist_ok=True)
    (kube / "admin.conf").write_text((CLUSTER / "admin.conf").read_text())
    (kube / "kubelet.conf").write_text("kubelet kubeconfig\n")
    (kube / "pki/ca.crt").write_text((CLUSTER / "ca.crt").read_text())
    write_manifest(cluster["kubernetesVersion"])
    (CLUSTER / "control-plane-version").write_text(cluster["kubernetesVersion"])
    register_node(init["nodeRegistration"])
    print("Your Kubernetes control-plane has initialized successfully!")


def kubeadm_upload_certs(config_path: str) -> None:
    documents = config_documents(config_path)
    init = next(d for d in documents if d["kind"] == "InitConfiguration")
    key = init.get("certificateKey", "")
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        print("[shim] upload-certs: no certificateKey in the configuration", file=sys.stderr)
        sys.exit(1)
    (CLUSTER / "certificate-key.sha256").write_text(hashlib.sha256(key.encode()).hexdigest())
    log("kubeadm init phase upload-certs --upload-certs --config " + config_path)


def check_token(token: str) -> str | None:
    token_id, _, secret = token.partition(".")
    stored = api("GET", f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}")
    if stored is None:
        return "no bootstrap token Secret with this id"
    import base64

    data = {k: base64.b64decode(v).decode() for k, v in stored.get("data", {}).items()}
    if data.get("token-secret") != secret:
        return "the token's secret does not match"
    if data.get("usage-bootstrap-authentication") != "true":
        return "the token cannot be used for authentication"
    expires = data.get("expiration", "")
    if not expires or datetime.fromisoformat(expires.replace("Z", "+00:00")) < datetime.now(UTC):
        return "the token has expired"
    return None


def kubeadm_join(config_path: str) -> None:
    record_argv()
    join = next(d for d in config_documents(config_path) if d["kind"] == "JoinConfiguration")
    discovery = join["discovery"]["bootstrapToken"]
    problem = check_token(discovery["token"])
    if problem is None and discovery["caCertHashes"] != [(CLUSTER / "ca.hash").read_text()]:
        problem = "the CA certificate hash is not the cluster CA's"
    control_plane = "controlPlane" in join
    if problem is None and control_plane:
        uploaded = CLUSTER / "certificate-key.sha256"
        key = join["controlPlane"].get("certificateKey", "")
        if not uploaded.exists() or hashlib.sha256(key.encode()).hexdigest() != (
            uploaded.read_text()
        ):
            problem = "the certificate key is not the uploaded one"
    if problem:
        print(f"[shim] kubeadm join refused: {problem}", file=sys.stderr)
        sys.exit(1)
    fail_if_asked("join")
    shown = "<temporary>" if not config_path.startswith(str(ROOT)) else config_path
    log(f"kubeadm join --config {shown}")
    kube = ROOT / "etc/kubernetes"
    (kube / "pki").mkdir(parents=True, exist_ok=True)
    (kube / "kubelet.conf").write_text("kubelet kubeconfig\n")
    (kube / "pki/ca.crt").write_text((CLUSTER / "ca.crt").read_text())
    if control_plane:
        (kube / "admin.conf").write_text((CLUSTER / "admin.conf").read_text())
        manifest = (CLUSTER / "control-plane-version").read_text().strip()
        write_manifest(manifest)
    register_node(join["nodeRegistration"])


def record_cordoned() -> None:
    """How many Nodes are cordoned while this one upgrades (maxUnavailable's oracle)."""
    nodes = (api("GET", "/api/v1/nodes") or {}).get("items", [])
    count = sum(1 for n in nodes if (n.get("spec") or {}).get("unschedulable"))
    with open(CLUSTER / "cordoned-during-upgrades", "a") as handle:
        handle.write(f"{NODE} {count}\n")


def kubeadm_upgrade(args: list[str]) -> None:
    fail_if_asked("upgrade")
    record_cordoned()
    if (STATE / "slow-upgrade").exists():
        time.sleep(1.5)  # an upgrade that takes a while: the others run meanwhile
    state = "cordoned" if cordoned() else "schedulable"
    if args[0] == "apply":
        version = next(a for a in args[1:] if a.startswith("v"))
        if upstream(installed("kubeadm")) != version.removeprefix("v"):
            print(f"[shim] kubeadm {installed('kubeadm')} cannot apply {version}", file=sys.stderr)
            sys.exit(1)
        write_manifest(version)
        (CLUSTER / "control-plane-version").write_text(version)
        log(f"kubeadm upgrade apply {version} ({state})")
    else:
        if (ROOT / "etc/kubernetes/admin.conf").exists():
            write_manifest("v" + upstream(installed("kubeadm")))
        log(f"kubeadm upgrade node ({state})")


def kubeadm(args: list[str]) -> None:
    config = args[args.index("--config") + 1] if "--config" in args else ""
    if args[:1] == ["init"] and "phase" not in args:
        kubeadm_init(config)
    elif args[:4] == ["init", "phase", "upload-certs", "--upload-certs"]:
        kubeadm_upload_certs(config)
    elif args[:1] == ["join"]:
        kubeadm_join(config)
    elif args[:1] == ["upgrade"]:
        kubeadm_upgrade(args[1:])
    else:
        log("kubeadm " + " ".join(args))


def kubelet_restarted() -> None:
    """The restarted kubelet reports its (new) version on its Node."""
    if not (ROOT / "etc/kubernetes/kubelet.conf").exists():
        return
    set_kubelet_version("v" + upstream(installed("kubelet")))


def main(argv: list[str]) -> None:
    if argv[0] == "kubeadm":
        kubeadm(argv[1:])
    elif argv[0] == "kubelet-restarted":
        kubelet_restarted()


if __name__ == "__main__":
    main(sys.argv[1:])
