"""Regenerate ``schema_v1_32.json`` from the Kubernetes 1.32 OpenAPI definitions.

The test server needs, for every field of the kinds it serves, the field's type and the
structural annotations that server-side apply and strategic merge use
(``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``,
``x-kubernetes-patch-merge-key``, ``x-kubernetes-patch-strategy``). They come from the
upstream OpenAPI document as packaged by ``kubernetes-validate`` (a dev dependency); this
script keeps only what the server reads, so the server itself needs nothing but the JSON.

Run: ``.venv/bin/python -m tests.apiserver.gen_schema``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]

VERSION = "v1.32.0-local-strict"
OUT = Path(__file__).with_name("schema_v1_32.json")


def _compact(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    if ref:
        out["ref"] = ref.rsplit("/", 1)[-1]
        return out
    types = node.get("type")
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), None)
    if "oneOf" in node:
        types = "intorstr"
    out["t"] = types or "any"
    if types == "array" and "items" in node:
        out["items"] = _compact(node["items"])
    if types == "object" and isinstance(node.get("additionalProperties"), dict):
        out["values"] = _compact(node["additionalProperties"])
    for src, dst in (
        ("x-kubernetes-list-type", "lt"),
        ("x-kubernetes-list-map-keys", "keys"),
        ("x-kubernetes-map-type", "mt"),
        ("x-kubernetes-patch-merge-key", "pmk"),
        ("x-kubernetes-patch-strategy", "ps"),
    ):
        if src in node:
            out[dst] = node[src]
    return out


def generate() -> dict[str, Any]:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / VERSION
    defs = json.loads((root / "_definitions.json").read_text())["$defs"]
    out: dict[str, Any] = {}
    for name, node in sorted(defs.items()):
        entry: dict[str, Any] = {}
        if "properties" in node:
            entry["props"] = {p: _compact(v) for p, v in sorted(node["properties"].items())}
            if node.get("required"):
                entry["required"] = node["required"]
            if node.get("x-kubernetes-map-type"):
                entry["mt"] = node["x-kubernetes-map-type"]
            if isinstance(node.get("additionalProperties"), dict):
                entry["values"] = _compact(node["additionalProperties"])
        else:
            entry = _compact(node)
        gvk = node.get("x-kubernetes-group-version-kind")
        if gvk:
            entry["gvk"] = [[g["group"], g["version"], g["kind"]] for g in gvk]
        out[name] = entry
    return out


if __name__ == "__main__":
    OUT.write_text(json.dumps(generate(), sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")
