"""Access to the JSON Schema of cluster.yaml, shipped inside the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_NAME = "cluster.schema.json"


def schema_text() -> str:
    """The schema as shipped: inside the installed wheel, or schema/ of a source checkout."""
    packaged = resources.files("compiler") / "schema" / SCHEMA_NAME
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "schema" / SCHEMA_NAME).read_text(
        encoding="utf-8"
    )


@cache
def cluster_schema() -> dict[str, Any]:
    return json.loads(schema_text())
