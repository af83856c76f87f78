"""A real Kubernetes control plane on 127.0.0.1, as processes the tests start and stop.

etcd, kube-apiserver (token authentication, RBAC, a CA made by ``pki``),
kube-controller-manager, kube-scheduler and KWOK (which keeps the Nodes this module
registers alive and drives Pods through ``kwok.yaml``'s stages). Every process writes
its log into the work directory; a start-up failure raises with the log's tail.

``RealCluster`` has the shape of the in-repo test server (``tests/apiserver``) where
tests touch it: ``url``, ``kubeconfig``, ``get``, ``create``, ``objects``, so a test can
take either through one parameter. ``reset`` returns the cluster to the state it had
after start-up, between tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
import yaml

from tests.realcluster.pki import Pki, write_pki

Obj = dict[str, Any]
HERE = Path(__file__).resolve().parent
KWOK_CONFIG = HERE / "kwok.yaml"
NODES = 2  # DaemonSets run one pod on each
SERVICE_CIDR = "10.96.0.0/16"
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
# What reset never deletes: objects controllers keep rewriting (events, node
# heartbeats) and kinds a test cannot create through kgit.
RESET_SKIPS = frozenset(
    {
        "events",
        "nodes",
        "namespaces",
        "leases@kube-node-lease",
        "componentstatuses",
        "bindings",
        "tokenreviews",
        "selfsubjectreviews",
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "subjectaccessreviews",
        "localsubjectaccessreviews",
        "certificatesigningrequests",
    }
)


PR_SET_PDEATHSIG = 1


# Every HTTP(S) request a component makes to anything but 127.0.0.1 goes to a closed
# loopback port: an aggregated APIService or a Service a test names must never send
# the apiserver off the machine (it resolves service names with the host's DNS).
LOOPBACK_ONLY = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
}


class StartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Component:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def write_kubeconfig(path: Path, url: str, ca: Path, token: str, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {"name": "real", "cluster": {"server": url, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "real", "context": {"cluster": "real", "user": user, "namespace": "default"}}
        ],
        "current-context": "real",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class ApiResource:
    group_version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    def path(self, namespace: str = "", name: str = "") -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        where = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        tail = f"/{quote(name)}" if name else ""
        return f"{prefix}{where}/{self.plural}{tail}"


@dataclass
class RealCluster:
    """A running control plane: ``url``, ``kubeconfig`` (cluster admin, a token user in
    system:masters), ``bin_dir`` (its binaries, kubectl included)."""

    url: str
    kubeconfig: Path
    bin_dir: Path
    ca: Path
    token: str
    components: list[Component]
    real: bool = True
    _http: urllib3.PoolManager = field(init=False, repr=False)
    _baseline: set[tuple[str, str, str]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self._http = urllib3.PoolManager(ca_certs=str(self.ca), maxsize=4)

    # -- raw requests --------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> tuple[int, Obj]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        target = self.url + path + (f"?{urlencode(query)}" if query else "")
        response = self._http.request(
            method, target, body=data, headers=headers, timeout=30.0, retries=False
        )
        try:
            payload = json.loads(response.data) if response.data else {}
        except ValueError:
            payload = {"raw": response.data.decode(errors="replace")}
        return response.status, payload

    # -- discovery -------------------------------------------------------------------

    def resources(self) -> list[ApiResource]:
        found: list[ApiResource] = []
        versions = ["v1"]
        _, groups = self.request("GET", "/apis")
        versions += [
            v["groupVersion"] for g in groups.get("groups", []) for v in g["versions"][:1]
        ]  # the preferred version alone
        for gv in versions:
            status, listing = self.request("GET", "/api/v1" if gv == "v1" else f"/apis/{gv}")
            if status != 200:
                continue
            for item in listing.get("resources", []):
                if "/" in item["name"]:
                    continue
                found.append(
                    ApiResource(
                        gv,
                        item["name"],
                        item["kind"],
                        item["namespaced"],
                        frozenset(item.get("verbs", [])),
                    )
                )
        return found

    def resource_for(self, api_version: str, kind: str) -> ApiResource | None:
        for res in self.resources_cached():
            if res.group_version == api_version and res.kind == kind:
                return res
        # A group version that is not the preferred one (autoscaling/v1, ...).
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        status, listing = self.request("GET", prefix)
        for item in listing.get("resources", []) if status == 200 else []:
            if item["kind"] == kind and "/" not in item["name"]:
                return ApiResource(
                    api_version,
                    item["name"],
                    kind,
                    item["namespaced"],
                    frozenset(item.get("verbs", [])),
                )
        return None

    def resources_cached(self) -> list[ApiResource]:
        if not hasattr(self, "_resources"):
            self._resources = self.resources()
        return self._resources

    # -- the test server's helpers ---------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        res = self.resource_for(api_version, kind)
        if res is None:
            return None
        status, obj = self.request("GET", res.path(namespace, name))
        return obj if status == 200 else None

    def create(self, obj: Obj, *, manager: str = "test") -> Obj:
        res = self.resource_for(obj["apiVersion"], obj["kind"])
        if res is None:
            raise KeyError(f"no resource for {obj['apiVersion']} {obj['kind']}")
        namespace = obj["metadata"].get("namespace", "")
        status, created = self.request(
            "POST", res.path(namespace), obj, query={"fieldManager": manager}
        )
        if status not in (200, 201):
            raise RuntimeError(f"create {obj['kind']} {obj['metadata']['name']}: {created}")
        return created

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Obj]:
        out: list[Obj] = []
        for res in self.resources_cached():
            if (kind is not None and res.kind != kind) or "list" not in res.verbs:
                continue
            if kind is None and res.plural in ("events", "componentstatuses"):
                continue
            path = res.path(namespace or "") if res.namespaced or not namespace else None
            if path is None:
                continue
            status, listing = self.request("GET", path)
            if status != 200:
                continue
            for item in listing.get("items", []):
                item.setdefault("apiVersion", res.group_version)
                item.setdefault("kind", res.kind)
                out.append(item)
        return out

    def wait_for_rollouts(self, timeout: float = 60.0) -> None:
        """Until every Deployment's controller has caught up and its replicas are
        available: after that no controller rewrites them, so two reads agree."""
        deadline = time.monotonic() + timeout
        while True:
            _, listing = self.request("GET", "/apis/apps/v1/deployments")
            pending = [
                d["metadata"]["name"]
                for d in listing.get("items", [])
                if (d.get("status") or {}).get("observedGeneration", 0)
                < d["metadata"].get("generation", 1)
                or (d.get("status") or {}).get("availableReplicas", 0)
                != d["spec"].get("replicas", 1)
                or (d.get("status") or {}).get("updatedReplicas", 0) != d["spec"].get("replicas", 1)
            ]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"deployments not rolled out: {pending}")
            time.sleep(0.1)

    # -- between tests ---------------------------------------------------------------

    def _live_keys(self) -> Iterator[tuple[ApiResource, str, str]]:
        for res in self.resources():
            if res.plural in RESET_SKIPS or not {"list", "delete"} <= res.verbs:
                continue
            status, listing = self.request("GET", res.path())
            if status != 200:
                continue
            for item in listing.get("items", []):
                meta = item["metadata"]
                namespace = meta.get("namespace", "")
                if f"{res.plural}@{namespace}" in RESET_SKIPS:
                    continue
                if namespace and namespace not in SYSTEM_NAMESPACES:
                    continue  # goes with its namespace
                yield res, namespace, meta["name"]

    def snapshot(self) -> None:
        """Remember what exists now: ``reset`` deletes everything else."""
        self._baseline = {(r.path(), ns, name) for r, ns, name in self._live_keys()}

    def reset(self, timeout: float = 90.0) -> None:
        """Delete every namespace a test made and every object it left in the system
        namespaces or at cluster scope; return once the namespaces are gone."""
        _, listing = self.request("GET", "/api/v1/namespaces")
        doomed = [
            n["metadata"]["name"]
            for n in listing.get("items", [])
            if n["metadata"]["name"] not in SYSTEM_NAMESPACES
        ]
        for name in doomed:
            self.request("DELETE", f"/api/v1/namespaces/{name}")
        for res, namespace, name in list(self._live_keys()):
            if (res.path(), namespace, name) not in self._baseline:
                self.request(
                    "DELETE", res.path(namespace, name), {"propagationPolicy": "Background"}
                )
        deadline = time.monotonic() + timeout
        if doomed:
            namespaced = [
                r
                for r in self.resources()
                if r.namespaced and {"list", "deletecollection"} <= r.verbs
            ]
            for name in doomed:
                self._finish_namespace(name, namespaced, deadline)
        if hasattr(self, "_resources"):
            del self._resources  # CRDs come and go

    def _finish_namespace(self, name: str, resources: list[ApiResource], deadline: float) -> None:
        """What the namespace controller does for a Terminating namespace, without the
        5 s it waits before starting (namespaceDeletionGracePeriod, for HA etcd): delete
        every object in it (pods at once), wait until none is left, then finalize. Being
        Terminating, the namespace takes no new objects meanwhile (NamespaceLifecycle
        admission), so nothing can be left behind."""
        while True:
            for res in resources:
                self.request(
                    "DELETE",
                    res.path(name),
                    query={"gracePeriodSeconds": "0", "propagationPolicy": "Background"},
                )
            left = []
            for res in resources:
                status, listing = self.request("GET", res.path(name))
                if status == 200:
                    left += [
                        f"{res.plural}/{i['metadata']['name']}" for i in listing.get("items", [])
                    ]
            if not left:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {name} still holds {left[:10]}")
            time.sleep(0.1)
        status, namespace = self.request("GET", f"/api/v1/namespaces/{name}")
        if status == 404:
            return
        namespace.setdefault("spec", {})["finalizers"] = []
        self.request("PUT", f"/api/v1/namespaces/{name}/finalize", namespace)
        while self.request("GET", f"/api/v1/namespaces/{name}")[0] != 404:
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {name} still terminating after reset")
            time.sleep(0.05)

    def stop(self) -> None:
        for component in reversed(self.components):
            with contextlib.suppress(ProcessLookupError):
                component.process.terminate()
        for component in reversed(self.components):
            try:  # nothing here needs a graceful end: its data is thrown away
                component.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                component.process.kill()
                component.process.wait(timeout=5)
        self._http.clear()


# -- start-up --------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, so that a killed
    pytest worker leaves no control plane behind (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(
    name: str, argv: list[str], workdir: Path, environ: dict[str, str] | None = None
) -> Component:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        # A session of its own: a Ctrl-C at the terminal reaches pytest, which stops
        # the components in order, not the components directly.
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env={**os.environ, **(environ or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Component(name, process, log)


def _wait(what: str, probe: Any, components: list[Component], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for component in components:
            if component.process.poll() is not None:
                raise StartError(
                    f"{component.name} exited with {component.process.returncode}"
                    f" while waiting for {what}:\n{component.tail()}"
                )
        with contextlib.suppress(OSError, urllib3.exceptions.HTTPError):
            if probe():
                return
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {c.name}\n{c.tail(15)}" for c in components)
            raise StartError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")
        time.sleep(0.2)


def _node(name: str, address: str) -> Obj:
    resources = {"cpu": "64", "memory": "256Gi", "pods": "1000"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "phase": "Running",
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kwok node",
                }
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "containerRuntimeVersion": "fake",
                "kernelVersion": "fake",
                "kubeProxyVersion": "fake",
                "bootID": "",
                "machineID": "",
                "osImage": "",
                "systemUUID": "",
            },
        },
    }


def start(bin_dir: Path, workdir: Path, *, startup_timeout: float = 120.0) -> RealCluster:
    """Start the control plane in ``workdir`` (which holds its data, keys and logs)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pki: Pki = write_pki(workdir / "pki")
    tokens = {
        user: secrets.token_hex(16)
        for user in ("admin", "kube-controller-manager", "kube-scheduler", "kwok")
    }
    groups = {"admin": "system:masters", "kwok": "system:masters"}
    users = {
        "admin": "kgit-admin",
        "kube-controller-manager": "system:kube-controller-manager",
        "kube-scheduler": "system:kube-scheduler",
        "kwok": "kwok",
    }
    token_file = workdir / "tokens.csv"
    token_file.write_text(
        "".join(f'{tokens[u]},{users[u]},{u},"{groups.get(u, "")}"\n' for u in tokens)
    )
    token_file.chmod(0o600)

    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    url = f"https://127.0.0.1:{api_port}"
    components: list[Component] = []
    cluster: RealCluster | None = None
    try:
        components.append(
            _spawn(
                "etcd",
                [
                    str(bin_dir / "etcd"),
                    "--name",
                    "kgit-test",
                    "--data-dir",
                    str(workdir / "etcd"),
                    "--listen-client-urls",
                    f"http://127.0.0.1:{etcd_port}",
                    "--advertise-client-urls",
                    f"http://127.0.0.1:{etcd_port}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{peer_port}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{peer_port}",
                    "--initial-cluster",
                    f"kgit-test=http://127.0.0.1:{peer_port}",
                    # a test cluster's data need not survive a power cut
                    "--unsafe-no-fsync",
                    "--log-level",
                    "warn",
                ],
                workdir,
            )
        )
        components.append(
            _spawn(
                "kube-apiserver",
                [
                    str(bin_dir / "kube-apiserver"),
                    "--etcd-servers",
                    f"http://127.0.0.1:{etcd_port}",
                    "--bind-address",
                    "127.0.0.1",
                    "--advertise-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(api_port),
                    "--tls-cert-file",
                    str(pki.serving_cert),
                    "--tls-private-key-file",
                    str(pki.serving_key),
                    "--token-auth-file",
                    str(token_file),
                    # lets the apiserver publish extension-apiserver-authentication, which the
                    # controller manager and scheduler read to authenticate their own clients
                    "--client-ca-file",
                    str(pki.ca_cert),
                    # the endpoint reconciler refuses a loopback address for Service/kubernetes
                    "--endpoint-reconciler-type",
                    "none",
                    "--authorization-mode",
                    "RBAC",
                    "--service-account-issuer",
                    "https://kubernetes.default.svc.cluster.local",
                    "--service-account-key-file",
                    str(pki.sa_pub),
                    "--service-account-signing-key-file",
                    str(pki.sa_key),
                    "--service-cluster-ip-range",
                    SERVICE_CIDR,
                    "--allow-privileged=true",
                    "--profiling=false",
                    "--v=1",
                    # KWOK's pods serve nothing, so an admission webhook (ingress-nginx's) could
                    # never answer: webhook configurations are stored but not called.
                    "--disable-admission-plugins",
                    "ValidatingAdmissionWebhook,MutatingAdmissionWebhook",
                ],
                workdir,
                LOOPBACK_ONLY,
            )
        )
        cluster = RealCluster(
            url,
            write_kubeconfig(
                workdir / "kubeconfig", url, pki.ca_cert, tokens["admin"], "kgit-admin"
            ),
            bin_dir,
            pki.ca_cert,
            tokens["admin"],
            components,
        )

        def ready() -> bool:
            status, _ = cluster.request("GET", "/readyz")
            return status == 200

        _wait("kube-apiserver /readyz", ready, components, startup_timeout)

        kcm_config = write_kubeconfig(
            workdir / "kcm.kubeconfig", url, pki.ca_cert, tokens["kube-controller-manager"], "kcm"
        )
        components.append(
            _spawn(
                "kube-controller-manager",
                [
                    str(bin_dir / "kube-controller-manager"),
                    "--kubeconfig",
                    str(kcm_config),
                    "--authentication-kubeconfig",
                    str(kcm_config),
                    "--authorization-kubeconfig",
                    str(kcm_config),
                    "--bind-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(free_port()),
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    "--service-account-private-key-file",
                    str(pki.sa_key),
                    "--root-ca-file",
                    str(pki.ca_cert),
                    "--service-cluster-ip-range",
                    SERVICE_CIDR,
                    # the garbage collector and namespace controller on a test's time scale
                    "--concurrent-gc-syncs",
                    "5",
                    "--concurrent-namespace-syncs",
                    "5",
                    "--profiling=false",
                    "--v=1",
                ],
                workdir,
                LOOPBACK_ONLY,
            )
        )
        scheduler_config = write_kubeconfig(
            workdir / "scheduler.kubeconfig",
            url,
            pki.ca_cert,
            tokens["kube-scheduler"],
            "scheduler",
        )
        components.append(
            _spawn(
                "kube-scheduler",
                [
                    str(bin_dir / "kube-scheduler"),
                    "--kubeconfig",
                    str(scheduler_config),
                    "--authentication-kubeconfig",
                    str(scheduler_config),
                    "--authorization-kubeconfig",
                    str(scheduler_config),
                    "--bind-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(free_port()),
                    "--leader-elect=false",
                    "--profiling=false",
                    "--v=1",
                ],
                workdir,
                LOOPBACK_ONLY,
            )
        )

        for index in range(NODES):
            status, body = cluster.request(
                "POST", "/api/v1/nodes", _node(f"kwok-node-{index}", f"10.250.0.{index + 1}")
            )
            if status != 201:
                raise StartError(f"registering node {index}: {status} {body}")
        kwok_config = write_kubeconfig(
            workdir / "kwok.kubeconfig", url, pki.ca_cert, tokens["kwok"], "kwok"
        )
        components.append(
            _spawn(
                "kwok",
                [
                    str(bin_dir / "kwok"),
                    "--config",
                    str(KWOK_CONFIG),
                    "--kubeconfig",
                    str(kwok_config),
                    "--manage-all-nodes=true",
                    "--cidr",
                    "10.244.0.1/16",
                    "--server-address",
                    "",
                ],
                workdir,
                LOOPBACK_ONLY,
            )
        )

        def controllers_up() -> bool:
            # kube-controller-manager's service-account controller and KWOK's leases.
            sa, _ = cluster.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
            leases, body = cluster.request(
                "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
            )
            return sa == 200 and leases == 200 and len(body.get("items", [])) >= NODES

        _wait("kube-controller-manager and KWOK", controllers_up, components, startup_timeout)
        cluster.snapshot()
        return cluster
    except BaseException:
        if cluster is not None:
            cluster.stop()
        else:
            for component in components:
                component.process.kill()
        raise
