"""What an overlay may emit, beyond its scope: well-formed apiVersion, kind and names, no
Secret values however the Secret is spelled, annotations and objects within Kubernetes'
size limits, a warning for a removed API, and an object produced twice located."""

from __future__ import annotations

import pytest

from compiler.compile.pipeline import CompileOptions, compile_tree
from compiler.core.errors import KgitError, SpecError
from compiler.core.sources import MemoryTree

SPEC = (
    "apiVersion: kgit.dev/v1alpha1\nkind: Cluster\nmetadata: {name: lab}\nspec:\n"
    '  kubernetes: {version: "1.31.4"}\n'
    "  nodes:\n    - {name: cp, address: 192.168.10.10, role: control-plane}\n"
    "  apps:\n"
    "    - {name: web, namespace: shop, image: nginx:1.14.2, overlays: [overlays/web.yaml]}\n"
    "    - {name: api, namespace: shop, image: nginx:1.14.2, overlays: [overlays/api.yaml]}\n"
)
RESOURCES = "apiVersion: kgit.dev/v1alpha1\nkind: Resources\nitems:\n"
SECRET_HINT = " (put the Secret in spec.secrets with fromEnv, so its values stay out of Git)"


def compile_with(
    web: str,
    api: str = RESOURCES + "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: api-only}}\n",
):
    tree = MemoryTree(
        {
            "cluster.yaml": SPEC.encode(),
            "overlays/web.yaml": web.encode(),
            "overlays/api.yaml": api.encode(),
        }
    )
    return compile_tree(tree, CompileOptions())


def compile_error(web: str, **kwargs: str) -> str:
    with pytest.raises(SpecError) as caught:
        compile_with(web, **kwargs)
    assert len(caught.value.problems) == 1
    return str(caught.value)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param(
            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: ../../x}}\n",
            "overlays/web.yaml:4:56: a resource's metadata.name '../../x' is not a DNS-1123 "
            "subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)",
            id="name-with-dots-and-slashes",
        ),
        pytest.param(
            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: Web}}\n",
            "overlays/web.yaml:4:56: a resource's metadata.name 'Web' is not a DNS-1123 "
            "subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)",
            id="name-with-uppercase",
        ),
        pytest.param(
            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: a.b}}\n",
            "overlays/web.yaml:4:70: a resource's metadata.namespace 'a.b' is not a DNS-1123 "
            "label (lowercase letters, digits and '-', at most 63 characters)",
            id="namespace-not-a-label",
        ),
        pytest.param(
            "  - {apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: a/b}}\n",
            "overlays/web.yaml:4:77: a resource's metadata.name 'a/b' may not contain '/' or "
            "'%', nor be '.' or '..'",
            id="rbac-name-with-a-slash",
        ),
        pytest.param(
            "  - {apiVersion: /v1, kind: Secret, metadata: {name: x}, stringData: {k: v}}\n",
            "overlays/web.yaml:4:18: a resource's apiVersion '/v1' is not GROUP/VERSION or "
            "VERSION (such as v1 or apps/v1)",
            id="api-version-with-an-empty-group",
        ),
        pytest.param(
            "  - {apiVersion: v1, kind: 'Secret ', metadata: {name: x}}\n",
            "overlays/web.yaml:4:28: a resource's kind 'Secret ' is not a kind name "
            "(letters and digits, such as ConfigMap)",
            id="kind-with-a-space",
        ),
        pytest.param(
            "  - {apiVersion: v1, kind: secret, metadata: {name: x}, stringData: {k: v}}\n",
            "overlays/web.yaml:4:57: a Secret in an overlay must not hold stringData: its "
            "values would be committed to Git" + SECRET_HINT,
            id="secret-spelled-in-lowercase",
        ),
    ],
)
def test_malformed_or_disguised_overlay_resources_are_refused(item, message):
    assert compile_error(RESOURCES + item) == message


def test_annotations_over_256_kib_are_refused():
    big = "x" * (256 * 1024)
    item = "  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: x\n" + (
        f"      annotations: {{note: {big}}}\n"
    )
    assert compile_error(RESOURCES + item) == (
        "overlays/web.yaml:8:20: ConfigMap/x has 262148 bytes of annotations; Kubernetes "
        "allows at most 262144 in total"
    )


def test_an_object_over_etcds_limit_is_refused_naming_its_source():
    data = "".join(f"      k{i}: {'v' * 1000}\n" for i in range(1600))
    item = "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: big}\n    data:\n" + data
    with pytest.raises(KgitError) as caught:
        compile_with(RESOURCES + item)
    message = str(caught.value)
    assert message.startswith("emit: ConfigMap/shop/big (from cluster.yaml#apps/shop/web) is 16"), (
        message
    )
    assert message.endswith(
        " bytes; etcd refuses objects over 1572864 bytes (1.5 MiB), so it could never be applied"
    )


def test_an_object_produced_twice_is_located_at_the_second():
    web = RESOURCES + "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: shared}}\n"
    api = RESOURCES + "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: shared}\n"
    assert compile_error(web, api=api) == (
        "overlays/api.yaml:4:5: ConfigMap/shop/shared is produced twice: by "
        "cluster.yaml#apps/shop/web (overlays/web.yaml:4:5) and by cluster.yaml#apps/shop/api"
    )


def test_a_removed_api_in_an_overlay_is_a_warning_at_its_line():
    item = (
        "  - apiVersion: extensions/v1beta1\n    kind: Ingress\n    metadata: {name: old}\n"
        "    spec: {backend: {serviceName: web, servicePort: 80}}\n"
    )
    compiled = compile_with(RESOURCES + item)
    assert (
        "overlays/web.yaml:4:17: Ingress old (extensions/v1beta1): Kubernetes 1.31 no longer "
        "serves this API (removed in 1.22); applying it will fail"
    ) in compiled.warnings


def test_an_object_a_later_app_renders_again_is_located_at_that_app():
    web = RESOURCES + (
        "  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: api}\n"
        "    spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, "
        "spec: {containers: [{name: a, image: nginx:1.14.2}]}}}\n"
    )
    assert compile_error(web) == (
        "cluster.yaml:10:7: Deployment.apps/shop/api is produced twice: by "
        "cluster.yaml#apps/shop/web (overlays/web.yaml:4:5) and by cluster.yaml#apps/shop/api"
    )
