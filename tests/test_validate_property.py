"""Property: whatever the input, loading and validating raise nothing but SpecError.

Mutations of the bundled spec (keys deleted, values replaced with random scalars, lists,
mappings and hostile strings) and random bytes as a file. A spec that passes validation
must build a model.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.compile.load import load_document_text, load_tree_document
from compiler.compile.model import build_cluster
from compiler.compile.validate import validate_document
from compiler.core.errors import SpecError
from compiler.core.sources import MemoryTree

REPO = Path(__file__).resolve().parent.parent
BASE: dict[str, Any] = yaml.safe_load((REPO / "cluster.yaml").read_text(encoding="utf-8"))
FILES = {"overlays/nginx.yaml": b"kind: Deployment\n"}

HOSTILE = st.sampled_from(
    [
        "x; rm -rf /",
        "$(reboot)",
        "`id`",
        "a\nb",
        "../etc",
        "/etc/passwd",
        "",
        " ",
        "\x00",
        "1.31",
        "yes",
        "10.0.0.0/8",
        "::1",
        "fe80::1%eth0",
        "nginx@sha256:",
        "a" * 300,
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    HOSTILE,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


PATHS = _paths(BASE)


def _check(data: Any) -> None:
    """Validate ``data`` (dumped as YAML); only SpecError may come out."""
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    try:
        doc = load_document_text(text, "cluster.yaml")
        validate_document(doc, MemoryTree(FILES))
    except SpecError:
        return
    cluster = build_cluster(doc.data, "cluster.yaml")  # a valid spec must build
    assert cluster.nodes


MUTATION = st.tuples(st.sampled_from(PATHS), st.sampled_from(["delete", "replace"]), VALUES)


@SETTINGS
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_specs_raise_only_spec_errors(mutations: list[tuple[Any, str, Any]]) -> None:
    data = copy.deepcopy(BASE)
    for path, action, value in mutations:
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            if action == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    _check(data)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_as_the_file_raise_only_spec_errors(raw: bytes) -> None:
    try:
        doc = load_tree_document(MemoryTree({"cluster.yaml": raw}), "cluster.yaml")
        validate_document(doc, MemoryTree({}))
    except SpecError:
        return


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("ab:- \n[]{},&*!|>'\"#%@`?\t0.")), max_size=80))
def test_yaml_punctuation_soup_raises_only_spec_errors(text: str) -> None:
    try:
        doc = load_document_text(text, "cluster.yaml")
        validate_document(doc, MemoryTree({}))
    except SpecError:
        return
