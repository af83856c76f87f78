"""The test server held to the real one: one kubectl scenario, run against both.

The same kubectl (v1.36, built with the real control plane from its Go module) runs the
same steps against ``tests/apiserver`` and against a real kube-apiserver with its
controllers (``tests/realcluster``): client-side and server-side apply (with a conflict
and ``--force-conflicts``), the defaults of Deployment/DaemonSet/Job/Service/
EndpointSlice, immutable fields, label and set selectors, create of an existing object,
``kubectl create configmap`` (protobuf on the wire), ``--dry-run=server`` and deletes
that wait. Each step's exit status, output and returned objects must agree once the
values each server picks for itself are masked (``normalise``). The real server is the
oracle: a difference is a bug in the test server unless ``DELIBERATE`` names it, with
the reason (docs/testing-apiserver.md lists them too).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.server import ApiServer
from tests.realcluster.controlplane import RealCluster

pytestmark = pytest.mark.realcluster

NS = "diff"
BASE = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {NS}, labels: {{app: web, tier: front}}}}
data: {{color: blue}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: other, namespace: {NS}, labels: {{app: db}}}}
data: {{size: "1"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NS}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: "nginx:1.27", ports: [{{containerPort: 80}}]}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {NS}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers: [{{name: agent, image: "busybox:1.36"}}]
---
apiVersion: batch/v1
kind: Job
metadata: {{name: once, namespace: {NS}}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: once, image: "busybox:1.36", command: ["true"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  clusterIP: 10.96.7.7
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: manual, namespace: {NS}, labels: {{owner: tests}}}}
addressType: IPv4
endpoints: [{{addresses: ["10.1.2.3"]}}]
ports: [{{name: http, port: 80, protocol: TCP}}]
"""


def configmap(name: str, **data: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS},
            "data": data,
        }
    )


def changed(kind: str) -> str:
    """BASE with one immutable field changed in the object of ``kind``."""
    docs = BASE.split("---\n")
    edits = {
        "Job": ('image: "busybox:1.36", command', 'image: "busybox:1.37", command'),
        "Deployment": (
            "selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}",
            "selector: {matchLabels: {app: web2}}\n  template:\n"
            "    metadata: {labels: {app: web2}}",
        ),
        "Service": ("clusterIP: 10.96.7.7", "clusterIP: 10.96.8.8"),
    }
    old, new = edits[kind]
    (doc,) = [d for d in docs if f"kind: {kind}\n" in d]
    assert old in doc
    return doc.replace(old, new)


@dataclass(frozen=True)
class Step:
    name: str
    args: tuple[str, ...]
    stdin: str | None = None
    json_out: bool = False  # stdout is an object: compare it normalised


def steps() -> list[Step]:
    get = ("get", "-n", NS, "-o", "json")
    return [
        Step("create-namespace", ("create", "namespace", NS)),
        Step("apply", ("apply", "-f", "-"), BASE),
        *[
            Step(f"defaults-{kind}", (*get, kind, name), json_out=True)
            for kind, name in (
                ("deployment", "web"),
                ("daemonset", "agent"),
                ("job", "once"),
                ("service", "web"),
                ("endpointslice", "manual"),
                ("configmap", "settings"),
            )
        ],
        Step(
            "ssa-team-a",
            ("apply", "--server-side", "--field-manager=team-a", "-f", "-"),
            configmap("shared", color="red", size="2"),
        ),
        Step(
            "ssa-team-b-conflicts",
            ("apply", "--server-side", "--field-manager=team-b", "-f", "-"),
            configmap("shared", color="green"),
        ),
        Step(
            "ssa-team-b-forced",
            ("apply", "--server-side", "--field-manager=team-b", "--force-conflicts", "-f", "-"),
            configmap("shared", color="green"),
        ),
        Step("ssa-owners", (*get, "configmap", "shared"), json_out=True),
        Step(
            "dry-run-server",
            (
                "apply",
                "--server-side",
                "--field-manager=team-a",
                "--force-conflicts",
                "--dry-run=server",
                "-o",
                "json",
                "-f",
                "-",
            ),
            configmap("shared", color="red", size="3"),
            json_out=True,
        ),
        Step("dry-run-left-it", (*get, "configmap", "shared"), json_out=True),
        *[
            Step(f"immutable-{kind}", ("apply", "-f", "-"), changed(kind))
            for kind in ("Job", "Deployment", "Service")
        ],
        *[
            Step(f"selector-{label}", ("get", "configmap", "-n", NS, "-l", selector, "-o", "name"))
            for label, selector in (
                ("equal", "app=web"),
                ("not-equal", "app!=web"),
                ("in", "app in (web,db)"),
                ("notin", "app notin (web)"),
                ("exists", "tier"),
                ("not-exists", "!tier"),
                ("and", "app=web,tier in (front,back)"),
            )
        ],
        Step("create-existing", ("create", "-f", "-"), configmap("settings", color="blue")),
        Step(
            "create-configmap-protobuf",
            ("create", "configmap", "made", "-n", NS, "--from-literal=key=value"),
        ),
        Step("created-configmap", (*get, "configmap", "made"), json_out=True),
        Step("delete-wait", ("delete", "configmap", "settings", "-n", NS, "--wait")),
        Step("deleted-is-gone", ("get", "configmap", "settings", "-n", NS)),
        Step(
            "delete-foreground",
            (
                "delete",
                "deployment",
                "web",
                "-n",
                NS,
                "--cascade=foreground",
                "--wait",
                "--timeout=60s",
            ),
        ),
        Step("delete-namespace", ("delete", "namespace", NS, "--wait", "--timeout=90s")),
    ]


# What the test server does differently on purpose: (pattern, replacement, reason),
# applied to both servers' output before comparing (docs/testing-apiserver.md).
DELIBERATE: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"Invalid value: \{.*\}: "),
        "Invalid value: <object>: ",
        "an immutable object-valued field (a Job's spec.template) is quoted as upstream's "
        "internal Go struct; the test server quotes its JSON, same path and reason",
    ),
    (
        re.compile(r"^configmap/kube-root-ca\.crt\n", re.M),
        "",
        "no root-ca-cert-publisher: the test server does not put kube-root-ca.crt in "
        "every namespace (kgit neither reads nor writes it)",
    ),
    (
        re.compile(r"^I\d{4} .*very short watch.*\n?", re.M),
        "",
        "the test server's watches end at once (clients re-list); kubectl logs that",
    ),
]

VOLATILE_META = ("uid", "resourceVersion", "creationTimestamp", "selfLink")
# Written by controllers, whose timing and simulation differ between the servers.
CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
OUR_MANAGERS = re.compile(r"^(kubectl|team-)")


def normalise(obj: Any) -> Any:
    """An object with what each server picks for itself masked: its uid (also where it
    is copied into labels and selectors), resourceVersion, timestamps, managedFields
    times and controllers' entries, status (controllers), allocated ClusterIPs."""
    if not isinstance(obj, dict) or "metadata" not in obj:
        return obj
    text = json.dumps(obj)
    uid = obj["metadata"].get("uid")
    if uid:
        text = text.replace(uid, "<uid>")
    obj = json.loads(text)
    meta = obj["metadata"]
    for key in VOLATILE_META:
        meta.pop(key, None)
    for key in CONTROLLER_ANNOTATIONS:
        (meta.get("annotations") or {}).pop(key, None)
    if meta.get("annotations") == {}:
        del meta["annotations"]
    managed = [
        {k: v for k, v in m.items() if k != "time"}
        for m in meta.get("managedFields") or []
        if OUR_MANAGERS.match(m["manager"])
    ]
    if managed:
        meta["managedFields"] = managed
    else:
        meta.pop("managedFields", None)
    if obj.get("kind") not in ("Service", "ConfigMap", "EndpointSlice"):
        obj.pop("status", None)
    return obj


@dataclass
class Outcome:
    code: int
    out: Any
    err: str


def run_scenario(kubectl: Path, kubeconfig: Path, cache: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for step in steps():
        done = subprocess.run(
            [
                str(kubectl),
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(cache),
                "--request-timeout",
                "30s",
                *step.args,
            ],
            input=step.stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        out: Any = done.stdout
        if step.json_out and done.returncode == 0:
            out = normalise(json.loads(done.stdout))
        outcomes[step.name] = Outcome(done.returncode, out, done.stderr.strip())
    return outcomes


def masked(outcome: Outcome) -> Outcome:
    out, err = outcome.out, outcome.err
    for pattern, replacement, _ in DELIBERATE:
        err = pattern.sub(replacement, err)
        if isinstance(out, str):
            out = pattern.sub(replacement, out)
    return Outcome(outcome.code, out, err.strip())


def differences(test: dict[str, Outcome], real: dict[str, Outcome]) -> list[str]:
    found = []
    for name, want in real.items():
        got = test[name]
        if masked(got) != masked(want):
            found.append(f"step {name}:\n  real: {want}\n  test: {got}")
    return found


def test_kubectl_scenario_agrees_with_a_real_apiserver(
    real_cluster: RealCluster, apiserver: ApiServer, tmp_path: Path
) -> None:
    kubectl = real_cluster.bin_dir / "kubectl"
    real = run_scenario(kubectl, real_cluster.kubeconfig, tmp_path / "real-cache")
    assert apiserver.kubeconfig is not None
    test = run_scenario(kubectl, apiserver.kubeconfig, tmp_path / "test-cache")
    # The scenario exercises what it says: a conflict, refusals, a protobuf create.
    assert real["ssa-team-b-conflicts"].code == 1
    assert "conflict" in real["ssa-team-b-conflicts"].err
    assert all(real[f"immutable-{k}"].code == 1 for k in ("Job", "Deployment", "Service"))
    assert real["create-existing"].code == 1 and "AlreadyExists" in real["create-existing"].err
    assert real["create-configmap-protobuf"].code == 0
    found = differences(test, real)
    assert not found, "\n".join(found)
