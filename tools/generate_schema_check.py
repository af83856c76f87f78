"""Generate compiler/compile/validate/_schema_fastcheck.py from schema/cluster.schema.json.

Usage: .venv/bin/python tools/generate_schema_check.py   (or `make schema-check`)

The generated module is a yes/no check of a cluster.yaml against the schema, written by
fastjsonschema's code generator. kgit runs it first: on a valid spec (the usual case) it
answers in a fraction of jsonschema's time and kgit never imports jsonschema. When it says
no, kgit runs jsonschema for the worded messages (compiler/compile/validate/schema_messages.py).

fastjsonschema is a development tool here: the runtime imports only the generated module,
whose one import of fastjsonschema (its exception classes) is replaced by local classes.

The check must never accept what jsonschema refuses (being stricter only costs time), so
before generating, this script refuses a schema that uses a keyword outside the set
checked to mean the same in fastjsonschema's generator (it picks its Draft 2019-09/07
generator for a 2020-12 schema) as in jsonschema's Draft 2020-12 validator. Known
differences, both harmless: its patterns end at ``\\Z`` where Python's ``$`` also matches
before a final newline (stricter; kgit refuses such strings anyway), and it takes a tuple
for an array (YAML never yields tuples).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schema" / "cluster.schema.json"
OUTPUT = REPO / "compiler" / "compile" / "validate" / "_schema_fastcheck.py"
COMMAND = ".venv/bin/python tools/generate_schema_check.py  (or: make schema-check)"

# Keywords whose meaning is the same in both implementations for the forms used here.
VALIDATION = {
    "type", "enum", "const", "properties", "additionalProperties", "required", "items",
    "pattern", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
    "minProperties", "maxProperties", "propertyNames", "oneOf", "anyOf", "allOf", "not",
    "$ref", "$defs",
    "format",  # not checked by either side: jsonschema runs without a format checker
}  # fmt: skip
ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "default", "examples"}

# The one line of generated code that imports fastjsonschema; the runtime must not.
FASTJSONSCHEMA_IMPORT = (
    "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
)
LOCAL_EXCEPTIONS = '''\


class JsonSchemaValueException(ValueError):
    """The data does not match the schema (stands in for fastjsonschema's class)."""


class JsonSchemaValuesException(JsonSchemaValueException):
    """Stands in for fastjsonschema's class (raised only when fast_fail is off)."""
'''


def _is_annotation(key: str) -> bool:
    return key in ANNOTATIONS or key.startswith("x-")


def check_keywords(node: Any, where: str = "#") -> None:
    """Refuse any schema construct whose meaning was not checked to be the same."""
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        raise SystemExit(f"{where}: a subschema must be an object or a boolean")
    unknown = sorted(key for key in node if key not in VALIDATION and not _is_annotation(key))
    if unknown:
        raise SystemExit(
            f"{where}: keyword(s) {unknown} not known to mean the same in fastjsonschema "
            "and jsonschema; check them, then add them to VALIDATION in this script"
        )
    if "$ref" in node:
        # Draft 7 (fastjsonschema) ignores the siblings of $ref; Draft 2020-12 applies them.
        siblings = sorted(key for key in node if key != "$ref" and not _is_annotation(key))
        if siblings:
            raise SystemExit(f"{where}: $ref with validating siblings {siblings}")
        if not str(node["$ref"]).startswith("#/"):
            raise SystemExit(f"{where}: only local $refs (#/...) are supported")
    if "items" in node and not isinstance(node["items"], dict | bool):
        raise SystemExit(f"{where}/items: only the one-schema form means the same in both")
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                check_keywords(sub, f"{where}/{key}/{name}")
        elif key in ("items", "additionalProperties", "propertyNames", "not"):
            check_keywords(value, f"{where}/{key}")
        elif key in ("oneOf", "anyOf", "allOf"):
            for index, sub in enumerate(value):
                check_keywords(sub, f"{where}/{key}/{index}")


def const_as_enum(node: Any) -> Any:
    """Every ``{"const": X}`` as ``{"enum": [X]}`` (the same in JSON Schema).

    fastjsonschema 2.22 cannot generate ``const`` without detailed exceptions
    (KeyError 'definition_rule'). Only subschemas are rewritten, never data inside
    ``enum``, ``const``, ``default`` or ``examples``.
    """
    if isinstance(node, list):
        return [const_as_enum(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("enum", "default", "examples"):
            out[key] = value
        elif key == "const":
            if "enum" in node:
                raise SystemExit("a subschema with both const and enum is not supported")
            out["enum"] = [value]
        elif key in ("properties", "$defs"):
            out[key] = {name: const_as_enum(sub) for name, sub in value.items()}
        else:
            out[key] = const_as_enum(value)
    return out


# fastjsonschema names each array item for its messages with "...[{i}]".format(**locals()),
# evaluated for every item even when nothing fails: building locals() was a third of the
# check's time on a 1,000-app spec. The same string as an f-string is the same value.
_FORMAT_LOCALS = re.compile(
    r'"((?:[^"\\{}]|\{[A-Za-z_][A-Za-z0-9_]*\})*)"'  # plain text and {name} placeholders
    r"\.format\(\*\*locals\(\)\)"
)


def as_fstrings(code: str) -> str:
    """``"...{name}...".format(**locals())`` as ``f"...{name}..."``; refuses other forms."""
    code = _FORMAT_LOCALS.sub(r'f"\1"', code)
    if ".format(**locals())" in code:
        raise SystemExit("a .format(**locals()) call of an unexpected form; update this script")
    return code


def generate(schema_bytes: bytes) -> str:
    """The text of the generated module for this schema (deterministic)."""
    import fastjsonschema

    schema = json.loads(schema_bytes)
    check_keywords(schema)
    code = fastjsonschema.compile_to_code(
        const_as_enum(schema),
        use_default=False,  # True would make the check write defaults into the data
        use_formats=False,  # as jsonschema here, which runs without a format checker
        detailed_exceptions=False,  # yes/no is all kgit needs; detailed code is 3x bigger
    )
    if code.count(FASTJSONSCHEMA_IMPORT) != 1:
        raise SystemExit(
            f"fastjsonschema {fastjsonschema.VERSION}: the generated code does not contain "
            f"exactly one line {FASTJSONSCHEMA_IMPORT.strip()!r}; update this script"
        )
    code = code.replace(FASTJSONSCHEMA_IMPORT, LOCAL_EXCEPTIONS)
    code = as_fstrings(code)
    # The entry point is the function generated first, for the schema's root.
    root = re.search(r"^def (validate_\w*)\(data, ", code, re.MULTILINE)
    if root is None:
        raise SystemExit("no validation function found in the generated code")
    digest = hashlib.sha256(schema_bytes).hexdigest()
    header = f'''\
# Generated by tools/generate_schema_check.py from schema/cluster.schema.json: do not edit.
# Regenerate after every change to the schema with:
#     {COMMAND}
"""Yes/no check of a cluster.yaml against schema/cluster.schema.json (generated code).

Written by fastjsonschema {fastjsonschema.VERSION}: ``const`` rewritten as a one-value
``enum``, no defaults written into the data, formats not checked, and fastjsonschema's
exception classes replaced by local ones, so that kgit needs no fastjsonschema at run time.
``validate(data)`` returns the data unchanged or raises JsonSchemaValueException.
"""

SCHEMA_SHA256 = "{digest}"

'''
    footer = f"\n\n\nvalidate = {root.group(1)}\n"
    return header + code.rstrip("\n") + footer


def main() -> None:
    text = generate(SCHEMA.read_bytes())
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text)} characters)", file=sys.stderr)


if __name__ == "__main__":
    main()
