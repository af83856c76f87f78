"""Regenerate ``proto_v1_36.json``: the protobuf field table ``protobuf.py`` decodes with.

kubectl's generated clients send built-in kinds as protobuf (``kubectl create configmap``,
``create secret``, ``create deployment``, ...; client-go forces it for built-in kinds,
with no fallback to JSON). The test server decodes those bodies with a small wire
decoder and this table: for each message reachable from the kinds kubectl creates, each
field's number, JSON name, type and whether it is ``+optional`` (omitted from JSON when
empty, as the Go ``omitempty`` tags do).

The source is the ``generated.proto`` files of the k8s.io/api and k8s.io/apimachinery Go
modules at the version tests/realcluster builds, read from the Go module cache (``go
mod download`` there fills it). Only this JSON is committed.

Run: ``.venv/bin/python -m tests.apiserver.gen_proto``
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("proto_v1_36.json")
REALCLUSTER = Path(__file__).resolve().parent.parent / "realcluster"
# Kinds a kubectl generator or a typed client may POST/PUT as protobuf.
ROOTS = [
    "k8s.io.api.core.v1.ConfigMap",
    "k8s.io.api.core.v1.Secret",
    "k8s.io.api.core.v1.Namespace",
    "k8s.io.api.core.v1.ServiceAccount",
    "k8s.io.api.core.v1.Service",
    "k8s.io.api.core.v1.ResourceQuota",
    "k8s.io.api.core.v1.Pod",
    "k8s.io.api.apps.v1.Deployment",
    "k8s.io.api.batch.v1.Job",
    "k8s.io.api.batch.v1.CronJob",
    "k8s.io.api.rbac.v1.Role",
    "k8s.io.api.rbac.v1.ClusterRole",
    "k8s.io.api.rbac.v1.RoleBinding",
    "k8s.io.api.rbac.v1.ClusterRoleBinding",
    "k8s.io.api.scheduling.v1.PriorityClass",
    "k8s.io.api.policy.v1.PodDisruptionBudget",
    "k8s.io.api.policy.v1.Eviction",
    "k8s.io.api.networking.v1.Ingress",
    "k8s.io.api.authentication.v1.TokenRequest",
]
SCALARS = {"string", "bytes", "bool", "int32", "int64", "double", "float", "uint32", "uint64"}
FIELD = re.compile(
    r"^\s*(optional|repeated)?\s*(map<\s*(\w+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+"
    r"(\w+)\s*=\s*(\d+)\s*;"
)


def module_dir(module: str) -> Path:
    """The module's directory in the Go module cache, at tests/realcluster's version."""
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    found = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", module],
        cwd=REALCLUSTER,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip())


def parse(path: Path) -> dict[str, dict[str, Any]]:
    """Messages of one generated.proto: {qualified name: {number: field}}."""
    package = ""
    messages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    comment: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("package "):
            package = stripped.removeprefix("package ").rstrip(";")
        elif stripped.startswith("message "):
            current = messages.setdefault(f"{package}.{stripped.split()[1]}", {})
            comment = []
        elif stripped == "}":
            current = None
        elif stripped.startswith("//"):
            comment.append(stripped)
        elif current is not None and (match := FIELD.match(line)):
            label, type_, key, value, name, number = match.groups()
            optional = any("+optional" in c for c in comment)
            if key:
                field = {"name": name, "map": [key, qualify(value, package)]}
            else:
                field = {
                    "name": name,
                    "type": qualify(type_, package),
                    "repeated": label == "repeated",
                }
            field["optional"] = optional
            current[number] = field
            comment = []
        elif not stripped:
            comment = comment if current is None else []
    return messages


def qualify(type_: str, package: str) -> str:
    if type_ in SCALARS:
        return type_
    if type_.startswith("."):
        return type_[1:]
    return type_ if "." in type_ else f"{package}.{type_}"


def generate() -> dict[str, Any]:
    messages: dict[str, dict[str, Any]] = {}
    for module in ("k8s.io/api", "k8s.io/apimachinery"):
        for path in sorted(module_dir(module).rglob("generated.proto")):
            messages.update(parse(path))
    wanted: dict[str, dict[str, Any]] = {}
    todo = [*ROOTS, "k8s.io.apimachinery.pkg.runtime.Unknown"]
    while todo:
        name = todo.pop()
        if name in wanted or name not in messages:
            continue
        wanted[name] = messages[name]
        for field in messages[name].values():
            inner = field["map"][1] if "map" in field else field["type"]
            if inner not in SCALARS:
                todo.append(inner)
    return dict(sorted(wanted.items()))


if __name__ == "__main__":
    OUT.write_text(json.dumps(generate(), sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")
