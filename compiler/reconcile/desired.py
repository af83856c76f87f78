"""Desired state: the objects of out/manifests, exactly as compiled and committed.

``read_desired(out_dir)`` reads out/ from disk; ``desired_from_files(files)`` takes the same
files as bytes (relative to out/), so that a rollback can pass out/ as it was at an earlier
Git revision. Objects keep their order: files by path, documents as written. The digest
covers every manifest file, so an apply can refuse a plan made against other files.

Secrets declared in ``spec.secrets`` are compiled without values and carry the
``kgit.dev/from-env`` annotation (data key -> environment variable); ``with_secret_values``
fills them from the environment at plan/apply time only, never on disk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compiler.compile import emit
from compiler.compile.load import load_all_trusted
from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.core.plaindata import clone

MANIFESTS_PREFIX = "manifests/"
FROM_ENV_ANNOTATION = "kgit.dev/from-env"


@dataclass(frozen=True)
class Desired:
    """What the cluster should hold, and which compiled output it came from."""

    cluster_name: str
    objects: tuple[dict[str, Any], ...]
    out_digest: str  # sha256 over the manifest files (paths and contents)

    def refs(self) -> list[ObjectId]:
        return [ObjectId.of(body) for body in self.objects]


def manifests_digest(files: Mapping[str, bytes]) -> str:
    """sha256 over every manifest file's path and content, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in files if _is_manifest(p)):
        digest.update(path.encode() + b"\0")
        digest.update(hashlib.sha256(files[path]).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def _is_manifest(path: str) -> bool:
    return path.startswith(MANIFESTS_PREFIX) and path.endswith((".yaml", ".yml"))


def read_cluster_name(out_dir: Path) -> str:
    """The cluster's name as out/index.json records it (no manifest is read)."""
    index = out_dir / "index.json"
    return _cluster_name({"index.json": index.read_bytes()} if index.is_file() else {})


def _cluster_name(files: Mapping[str, bytes]) -> str:
    raw = files.get("index.json")
    if raw is None:
        raise PlanError("out/index.json is missing; run `kgit compile` first")
    try:
        name = json.loads(raw).get("cluster")
    except (ValueError, AttributeError):
        raise PlanError("out/index.json is not valid JSON; run `kgit compile`") from None
    if not isinstance(name, str) or not name:
        raise PlanError("out/index.json does not name the cluster; run `kgit compile`")
    return name


def _documents(path: str, data: bytes) -> list[dict[str, Any]]:
    """The objects of one manifest file (comments, such as kgit's header, are ignored)."""
    try:
        documents = load_all_trusted(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"out/{path}:{mark.line + 1}:{mark.column + 1}" if mark else f"out/{path}"
        raise PlanError(f"{where}: not valid YAML; run `kgit compile`") from None
    objects = []
    for number, body in enumerate(documents, start=1):
        if body is None:
            continue
        if not isinstance(body, dict) or not all(body.get(k) for k in ("apiVersion", "kind")):
            raise PlanError(
                f"out/{path}: document {number} is not a Kubernetes object "
                "(apiVersion and kind are required)"
            )
        if not (body.get("metadata") or {}).get("name"):
            raise PlanError(f"out/{path}: document {number} has no metadata.name")
        objects.append(body)
    return objects


def desired_from_files(files: Mapping[str, bytes]) -> Desired:
    """Desired state from out/'s files (path relative to out/ -> bytes)."""
    objects: list[dict[str, Any]] = []
    seen: dict[ObjectId, str] = {}
    for path in sorted(p for p in files if _is_manifest(p)):
        for body in _documents(path, files[path]):
            ref = ObjectId.of(body)
            if ref in seen:
                raise PlanError(f"{ref} is defined twice: in out/{seen[ref]} and out/{path}")
            seen[ref] = path
            objects.append(body)
    return Desired(_cluster_name(files), tuple(objects), manifests_digest(files))


def read_desired(out_dir: Path, files: Mapping[str, bytes] | None = None) -> Desired:
    """Desired state from out/ on disk (``files``: what emit.read_out(out_dir) gave the
    caller already)."""
    files = emit.read_out(out_dir) if files is None else files
    if "index.json" not in files:
        raise PlanError(f"{out_dir}/index.json is missing; run `kgit compile` first")
    return desired_from_files(files)


def secret_env_vars(body: Mapping[str, Any]) -> dict[str, str]:
    """A from-env Secret's data key -> environment variable map ({} for other objects)."""
    if body.get("kind") != "Secret":
        return {}
    raw = ((body.get("metadata") or {}).get("annotations") or {}).get(FROM_ENV_ANNOTATION)
    if not raw:
        return {}
    try:
        mapping = json.loads(raw)
    except ValueError:
        raise PlanError(
            f"{ObjectId.of(dict(body))}: annotation {FROM_ENV_ANNOTATION} is not JSON"
        ) from None
    if not isinstance(mapping, dict):
        raise PlanError(
            f"{ObjectId.of(dict(body))}: annotation {FROM_ENV_ANNOTATION} must map keys to "
            "environment variable names"
        )
    return {str(k): str(v) for k, v in mapping.items()}


def with_secret_values(
    body: dict[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A copy of a from-env Secret with ``data`` (base64) read from the environment.

    ``data`` rather than ``stringData``: the server folds stringData into data, so a live
    Secret could never be compared with a desired one that used stringData.

    Other objects are returned unchanged. A missing variable is an error naming it; the
    values themselves never reach a message.
    """
    mapping = secret_env_vars(body)
    if not mapping:
        return body
    env = os.environ if environ is None else environ
    missing = sorted({var for var in mapping.values() if var not in env})
    if missing:
        raise PlanError(
            f"{ObjectId.of(body)} takes its values from the environment, but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            hint="export the variable(s) before running kgit plan/apply",
        )
    filled = clone(body)
    filled.pop("stringData", None)
    # surrogateescape: a value that is not UTF-8 reaches os.environ as surrogate escapes
    # (PEP 383); Secret data is bytes, so those are the bytes the Secret holds.
    filled["data"] = {
        key: base64.b64encode(env[var].encode("utf-8", "surrogateescape")).decode()
        for key, var in sorted(mapping.items())
    }
    return filled
