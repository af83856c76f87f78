"""Checking custom resources against their CRD's openAPIV3Schema with jsonschema.

A CRD's schema is a structural OpenAPI v3.0 schema (Kubernetes' own dialect). This module
translates it into JSON Schema (Draft 2020-12) with the meaning the API server gives it:

- strict: an object whose schema lists ``properties`` accepts no other field, unless it
  says ``x-kubernetes-preserve-unknown-fields`` (the API server prunes unknown fields, and
  rejects them with ``fieldValidation=Strict``, what ``kubectl apply`` sends);
- ``x-kubernetes-int-or-string`` is an integer or a string, ``nullable`` admits null;
- OpenAPI 3.0's boolean ``exclusiveMinimum``/``exclusiveMaximum`` become 2020-12's numbers;
- ``required``, ``enum``, ``pattern``, lengths, sizes and bounds are kept as they are.

``x-kubernetes-validations`` are CEL rules, which jsonschema cannot evaluate:
``unchecked_rules`` lists the ones an object reaches, so a test can report them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

_KEPT = (
    "enum",
    "required",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
)


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one structural schema node (see the module docstring)."""
    out: dict[str, Any] = {key: node[key] for key in _KEPT if key in node}
    if node.get("exclusiveMinimum") is True and "minimum" in out:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("exclusiveMaximum") is True and "maximum" in out:
        out["exclusiveMaximum"] = out.pop("maximum")
    if node.get("x-kubernetes-int-or-string"):
        types: list[str] = ["integer", "string"]
    elif "type" in node:
        types = [node["type"]]
    else:
        types = []
    if types and node.get("nullable"):
        types.append("null")
    if types:
        out["type"] = types if len(types) > 1 else types[0]
    if "properties" in node:
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = to_json_schema(additional)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if "items" in node:
        out["items"] = to_json_schema(node["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [to_json_schema(sub) for sub in node[key]]
    if "not" in node:
        out["not"] = to_json_schema(node["not"])
    return out


def crd_versions(crd: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of each served version of ``crd``."""
    spec = crd["spec"]
    kind = spec["names"]["kind"]
    return {
        (f"{spec['group']}/{version['name']}", kind): version["schema"]["openAPIV3Schema"]
        for version in spec["versions"]
        if version.get("served")
    }


def schemas_of(crds: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for crd in crds:
        if crd.get("kind") == "CustomResourceDefinition":
            found.update(crd_versions(crd))
    return found


_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """One validator per schema object (the Gateway API's schemas are large to translate)."""
    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(to_json_schema(schema)))
    return cached[1]


def problems(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Every way ``obj`` breaks ``schema`` (an openAPIV3Schema), one line each."""
    validator = _validator(schema)
    return sorted(
        f"{obj['kind']}/{obj['metadata']['name']}: "
        f"{'.'.join(str(p) for p in error.absolute_path) or '.'}: {error.message}"
        for error in validator.iter_errors(obj)
    )


def unchecked_rules(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """``path: message`` of each x-kubernetes-validations rule that ``value`` reaches."""
    for rule in schema.get("x-kubernetes-validations") or []:
        yield f"{path or '.'}: {rule.get('message') or rule['rule']}"
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from unchecked_rules(item, sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from unchecked_rules(item, schema["items"], f"{path}[{index}]")
