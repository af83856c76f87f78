"""The merge-key table kgit ships equals the one generated from Kubernetes' OpenAPI schema
(as bundled by kubernetes-validate), and holds the keys the Kubernetes API documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.compile.overlay.patch_meta import (
    SCHEMA_VERSION,
    TABLE,
    field_meta,
    generate,
    root_type,
)

kubernetes_validate = pytest.importorskip("kubernetes_validate")


def test_shipped_table_is_generated_from_the_kubernetes_schema():
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / SCHEMA_VERSION
    definitions = json.loads((base / "_definitions.json").read_text())["$defs"]
    assert json.loads(TABLE.read_text()) == generate(definitions), (
        "compiler/compile/overlay/patch_meta.json is stale: run "
        "`.venv/bin/python -m compiler.compile.overlay.patch_meta`"
    )


POD = "io.k8s.api.core.v1.PodSpec"
CONTAINER = "io.k8s.api.core.v1.Container"


@pytest.mark.parametrize(
    ("type_name", "field", "keys"),
    [
        # From the Kubernetes API reference (patch strategy: merge on patch merge key ...).
        pytest.param(POD, "containers", ("name",), id="containers"),
        pytest.param(POD, "initContainers", ("name",), id="initContainers"),
        pytest.param(POD, "volumes", ("name",), id="volumes"),
        pytest.param(POD, "hostAliases", ("ip",), id="hostAliases"),
        pytest.param(POD, "imagePullSecrets", ("name",), id="imagePullSecrets"),
        pytest.param(CONTAINER, "env", ("name",), id="env"),
        pytest.param(CONTAINER, "volumeMounts", ("mountPath",), id="volumeMounts"),
        pytest.param(CONTAINER, "ports", ("containerPort", "protocol"), id="container-ports"),
        pytest.param(
            "io.k8s.api.core.v1.ServiceSpec", "ports", ("port", "protocol"), id="service-ports"
        ),
    ],
)
def test_merging_lists_have_the_documented_keys(type_name, field, keys):
    meta = field_meta(type_name, field)
    assert meta is not None and meta.merge and meta.keys == keys


@pytest.mark.parametrize(
    ("type_name", "field"),
    [
        pytest.param(POD, "tolerations", id="tolerations-atomic"),
        pytest.param(CONTAINER, "args", id="args-atomic"),
        pytest.param("io.k8s.api.networking.v1.IngressSpec", "rules", id="ingress-rules"),
    ],
)
def test_atomic_lists_have_no_merge_metadata(type_name, field):
    assert field_meta(type_name, field) is None


def test_kinds_map_to_their_definitions():
    assert root_type("apps/v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert root_type("v1", "Service") == "io.k8s.api.core.v1.Service"
    assert root_type("example.com/v1", "Widget") is None
