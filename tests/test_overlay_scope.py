"""An overlay stays inside its app: it cannot forge kgit's own control objects (the apply
lock, the ApplySet parent), adopt a built-in namespace, or add objects to a namespace that
another part of the spec owns. Each refusal names the overlay file and line:col."""

from __future__ import annotations

import pytest

from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.core.errors import SpecError
from compiler.core.sources import MemoryTree

SPEC = (
    "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata: {name: lab}\nspec:\n"
    '  kubernetes: {version: "1.31.4"}\n'
    "  nodes:\n    - {name: cp, address: 192.168.10.10, role: control-plane}\n"
    "  apps:\n"
    "    - {name: web, namespace: shop, image: nginx:1.14.2, overlays: [overlays/web.yaml]}\n"
    "    - {name: api, namespace: prod, image: nginx:1.14.2}\n"
)
RESOURCES = "apiVersion: kgit.dev/v1alpha1\nkind: Resources\nitems:\n"
HINT = (
    " (an overlay adds objects to its own app's namespace; put the object in the overlay "
    "of an app of that namespace)"
)


def compile_error(overlay: str) -> str:
    tree = MemoryTree({"cluster.yaml": SPEC.encode(), "overlays/web.yaml": overlay.encode()})
    with pytest.raises(SpecError) as caught:
        compile_tree(tree, CompileOptions())
    assert len(caught.value.problems) == 1
    return str(caught.value)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        pytest.param(
            "  - apiVersion: coordination.k8s.io/v1\n    kind: Lease\n"
            "    metadata: {name: kgit-lab-lock, namespace: kube-system}\n"
            "    spec: {holderIdentity: evil, leaseDurationSeconds: 3600}\n",
            "overlays/web.yaml:6:48: Lease kube-system/kgit-lab-lock is kgit's own control "
            "object for this cluster",
            id="lock-lease",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: ConfigMap\n"
            "    metadata: {name: kgit-lab, namespace: kube-system}\n",
            "overlays/web.yaml:6:43: ConfigMap kube-system/kgit-lab is kgit's own control "
            "object for this cluster",
            id="applyset-parent",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: kube-system}\n",
            "overlays/web.yaml:6:22: Namespace kube-system is built into every cluster; kgit "
            "never adopts it",
            id="namespace-kube-system",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: default}\n",
            "overlays/web.yaml:6:22: Namespace default is built into every cluster; kgit "
            "never adopts it",
            id="namespace-default",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: ConfigMap\n"
            "    metadata: {name: x, namespace: kube-public}\n",
            "overlays/web.yaml:6:36: ConfigMap/x is in the built-in namespace kube-public",
            id="object-in-built-in-namespace",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: x, namespace: prod}\n",
            "overlays/web.yaml:6:36: ConfigMap/x is in namespace prod, which another part of "
            "the spec owns (this app's namespace is shop)",
            id="object-in-another-apps-namespace",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: ServiceAccount\n"
            "    metadata: {name: x, namespace: kube-flannel}\n",
            "overlays/web.yaml:6:36: ServiceAccount/x is in namespace kube-flannel, which "
            "another part of the spec owns (this app's namespace is shop)",
            id="object-in-an-add-on-namespace",
        ),
        pytest.param(
            "  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: prod}\n",
            "overlays/web.yaml:6:22: Namespace prod belongs to another part of the spec",
            id="another-apps-namespace-object",
        ),
    ],
)
def test_overlay_resources_outside_their_app_are_refused(items, message):
    assert compile_error(RESOURCES + items) == message + HINT


def test_a_json_patch_cannot_turn_an_object_into_the_lock():
    overlay = (
        RESOURCES + "  - apiVersion: coordination.k8s.io/v1\n    kind: Lease\n"
        "    metadata: {name: mine}\n---\n"
        "apiVersion: kgit.dev/v1alpha1\nkind: JsonPatch\ntarget: {kind: Lease, name: mine}\n"
        "patch:\n  - {op: replace, path: /metadata/name, value: kgit-lab-lock}\n"
        "  - {op: replace, path: /metadata/namespace, value: kube-system}\n"
    )
    assert compile_error(overlay) == (
        "overlays/web.yaml:8:1: this document leaves Lease kube-system/kgit-lab-lock is "
        "kgit's own control object for this cluster" + HINT
    )


def test_overlay_objects_in_own_or_unowned_namespaces_compile():
    overlay = RESOURCES + (
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: b, namespace: shop}\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: tools}\n"
        "  - apiVersion: rbac.authorization.k8s.io/v1\n    kind: ClusterRole\n"
        "    metadata: {name: reader}\n"
    )
    tree = MemoryTree({"cluster.yaml": SPEC.encode(), "overlays/web.yaml": overlay.encode()})
    keys = {str(r.key) for r in compile_tree(tree, CompileOptions()).resources}
    assert {
        "ConfigMap/shop/a",
        "ConfigMap/shop/b",
        "ConfigMap/tools/c",
        "ClusterRole.rbac.authorization.k8s.io/reader",
    } <= keys
