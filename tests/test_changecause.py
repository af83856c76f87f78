"""The kubernetes.io/change-cause annotation, through whole compiles (compile_tree with the
previous out/), and the promise that an image bump is a one-field change."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from compiler.compile.pipeline import Compiled, CompileOptions, compile_tree
from compiler.core.sources import MemoryTree

CAUSE = "kubernetes.io/change-cause"

SPEC = """\
apiVersion: kgit.dev/v1alpha1
kind: Cluster
metadata: {name: lab}
spec:
  kubernetes: {version: "1.31.4"}
  nodes:
    - {name: cp, address: 192.168.10.10, role: control-plane}
  apps:
    - name: nginx
      namespace: web
      image: IMAGE
      replicas: REPLICAS
      ports: [80]
      env:
        - {name: NGINX_PORT, value: "ENVVALUE"}
    - name: api
      namespace: web
      image: registry.example/api:1.0.0
  externalServices:
    - {name: my-service, namespace: prod, ports: [8080], addresses: [10.10.10.10]}
"""


def compile_spec(
    image: str = "nginx:1.14.2",
    replicas: int = 3,
    env_value: str = "80",
    previous: Compiled | None = None,
    cause: str | None = None,
) -> Compiled:
    text = (
        SPEC.replace("IMAGE", image)
        .replace("REPLICAS", str(replicas))
        .replace("ENVVALUE", env_value)
    )
    options = CompileOptions(
        change_cause=cause, previous=previous.files if previous is not None else {}
    )
    return compile_tree(MemoryTree({"cluster.yaml": text.encode()}), options)


def objects(compiled: Compiled) -> dict[tuple[str, str, str], dict[str, Any]]:
    found = {}
    for path, data in compiled.files.items():
        if path.startswith("manifests/"):
            for doc in yaml.safe_load_all(data):
                if doc:
                    meta = doc["metadata"]
                    found[(doc["kind"], meta.get("namespace", ""), meta["name"])] = doc
    return found


def deployment(compiled: Compiled, name: str = "nginx") -> dict[str, Any]:
    return objects(compiled)[("Deployment", "web", name)]


def causes(compiled: Compiled, name: str = "nginx") -> tuple[str | None, str | None]:
    body = deployment(compiled, name)
    template = body["spec"]["template"]["metadata"].get("annotations", {}).get(CAUSE)
    return template, body["metadata"].get("annotations", {}).get(CAUSE)


def leaf_differences(a: Any, b: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path at which two parsed documents differ (an independent structural diff)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            p
            for k in sorted(set(a) | set(b), key=str)
            for p in leaf_differences(a.get(k), b.get(k), (*path, k))
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in leaf_differences(x, y, (*path, i))
        ]
    return [] if a == b else [path]


def test_new_deployment_is_annotated_as_created_with_its_image():
    first = compile_spec()
    assert causes(first) == ("created: image nginx:1.14.2", "created: image nginx:1.14.2")


def test_image_bump_changes_exactly_the_image_and_the_change_cause():
    first = compile_spec()
    second = compile_spec(image="nginx:1.16.1", previous=first)
    before, after = objects(first), objects(second)
    assert before.keys() == after.keys()
    differences = {
        key: leaf_differences(before[key], after[key])
        for key in before
        if before[key] != after[key]
    }
    template = ("spec", "template")
    assert differences == {
        ("Deployment", "web", "nginx"): [
            ("metadata", "annotations", CAUSE),
            (*template, "metadata", "annotations", CAUSE),
            (*template, "spec", "containers", 0, "image"),
        ]
    }
    assert causes(second) == ("image nginx:1.14.2 -> nginx:1.16.1",) * 2
    # nothing outside manifests/ changed either (index.json only records the new digests)
    unchanged = {p for p in first.files if first.files[p] == second.files.get(p)}
    assert set(first.files) - unchanged == {"manifests/apps/web/nginx.yaml", "index.json"}


def test_recompile_without_changes_is_byte_identical_and_keeps_the_cause():
    first = compile_spec()
    bumped = compile_spec(image="nginx:1.16.1", previous=first)
    again = compile_spec(image="nginx:1.16.1", previous=bumped)
    assert again.files == bumped.files
    assert causes(again) == ("image nginx:1.14.2 -> nginx:1.16.1",) * 2


def test_replicas_do_not_touch_the_template_or_its_cause():
    first = compile_spec()
    scaled = compile_spec(replicas=5, previous=first)
    assert causes(scaled) == causes(first)
    assert deployment(scaled)["spec"]["replicas"] == 5


def test_env_change_is_described_by_variable_name():
    first = compile_spec()
    second = compile_spec(env_value="8080", previous=first)
    assert causes(second) == ("env NGINX_PORT changed",) * 2


def test_explicit_cause_goes_only_on_changed_templates():
    first = compile_spec()
    second = compile_spec(image="nginx:1.16.1", previous=first, cause="Bump nginx for CVE-X")
    assert causes(second) == ("Bump nginx for CVE-X",) * 2
    # the api app did not change: it keeps what it had
    assert causes(second, "api") == ("created: image registry.example/api:1.0.0",) * 2


def test_explicit_cause_from_a_commit_message_uses_its_subject_line():
    first = compile_spec()
    message = "\nUpgrade nginx to 1.16.1\n\nLong body explaining why.\n"
    second = compile_spec(image="nginx:1.16.1", previous=first, cause=message)
    assert causes(second) == ("Upgrade nginx to 1.16.1",) * 2


@pytest.mark.parametrize(
    "previous_text",
    [
        pytest.param(b"::: not yaml :::\n\t- [", id="broken-yaml"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
def test_unreadable_previous_file_counts_as_no_history(previous_text):
    first = compile_spec()
    files = dict(first.files)
    files["manifests/apps/web/nginx.yaml"] = previous_text
    options = CompileOptions(previous=files)
    text = SPEC.replace("IMAGE", "nginx:1.14.2").replace("REPLICAS", "3").replace("ENVVALUE", "80")
    again = compile_tree(MemoryTree({"cluster.yaml": text.encode()}), options)
    assert causes(again) == ("created: image nginx:1.14.2",) * 2
