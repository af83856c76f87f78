"""Overlays: errors with the overlay file's line:col, kgit's own rules (namespaces, Secrets),
the bundled overlays/nginx.yaml checked against kubectl kustomize, and the pipeline path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.compile.overlay import apply_overlay, load_overlay, parse_overlay
from compiler.compile.overlay.jsonpatch import JsonPatchError, apply_patch, parse_pointer
from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.core.errors import SpecError
from compiler.core.sources import DirectoryTree, MemoryTree

KUBECTL = shutil.which("kubectl")


def base_objects() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 1,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.14.2",
                                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                            }
                        ]
                    }
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        },
    ]


def overlay_error(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        apply_overlay(base_objects(), parse_overlay(text, "overlays/web.yaml"))
    assert len(caught.value.problems) == 1
    return str(caught.value)


JSON_PATCH = (
    "apiVersion: kgit.dev/v1alpha1\nkind: JsonPatch\ntarget: {kind: Deployment, name: web}\n"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n",
            "overlays/web.yaml:4:9: patch target apps/v1 Deployment/api does not exist "
            "(the app's objects are: Deployment/web, Service/web)",
            id="patch-target-missing",
        ),
        pytest.param(
            "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web}\n",
            "overlays/web.yaml:3:18: patch target apps/v1beta1 Deployment/web does not exist "
            "(the app's objects are: Deployment/web, Service/web)",
            id="patch-target-other-api-version",
        ),
        pytest.param(
            "apiVersion: kgit.dev/v1alpha1\nkind: JsonPatch\ntarget: {kind: Ingress, name: web}\n"
            "patch:\n  - {op: remove, path: /spec}\n",
            "overlays/web.yaml:3:9: JsonPatch target Ingress/web does not exist "
            "(the app's objects are: Deployment/web, Service/web)",
            id="json-target-missing",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - op: replace\n"
            "    path: /spec/template/spec/containers/3/image\n    value: nginx:1.16.1\n",
            "overlays/web.yaml:6:11: replace operation: '/spec/template/spec/containers/3/image' "
            "does not resolve at '/spec/template/spec/containers/3': index 3 is out of range "
            "(the array has 1)",
            id="pointer-index-out-of-range",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: remove, path: /spec/strategy}\n",
            "overlays/web.yaml:5:24: remove operation: '/spec/strategy' does not resolve: "
            "'strategy' does not exist",
            id="pointer-key-missing",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: add, path: /spec/selector/matchLabels/a, value: b}\n",
            "overlays/web.yaml:5:21: add operation: '/spec/selector/matchLabels/a' does not "
            "resolve: '/spec/selector' does not exist",
            id="pointer-parent-missing",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: add, path: /metadata/a~2b, value: 1}\n",
            "overlays/web.yaml:5:21: add operation: JSON pointer '/metadata/a~2b': '~' must be "
            "followed by 0 or 1",
            id="pointer-bad-escape",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: test, path: /spec/replicas, value: 3}\n",
            "overlays/web.yaml:5:45: test operation: test failed: '/spec/replicas' is 1, not 3",
            id="test-op-fails",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: move, from: /spec/template, path: /spec/template/x}\n",
            "overlays/web.yaml:5:44: move operation: cannot move '/spec/template' into its own "
            "child '/spec/template/x'",
            id="move-into-own-child",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: add, path: /spec/replicas}\n",
            "overlays/web.yaml:5:5: a add operation needs a 'value'",
            id="add-without-value",
        ),
        pytest.param(
            JSON_PATCH + "patch:\n  - {op: upsert, path: /spec}\n",
            "overlays/web.yaml:5:10: op must be one of add, remove, replace, move, copy, test",
            id="unknown-op",
        ),
        pytest.param(
            "apiVersion: kgit.dev/v1alpha1\nkind: Patch\n",
            "overlays/web.yaml:2:7: unknown overlay kind 'Patch' for kgit.dev/v1alpha1; "
            "expected JsonPatch or Resources",
            id="unknown-kgit-kind",
        ),
        pytest.param(
            "apiVersion: kgit.dev/v1alpha1\nkind: Resources\nitems:\n  - apiVersion: v1\n"
            "    kind: Secret\n    metadata: {name: db}\n    stringData: {password: hunter2}\n",
            "overlays/web.yaml:7:5: a Secret in an overlay must not hold stringData: its values "
            "would be committed to Git (put the Secret in spec.secrets with fromEnv, so its "
            "values stay out of Git)",
            id="secret-resource-with-values",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: aHVudGVyMg==}\n",
            "overlays/web.yaml:4:1: a Secret in an overlay must not hold data: its values would "
            "be committed to Git (put the Secret in spec.secrets with fromEnv, so its values "
            "stay out of Git)",
            id="secret-patch-with-values",
        ),
        pytest.param(
            "apiVersion: kgit.dev/v1alpha1\nkind: JsonPatch\ntarget: {kind: Secret, name: db}\n"
            "patch:\n  - {op: add, path: /data/password, value: aHVudGVyMg==}\n",
            "overlays/web.yaml:5:21: a JsonPatch must not write Secret values: they would be "
            "committed to Git (put the Secret in spec.secrets with fromEnv, so its values stay "
            "out of Git)",
            id="secret-json-patch-with-values",
        ),
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  strategy:\n"
            "    $retainKeys: [type]\n    type: Recreate\n",
            "overlays/web.yaml:6:5: the directive '$retainKeys' is not supported (kustomize "
            "leaves it in its output, which the API server rejects); use $patch: replace or "
            "$patch: delete, or a JsonPatch document",
            id="retain-keys-unsupported",
        ),
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
            "    spec:\n      $setElementOrder/containers: [{name: web}]\n",
            "overlays/web.yaml:7:7: the directive '$setElementOrder/containers' is not supported "
            "(kustomize leaves it in its output, which the API server rejects); use $patch: "
            "replace or $patch: delete, or a JsonPatch document",
            id="set-element-order-unsupported",
        ),
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
            "  $patch: merge2\n",
            "overlays/web.yaml:5:3: unknown $patch directive 'merge2'; expected delete, replace "
            "or merge",
            id="unknown-patch-directive",
        ),
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - image: nginx:1.16.1\n",
            "overlays/web.yaml:8:11: this list merges by 'name', but the element has no 'name'",
            id="merge-key-missing",
        ),
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - {name: web, $patch: replace, image: x}\n",
            "overlays/web.yaml:8:23: $patch: replace on one list element is not supported "
            "(kustomize ignores it); delete the element with $patch: delete and add it in "
            "another patch",
            id="element-replace-unsupported",
        ),
        pytest.param(
            "apiVersion: kgit.dev/v1alpha1\nkind: Resources\nitems:\n  - apiVersion: v1\n"
            "    kind: Service\n    metadata: {name: web}\n",
            "overlays/web.yaml:6:22: Service/web already exists in the app (change it with a "
            "patch document instead)",
            id="resource-already-exists",
        ),
        pytest.param(
            "kind: Deployment\nmetadata: {name: web}\n",
            "overlays/web.yaml:1:1: a strategic merge patch needs a 'apiVersion' string",
            id="patch-without-api-version",
        ),
    ],
)
def test_overlay_error_names_the_file_line_and_column(text, message):
    assert overlay_error(text) == message


@pytest.mark.parametrize(
    "relpath",
    [
        pytest.param("overlays/../cluster.yaml", id="dot-dot"),
        pytest.param("vendor/patch.yaml", id="other-directory"),
        pytest.param("/overlays/web.yaml", id="absolute"),
    ],
)
def test_overlay_path_outside_overlays_is_refused(relpath):
    tree = MemoryTree({"cluster.yaml": b"x: 1\n", "vendor/patch.yaml": b"x: 1\n"})
    with pytest.raises(SpecError) as caught:
        load_overlay(tree, relpath)
    assert str(caught.value) == (
        f"{relpath}:1:1: overlay {relpath!r} is outside overlays/ "
        "(keep overlay files in the overlays/ directory of the repository)"
    )


def test_empty_overlay_file_is_an_error():
    with pytest.raises(SpecError) as caught:
        parse_overlay("# nothing here\n", "overlays/empty.yaml")
    assert str(caught.value) == "overlays/empty.yaml:1:1: the overlay file has no documents"


def test_extra_resources_default_to_the_app_namespace():
    overlay = parse_overlay(
        "apiVersion: kgit.dev/v1alpha1\nkind: Resources\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: other, namespace: elsewhere}}\n"
        "  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: r}}\n",
        "overlays/web.yaml",
    )
    added = apply_overlay(base_objects(), overlay)[2:]
    assert [(o["metadata"]["name"], o["metadata"].get("namespace")) for o in added] == [
        ("cfg", "shop"),
        ("other", "elsewhere"),
        ("r", None),
    ]


def test_apply_overlay_does_not_modify_its_input():
    objects = base_objects()
    snapshot = yaml.safe_dump(objects)
    apply_overlay(
        objects,
        parse_overlay(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 9}\n",
            "overlays/web.yaml",
        ),
    )
    assert yaml.safe_dump(objects) == snapshot


def test_port_patch_without_protocol_means_tcp():
    # kgit differs from kustomize v5 here on purpose: kustomize silently drops a port patch
    # element that leaves out `protocol` when the base port spells it out (its two-key
    # matching sees "" != "TCP"). The API server defaults protocol to TCP, and so does kgit.
    overlay = parse_overlay(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: web\n          ports:\n"
        "            - {containerPort: 80, name: web}\n",
        "overlays/web.yaml",
    )
    (deployment, _service) = apply_overlay(base_objects(), overlay)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "name": "web", "protocol": "TCP"}
    ]


# --- JSON pointers (RFC 6901 examples) ----------------------------------------------------


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        pytest.param("", [], id="whole-document"),
        pytest.param("/foo/0", ["foo", "0"], id="index"),
        pytest.param("/", [""], id="empty-key"),
        pytest.param("/a~1b", ["a/b"], id="slash"),
        pytest.param("/m~0n", ["m~n"], id="tilde"),
        pytest.param("/~01", ["~1"], id="tilde-then-one-is-not-a-slash"),
    ],
)
def test_json_pointer_tokens(pointer, tokens):
    assert parse_pointer(pointer) == tokens


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        pytest.param(
            [{"op": "add", "path": "/a/-", "value": 9}],
            {"a": [1, 2, 9], "b": {}},
            id="append-with-dash",
        ),
        pytest.param(
            [{"op": "add", "path": "/a/2", "value": 9}],
            {"a": [1, 2, 9], "b": {}},
            id="insert-at-end-index",
        ),
        pytest.param([{"op": "add", "path": "", "value": []}], [], id="replace-whole-doc"),
        pytest.param(
            [{"op": "test", "path": "/a/0", "value": 1.0}],
            {"a": [1, 2], "b": {}},
            id="test-1-equals-1.0",
        ),
        pytest.param(
            [{"op": "copy", "from": "/a", "path": "/b/c"}],
            {"a": [1, 2], "b": {"c": [1, 2]}},
            id="copy",
        ),
    ],
)
def test_json_patch_operations(operations, expected):
    assert apply_patch({"a": [1, 2], "b": {}}, operations) == expected


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        pytest.param(
            {"op": "test", "path": "/t", "value": 1},
            "test operation: test failed: '/t' is true, not 1",
            id="true-is-not-1",
        ),
        pytest.param(
            {"op": "add", "path": "/a/01", "value": 1},
            "add operation: '/a/01': '01' is not an array index",
            id="leading-zero",
        ),
        pytest.param(
            {"op": "remove", "path": "/a/-"},
            "remove operation: '/a/-' does not resolve: '-' is not an array index",
            id="dash-only-for-add",
        ),
        pytest.param(
            {"op": "remove", "path": ""},
            "remove operation: cannot remove the whole document",
            id="remove-root",
        ),
    ],
)
def test_json_patch_errors(operation, message):
    with pytest.raises(JsonPatchError) as caught:
        apply_patch({"a": [1], "t": True}, [operation])
    assert caught.value.message == message


# --- the bundled overlay, and the pipeline ------------------------------------------------


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (the kustomize oracle)")
def test_bundled_nginx_overlay_matches_kubectl_kustomize(repo_root: Path, tmp_path: Path):
    """overlays/nginx.yaml on the objects kgit renders for the nginx app, by kgit and by
    kustomize (resources + patches translated one to one)."""
    from compiler.compile.model import build_cluster
    from compiler.compile.render.apps import render_app

    spec = yaml.safe_load((repo_root / "cluster.yaml").read_text())
    cluster = build_cluster(spec)
    app = next(a for a in cluster.apps if a.name == "nginx")
    rendered = render_app(cluster, app)
    overlay = load_overlay(DirectoryTree(repo_root), "overlays/nginx.yaml")
    ours = apply_overlay(rendered, overlay)

    (tmp_path / "base.yaml").write_text(yaml.safe_dump_all(rendered))
    resources, patches = ["base.yaml"], []
    for index, doc in enumerate(overlay.documents):
        name = f"doc-{index}.yaml"
        kind = type(doc).__name__
        if kind == "Resources":
            # kgit puts extra resources in the app's namespace; kustomize needs it spelled out
            items = [
                {**i, "metadata": {"namespace": app.namespace, **i["metadata"]}} for i in doc.items
            ]
            (tmp_path / name).write_text(yaml.safe_dump_all(items))
            resources.append(name)
        elif kind == "JsonPatch":
            (tmp_path / name).write_text(yaml.safe_dump(list(doc.operations)))
            patches.append({"path": name, "target": dict(doc.target)})
        else:
            patch = dict(doc.patch)
            patch["metadata"] = {**patch["metadata"], "namespace": app.namespace}
            (tmp_path / name).write_text(yaml.safe_dump(patch))
            patches.append({"path": name})
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": resources, "patches": patches})
    )
    run = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    theirs = [d for d in yaml.safe_load_all(run.stdout) if d]

    def keyed(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}

    assert keyed(ours) == keyed(theirs)
    assert {k for k, _ in keyed(ours)} == {
        "Deployment",
        "Service",
        "Ingress",
        "PodDisruptionBudget",
    }


def test_overlay_error_reaches_the_user_with_its_location():
    spec = (
        "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata: {name: lab}\nspec:\n"
        '  kubernetes: {version: "1.31.4"}\n'
        "  nodes:\n    - {name: cp, address: 192.168.10.10, role: control-plane}\n"
        "  apps:\n    - {name: web, image: nginx:1.14.2, overlays: [overlays/web.yaml]}\n"
    )
    overlay = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec: {type: NodePort}\n"
    tree = MemoryTree({"cluster.yaml": spec.encode(), "overlays/web.yaml": overlay.encode()})
    with pytest.raises(SpecError) as caught:
        compile_tree(tree, CompileOptions())
    assert str(caught.value) == (
        "overlays/web.yaml:4:9: patch target v1 Service/web does not exist "
        "(the app's objects are: Deployment/web)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "apiVersion: kgit.dev/v1alpha1\nkind: Resources\nitems:\n  - apiVersion: v1\n"
            "    kind: ConfigMap\n    metadata: {name: db}\n    data: {password: hunter2}\n"
            "---\n"
            + JSON_PATCH.replace("Deployment", "ConfigMap").replace("web}", "db}")
            + "patch:\n  - {op: replace, path: /kind, value: Secret}\n",
            "overlays/web.yaml:9:1: this document leaves Secret/db holding data: its values "
            "would be committed to Git (put the Secret in spec.secrets with fromEnv, so its "
            "values stay out of Git)",
            id="configmap-turned-into-a-secret",
        ),
        pytest.param(
            JSON_PATCH.replace("Deployment", "Service")
            + "patch:\n  - op: replace\n    path: ''\n    value:\n      apiVersion: v1\n"
            "      kind: Secret\n      metadata: {name: web, namespace: shop}\n"
            "      stringData: {password: hunter2}\n",
            "overlays/web.yaml:1:1: this document leaves Secret/web holding stringData: its "
            "values would be committed to Git (put the Secret in spec.secrets with fromEnv, so "
            "its values stay out of Git)",
            id="whole-object-replaced-by-a-secret",
        ),
    ],
)
def test_no_roundabout_way_writes_secret_values(text, message):
    assert overlay_error(text) == message
