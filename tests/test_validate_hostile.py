"""Hostile values never get past validation into scripts, config files or file paths.

Every string field that reaches a shell script (hosts/<node>/provision.sh), a config
file (kubeadm.yaml, containerd/CRI-O config) or a file path is tried with shell
metacharacters, command substitution, newlines and path traversal.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from compiler.compile.load import load_document_text
from compiler.compile.validate import json_path, validate_document
from compiler.core.errors import SpecError
from compiler.core.sources import MemoryTree

SPEC: dict[str, Any] = {
    "apiVersion": "kgit.dev/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "lab"},
    "spec": {
        "kubernetes": {
            "version": "1.31.4",
            "imageRepository": "registry.example/k8s",
            "controlPlaneEndpoint": "192.168.10.10:6443",
            "clusterName": "lab",
            "apiServer": {"extraArgs": {"audit-log-maxage": "30"}},
        },
        "runtime": {
            "pauseImage": "registry.example/k8s/pause:3.10",
            "registryMirrors": [{"registry": "docker.io", "endpoints": ["https://mirror.example"]}],
        },
        "network": {
            "podSubnet": "10.244.0.0/16",
            "serviceSubnet": "10.96.0.0/16",
            "dnsDomain": "cluster.local",
            "flannel": {"iface": "eth0", "source": "vendor/flannel.yml"},
        },
        "nodes": [
            {
                "name": "cp-1",
                "address": "192.168.10.10",
                "role": "control-plane",
                "labels": {"tier": "front"},
                "taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}],
            }
        ],
        "ingress": {"nginx": {"source": "vendor/ingress.yaml", "nodeSelector": {"a": "b"}}},
        "apps": [
            {
                "name": "web",
                "namespace": "web",
                "image": "nginx:1.25",
                "ports": [80],
                "ingress": {"host": "web.example", "path": "/"},
                "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local"]}],
                "overlays": ["overlays/web.yaml"],
            }
        ],
        "externalServices": [
            {"name": "db", "addresses": ["10.10.10.10"], "ports": [5432]},
            {"name": "legacy", "externalName": "db.corp.example"},
        ],
        "secrets": [{"name": "creds", "fromEnv": {"password": "DB_PASSWORD"}}],
    },
}
FILES = {"vendor/flannel.yml": b"", "vendor/ingress.yaml": b"", "overlays/web.yaml": b""}

HOSTILE = [
    "x; rm -rf /",
    "$(reboot)",
    "`id`",
    "${HOME}",
    "a b",
    "a|b",
    "a&&b",
    "a>b",
    "a'b",
    'a"b',
    "a\nb",
    "ok\n",
    "../../etc/passwd",
    "/etc/passwd",
    "a\\b",
    "-rf",
]

# Values: (path, which hostile values must be refused there).
VALUE_FIELDS: list[tuple[tuple[Any, ...], list[str]]] = [
    (("metadata", "name"), HOSTILE),
    (("spec", "kubernetes", "version"), HOSTILE),
    (("spec", "kubernetes", "imageRepository"), HOSTILE),
    (("spec", "kubernetes", "controlPlaneEndpoint"), HOSTILE),
    (("spec", "kubernetes", "clusterName"), HOSTILE),
    # extraArgs values only reach kubeadm YAML (as data), but must stay on one line.
    (("spec", "kubernetes", "apiServer", "extraArgs", "audit-log-maxage"), ["a\nb", "ok\n"]),
    (("spec", "runtime", "pauseImage"), HOSTILE),
    (("spec", "runtime", "registryMirrors", 0, "registry"), HOSTILE),
    (("spec", "runtime", "registryMirrors", 0, "endpoints", 0), HOSTILE),
    (("spec", "network", "podSubnet"), HOSTILE),
    (("spec", "network", "serviceSubnet"), HOSTILE),
    (("spec", "network", "dnsDomain"), HOSTILE),
    (("spec", "network", "flannel", "iface"), HOSTILE),
    (("spec", "network", "flannel", "source"), HOSTILE),
    (("spec", "nodes", 0, "name"), HOSTILE),
    (("spec", "nodes", 0, "address"), HOSTILE),
    (("spec", "nodes", 0, "labels", "tier"), HOSTILE),
    (("spec", "nodes", 0, "taints", 0, "key"), HOSTILE),
    (("spec", "nodes", 0, "taints", 0, "value"), HOSTILE),
    (("spec", "ingress", "nginx", "source"), HOSTILE),
    (("spec", "ingress", "nginx", "nodeSelector", "a"), HOSTILE),
    (("spec", "apps", 0, "name"), HOSTILE),
    (("spec", "apps", 0, "namespace"), HOSTILE),
    (("spec", "apps", 0, "image"), HOSTILE),
    (("spec", "apps", 0, "ingress", "host"), HOSTILE),
    (("spec", "apps", 0, "ingress", "path"), [h for h in HOSTILE if h != "/etc/passwd"]),
    (("spec", "apps", 0, "initContainers", 0, "image"), HOSTILE),
    (("spec", "apps", 0, "hostAliases", 0, "ip"), HOSTILE),
    (("spec", "apps", 0, "hostAliases", 0, "hostnames", 0), HOSTILE),
    (("spec", "apps", 0, "overlays", 0), HOSTILE),
    (("spec", "externalServices", 0, "addresses", 0), HOSTILE),
    (("spec", "externalServices", 1, "externalName"), HOSTILE),
    (("spec", "secrets", 0, "name"), HOSTILE),
    (("spec", "secrets", 0, "fromEnv", "password"), HOSTILE),
]

# Keys: (path of the mapping, existing key to rename).
KEY_FIELDS: list[tuple[tuple[Any, ...], str]] = [
    (("spec", "kubernetes", "apiServer", "extraArgs"), "audit-log-maxage"),
    (("spec", "nodes", 0, "labels"), "tier"),
    (("spec", "ingress", "nginx", "nodeSelector"), "a"),
    (("spec", "secrets", 0, "fromEnv"), "password"),
]


def _problems(data: dict[str, Any]) -> list[str]:
    doc = load_document_text(yaml.safe_dump(data), "cluster.yaml")
    try:
        validate_document(doc, MemoryTree(FILES))
    except SpecError as exc:
        return [p.message for p in exc.problems]
    return []


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def test_the_base_spec_is_valid() -> None:
    assert _problems(copy.deepcopy(SPEC)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(path, value, id=f"{json_path(path)}={value!r}")
        for path, values in VALUE_FIELDS
        for value in values
    ],
)
def test_hostile_value_is_refused_at_its_field(path: tuple[Any, ...], value: str) -> None:
    data = copy.deepcopy(SPEC)
    _set(data, path, value)
    problems = _problems(data)
    assert any(p.startswith(json_path(path) + ":") for p in problems), problems


@pytest.mark.parametrize(
    ("mapping", "old", "key"),
    [
        pytest.param(mapping, old, key, id=f"{json_path(mapping)}[{key!r}]")
        for mapping, old in KEY_FIELDS
        for key in HOSTILE
        # Kubernetes allows a Secret key such as "-rf"; it is data, never an argument.
        if not (mapping[-1] == "fromEnv" and key == "-rf")
    ],
)
def test_hostile_key_is_refused(mapping: tuple[Any, ...], old: str, key: str) -> None:
    data = copy.deepcopy(SPEC)
    target: Any = data
    for part in mapping:
        target = target[part]
    target[key] = target.pop(old)
    problems = _problems(data)
    assert any(p.startswith(json_path(mapping)) for p in problems), problems


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("vendor/../../outside.yml", id="dot-dot"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("vendor/link.yml", id="symlink-out-of-repo"),
    ],
)
def test_source_may_not_leave_the_repository(tmp_path, source: str) -> None:  # type: ignore[no-untyped-def]
    from compiler.core.sources import DirectoryTree

    (tmp_path / "outside.yml").write_text("kind: List\n")
    repo = tmp_path / "repo"
    (repo / "vendor").mkdir(parents=True)
    (repo / "vendor" / "link.yml").symlink_to(tmp_path / "outside.yml")
    data = copy.deepcopy(SPEC)
    del data["spec"]["ingress"]
    data["spec"]["apps"][0].pop("overlays")
    data["spec"]["network"]["flannel"]["source"] = source
    doc = load_document_text(yaml.safe_dump(data), "cluster.yaml")
    with pytest.raises(SpecError) as caught:
        validate_document(doc, DirectoryTree(repo))
    assert [p.message.split(":")[0] for p in caught.value.problems] == [
        "spec.network.flannel.source"
    ]
