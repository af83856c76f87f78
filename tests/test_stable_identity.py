"""Objects in out/ are stamped with their entry's identity, never its index in a list.

Issue 18, symptom 2: with 300 apps, removing the first one rewrote every later app's objects,
because ``kgit.dev/source`` said ``cluster.yaml#spec.apps[N]`` and N moved. Removing,
inserting or reordering list entries must change the objects of those entries alone.
The oracle is the object-by-object comparison ``kgit diff`` uses, and the files of out/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from compiler.compile.pipeline import compile_tree
from compiler.core.sources import DirectoryTree
from compiler.repo.changes import compare_outputs

REPO = Path(__file__).resolve().parent.parent
APPS = [f"app-{i:03d}" for i in range(5)]
SERVICES = [f"ext-{i}" for i in range(3)]


def _spec(apps: list[str], services: list[str]) -> dict:
    spec = yaml.safe_load((REPO / "cluster.yaml").read_text())
    spec["spec"]["apps"] = [
        {"name": name, "namespace": "shop", "image": f"nginx:1.{i}", "ports": [80]}
        for i, name in enumerate(apps)
    ]
    spec["spec"]["externalServices"] = [
        {"name": name, "namespace": "shop", "ports": [5432], "addresses": ["10.0.0.5"]}
        for name in services
    ]
    spec["spec"]["secrets"] = [
        {"name": f"s-{name}", "namespace": "shop", "fromEnv": {"k": "V"}} for name in services
    ]
    return spec


def _compile(tmp_path: Path, name: str, apps: list[str], services: list[str]) -> dict[str, bytes]:
    root = tmp_path / name
    root.mkdir()
    # Each app keeps its image whatever its position, so only identity can move.
    spec = _spec(apps, services)
    for app in spec["spec"]["apps"]:
        app["image"] = f"nginx:1.{APPS.index(app['name']) if app['name'] in APPS else 99}"
    (root / "cluster.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return compile_tree(DirectoryTree(root)).files


def _changed_names(before: dict[str, bytes], after: dict[str, bytes]) -> dict[str, set[str]]:
    changes = compare_outputs(before, after)
    assert not changes.host_files
    by_action: dict[str, set[str]] = {}
    for change in changes.objects:
        by_action.setdefault(change.action, set()).add(change.key.name)
    return by_action


def _index_without(files: dict[str, bytes], names: set[str]) -> list[dict]:
    objects = json.loads(files["index.json"])["objects"]
    return [o for o in objects if o["name"] not in names]


@pytest.mark.parametrize(
    ("apps", "services", "expected"),
    [
        # the first app removed: only its objects go
        pytest.param(APPS[1:], SERVICES, {"removed": {"app-000"}}, id="remove-first-app"),
        # an app inserted at the front: only its objects come
        pytest.param(["app-new", *APPS], SERVICES, {"added": {"app-new"}}, id="insert-app"),
        # the same apps in another order: nothing changes at all
        pytest.param(APPS[::-1], SERVICES, {}, id="reorder-apps"),
        # the first external service (Service, EndpointSlice) and its secret removed
        pytest.param(
            APPS,
            SERVICES[1:],
            {"removed": {"ext-0", "ext-0-kgit-ipv4", "s-ext-0"}},
            id="remove-first-service",
        ),
    ],
)
def test_list_edits_change_only_the_edited_entries_objects(tmp_path, apps, services, expected):
    before = _compile(tmp_path, "before", APPS, SERVICES)
    after = _compile(tmp_path, "after", apps, services)

    assert _changed_names(before, after) == expected
    touched = set().union(*expected.values())
    # Every other object is byte-identical in its manifest file, and so is its index entry.
    changed_files = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert {p for p in changed_files if Path(p).stem not in touched} == {"index.json"}
    assert _index_without(before, touched) == _index_without(after, touched)


def test_source_annotation_names_the_entry_not_its_index(tmp_path):
    files = _compile(tmp_path, "one", APPS, SERVICES)
    manifest = list(yaml.safe_load_all(files["manifests/apps/shop/app-003.yaml"]))
    assert {doc["metadata"]["annotations"]["kgit.dev/source"] for doc in manifest} == {
        "cluster.yaml#apps/shop/app-003"
    }
    secret_files = [p for p in files if p.startswith("manifests/secrets/")]
    assert secret_files
    for path in secret_files:
        (doc,) = yaml.safe_load_all(files[path])
        name = doc["metadata"]["name"]
        assert doc["metadata"]["annotations"]["kgit.dev/source"] == (
            f"cluster.yaml#secrets/shop/{name}"
        )
