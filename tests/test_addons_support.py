"""Helpers shared by the add-on tests, and the tests of those helpers.

``structural_diff`` is the independent yardstick of "exactly the intended changes and
nothing else": it knows nothing about flannel or ingress-nginx.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.compile.model import Cluster, build_cluster

# --- a generic structural diff --------------------------------------------------------------


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def structural_diff(before: Any, after: Any, path: str = "") -> set[str]:
    """Paths where ``after`` differs from ``before``: dict keys are followed, lists of objects
    item by item; a list of scalars (args, verbs) and a subtree that appears or disappears
    count as one changed value at their own path."""
    if isinstance(before, dict) and isinstance(after, dict):
        changed: set[str] = set()
        for key in before.keys() | after.keys():
            if key not in before or key not in after:
                changed.add(_join(path, key))
            else:
                changed |= structural_diff(before[key], after[key], _join(path, key))
        return changed
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and not (_is_scalar_list(before) and _is_scalar_list(after))
    ):
        changed = set()
        for index in range(max(len(before), len(after))):
            if index >= len(before) or index >= len(after):
                changed.add(_join(path, index))
            else:
                changed |= structural_diff(before[index], after[index], _join(path, index))
        return changed
    if before == after and type(before) is type(after):
        return set()
    return {path or "."}


def object_key(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def manifest_diff(
    before: list[dict[str, Any]], after: list[dict[str, Any]], pair=object_key
) -> dict[str, set[str]]:
    """Per object (paired by ``pair``): the changed paths; '+'/'-' for objects that appear
    or disappear. Objects without changes are left out."""
    old = {pair(obj): obj for obj in before}
    new = {pair(obj): obj for obj in after}
    assert len(old) == len(before) and len(new) == len(after), "pairing is ambiguous"
    result: dict[str, set[str]] = {}
    for key in old.keys() | new.keys():
        if key not in new:
            result[key] = {"-"}
        elif key not in old:
            result[key] = {"+"}
        elif changed := structural_diff(old[key], new[key]):
            result[key] = changed
    return result


# --- inputs ---------------------------------------------------------------------------------


def load_objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]


def upstream_files(upstream: Path, pattern: str) -> list[Path]:
    return sorted(upstream.glob(pattern))


def newest(paths: list[Path]) -> Path:
    """The file with the highest vX.Y.Z in its name."""

    def version(path: Path) -> tuple[int, ...]:
        match = re.search(r"v(\d+)\.(\d+)\.(\d+)", path.name)
        assert match, path
        return tuple(int(part) for part in match.groups())

    return max(paths, key=version)


def kinds_and_names(objects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects
    )


def container_facts(objects: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """``field`` (ports, args, image, ...) of every container, keyed by workload/container."""
    facts = {}
    for obj in objects:
        pod = ((obj.get("spec") or {}).get("template") or {}).get("spec")
        if not pod:
            continue
        for group in ("initContainers", "containers"):
            for container in pod.get(group) or []:
                key = f"{obj['kind']}/{obj['metadata']['name']}/{group}/{container['name']}"
                facts[key] = container.get(field)
    return facts


def pod_volumes(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"].get("volumes")
        for o in objects
        if ((o.get("spec") or {}).get("template") or {}).get("spec")
    }


MINIMAL_SPEC: dict[str, Any] = {
    "apiVersion": "kgit.dev/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "lab"},
    "spec": {
        "kubernetes": {"version": "1.31.4"},
        "nodes": [{"name": "cp-1", "address": "192.168.10.10", "role": "control-plane"}],
    },
}


def make_cluster(
    *,
    network: dict[str, Any] | None = None,
    nginx: dict[str, Any] | None = None,
    version: str = "1.31.4",
) -> Cluster:
    """A cluster model from a minimal spec plus the given network / ingress.nginx sections."""
    spec = copy.deepcopy(MINIMAL_SPEC)
    spec["spec"]["kubernetes"]["version"] = version
    if network is not None:
        spec["spec"]["network"] = network
    if nginx is not None:
        spec["spec"]["ingress"] = {"nginx": nginx}
    return build_cluster(spec)


def schema_version(version: str) -> str:
    """'1.31.0' for '1.31.4': kubernetes-validate has one schema per minor version."""
    major, minor, _patch = version.split(".")
    return f"{major}.{minor}.0"


# --- tests of the helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param({"a": 1}, {"a": 1}, set(), id="equal"),
        pytest.param({"a": {"b": 1}}, {"a": {"b": 2}}, {"a.b"}, id="nested-value"),
        pytest.param({"a": 1}, {"a": 1, "b": {"c": 1}}, {"b"}, id="added-subtree"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b"}, id="removed-key"),
        pytest.param({"l": [1, 2]}, {"l": [1, 2, 3]}, {"l"}, id="scalar-list-is-one-value"),
        pytest.param(
            {"l": [{"x": 1}, {"x": 2}]}, {"l": [{"x": 1}, {"x": 3}]}, {"l[1].x"}, id="object-list"
        ),
        pytest.param({"l": [{"x": 1}]}, {"l": [{"x": 1}, {"y": 1}]}, {"l[1]"}, id="appended-item"),
        pytest.param({"a": 1}, {"a": "1"}, {"a"}, id="type-change"),
        pytest.param({"a": True}, {"a": 1}, {"a"}, id="bool-is-not-int"),
    ],
)
def test_structural_diff_reports_changed_paths(before, after, expected):
    assert structural_diff(before, after) == expected


def test_manifest_diff_reports_added_removed_and_changed_objects():
    cm = {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}}
    sa = {"kind": "ServiceAccount", "metadata": {"name": "b"}}
    new_cm = {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "2"}}
    job = {"kind": "Job", "metadata": {"name": "c"}}
    assert manifest_diff([cm, sa], [new_cm, job]) == {
        "ConfigMap/a": {"data.k"},
        "ServiceAccount/b": {"-"},
        "Job/c": {"+"},
    }
