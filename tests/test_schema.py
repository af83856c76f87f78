"""The JSON Schema of cluster.yaml: well-formed, self-describing, strict, documented."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from compiler.compile.schema import cluster_schema, schema_text

Walked = tuple[str, dict[str, Any]]


def _walk(node: Any, where: str = "#") -> Iterator[Walked]:
    """Every subschema of the schema, with a readable location."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from _walk(sub, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties", "propertyNames", "not"):
                yield from _walk(value, f"{where}/{key}")
            elif key in ("oneOf", "anyOf", "allOf"):
                for i, sub in enumerate(value):
                    yield from _walk(sub, f"{where}/{key}/{i}")


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for where, node in _walk(schema):
        for name, sub in (node.get("properties") or {}).items():
            yield where, name, sub


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = cluster_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_property_has_a_description() -> None:
    missing = [
        f"{where}/properties/{name}"
        for where, name, sub in _properties(cluster_schema())
        if not str(sub.get("description", "")).strip()
    ]
    assert missing == []


def test_every_object_with_fixed_keys_refuses_unknown_keys() -> None:
    lenient = [
        where
        for where, node in _walk(cluster_schema())
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert lenient == []


def test_every_pattern_has_a_hint_in_plain_words() -> None:
    # Without x-hint a pattern error would show the user a regular expression.
    bare = [
        where
        for where, node in _walk(cluster_schema())
        if "pattern" in node and not node.get("x-hint")
    ]
    assert bare == []


def test_every_free_string_is_bounded_by_a_pattern_enum_or_is_documented_free_text() -> None:
    # Strings reach scripts, config files and object names; each one is constrained, except
    # the fields that are documented free text (they only ever reach YAML as data).
    free_text = {
        "#/$defs/envVar/properties/value",
        "#/properties/spec/properties/apps/items/properties/initContainers/items/properties/command/items",
        "#/properties/spec/properties/apps/items/properties/initContainers/items/properties/args/items",
    }
    loose = []
    for where, node in _walk(cluster_schema()):
        types = node.get("type")
        is_string = types == "string" or (isinstance(types, list) and "string" in types)
        if is_string and not ({"pattern", "enum", "const"} & set(node)) and where not in free_text:
            loose.append(where)
    assert loose == []


def test_kgit_schema_command_prints_the_schema_file(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.app import main

    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == (repo_root / "schema" / "cluster.schema.json").read_text(encoding="utf-8")
    assert json.loads(printed) == cluster_schema()
    assert schema_text() == printed


def test_bundled_cluster_yaml_names_the_schema_for_editors(repo_root: Path) -> None:
    first = (repo_root / "cluster.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./schema/cluster.schema.json"
    assert (repo_root / first.split("=", 1)[1]).resolve() == (
        repo_root / "schema" / "cluster.schema.json"
    )


def test_bundled_cluster_yaml_is_valid_against_the_schema_alone(repo_root: Path) -> None:
    import yaml

    data = yaml.safe_load((repo_root / "cluster.yaml").read_text(encoding="utf-8"))
    assert list(Draft202012Validator(cluster_schema()).iter_errors(data)) == []


def test_docs_spec_md_mentions_every_schema_property(repo_root: Path) -> None:
    text = (repo_root / "docs" / "spec.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", text))
    names = {name for _where, name, _sub in _properties(cluster_schema())}
    assert sorted(names - documented) == []


def test_docs_spec_md_mentions_no_property_the_schema_lacks(repo_root: Path) -> None:
    # Every heading-level field entry in the reference table is a real property.
    text = (repo_root / "docs" / "spec.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Za-z][A-Za-z0-9]*)` \|", text, flags=re.MULTILINE)
    names = {name for _where, name, _sub in _properties(cluster_schema())}
    assert rows, "docs/spec.md has no field tables"
    assert sorted(set(rows) - names) == []
