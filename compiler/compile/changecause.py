"""The ``kubernetes.io/change-cause`` annotation of Deployments.

``kubectl rollout history`` shows, for each revision, the change-cause that the Deployment
carried when the revision's ReplicaSet was created (the deployment controller copies the
Deployment's annotations onto it). kgit sets it so the live history tells the same story as
Git, in two places: on the Deployment's metadata (what the CHANGE-CAUSE column reads) and on
its pod template (so the cause travels with the template: ``kubectl rollout history
--revision N`` shows it, and each ReplicaSet's template keeps its own).

Rules, for each Deployment, comparing its pod template with the one in the previous out/
(both without the change-cause annotation itself):

- template unchanged: the previous annotation is kept verbatim (or stays absent), so a
  recompile is byte-identical and ``kgit compile --check`` is stable;
- template changed, or the Deployment is new: the explicit cause (``--change-cause``, or
  the commit message during ``compile --commit``) when given, else a generated summary such
  as ``image nginx:1.14.2 -> nginx:1.16.1`` or ``created: image nginx:1.14.2``.

Replicas live outside the template, so scaling never changes the cause (nor rolls pods).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import yaml

from compiler.compile.load import load_all_trusted
from compiler.compile.resources import ResourceSet
from compiler.core.identity import ObjectId

CHANGE_CAUSE = "kubernetes.io/change-cause"
MAX_LENGTH = 300  # a summary, not a diff: long causes are cut


class _PreviousDeployments:
    """The Deployments of the previous out/, read one file at a time.

    out/index.json says which file holds which object, so only the files of Deployments
    that exist now are parsed, and none is kept: on a 10,000-app cluster, holding every
    old Deployment at once cost more memory than the whole new render.
    """

    def __init__(self, previous: Mapping[str, bytes]) -> None:
        self.previous = previous
        self.recorded: dict[ObjectId, dict[str, Any]] = {}
        self.files = self._files_by_key(previous, self.recorded)

    @staticmethod
    def _files_by_key(
        previous: Mapping[str, bytes], recorded: dict[ObjectId, dict[str, Any]]
    ) -> dict[ObjectId, str] | None:
        try:
            index = json.loads(previous["index.json"])
            files = {}
            for entry in index["objects"]:
                if entry.get("kind") != "Deployment":
                    continue
                key = ObjectId(
                    str(entry["apiVersion"]),
                    entry["kind"],
                    entry.get("namespace") or "",
                    entry["name"],
                )
                files[key] = entry["file"]
                recorded[key] = entry
            return files
        except (KeyError, TypeError, ValueError):
            return None  # no usable index (hand-edited, or none yet): scan every file

    def unchanged_cause(self, key: ObjectId, digest: str) -> tuple[bool, str | None]:
        """(True, cause) when the index says the template is unchanged since last time."""
        entry = self.recorded.get(key) or {}
        if entry.get("podTemplateSha256") == digest and "changeCause" in entry:
            cause = entry["changeCause"]
            return True, None if cause is None else str(cause)
        return False, None

    def get(self, key: ObjectId) -> dict[str, Any] | None:
        if self.files is None:
            paths: list[str] = list(self.previous)
        elif key in self.files:
            paths = [self.files[key]]
        else:
            return None
        for path in paths:
            for doc in self._deployments_in(path):
                if ObjectId.of(doc) == key:
                    return doc
        return None

    def _deployments_in(self, path: str) -> list[dict[str, Any]]:
        data = self.previous.get(path)
        if (
            data is None
            or not path.startswith("manifests/")
            or not path.endswith((".yaml", ".yml"))
        ):
            return []
        try:
            documents = load_all_trusted(data.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return []  # a hand-broken old file just means "no history to keep"
        return [doc for doc in documents if _is_deployment(doc)]


def _is_deployment(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("kind") == "Deployment"
        and str(body.get("apiVersion", "")).startswith("apps/")
    )


def _template(body: Mapping[str, Any]) -> dict[str, Any]:
    template = (body.get("spec") or {}).get("template") or {}
    return template if isinstance(template, dict) else {}


def _without_cause(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template without its change-cause: a view sharing everything else (read only)."""
    stripped = dict(template)
    metadata = dict(stripped.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(CHANGE_CAUSE, None)
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    if metadata:
        stripped["metadata"] = metadata
    else:
        stripped.pop("metadata", None)
    return stripped


def template_digest(body: Mapping[str, Any]) -> str:
    """sha256 of a Deployment's pod template without its change-cause.

    out/index.json records it with the cause (``index_fields``), so the next compile can
    tell an unchanged template without reading the old manifest.
    """
    canonical = json.dumps(_without_cause(_template(body)), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def index_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """What out/index.json records of a Deployment for the next compile (empty otherwise)."""
    if not _is_deployment(body):
        return {}
    return {"podTemplateSha256": template_digest(body), "changeCause": _cause_of(body)}


def _cause_of(body: Mapping[str, Any]) -> str | None:
    annotations = (_template(body).get("metadata") or {}).get("annotations") or {}
    cause = annotations.get(CHANGE_CAUSE)
    return str(cause) if cause is not None else None


def _containers(spec: Mapping[str, Any], field: str) -> dict[str, dict[str, Any]]:
    return {str(c.get("name")): c for c in spec.get(field) or [] if isinstance(c, dict)}


def _env_changes(old: list[Any], new: list[Any], where: str) -> list[str]:
    before = {str(e.get("name")): e for e in old if isinstance(e, dict)}
    after = {str(e.get("name")): e for e in new if isinstance(e, dict)}
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            changes.append(f"env {name} added{where}")
        elif name not in after:
            changes.append(f"env {name} removed{where}")
        elif before[name] != after[name]:
            changes.append(f"env {name} changed{where}")
    return changes


def _container_changes(old_spec: Mapping[str, Any], new_spec: Mapping[str, Any]) -> list[str]:
    changes = []
    for field, noun in (("initContainers", "init container"), ("containers", "container")):
        before, after = _containers(old_spec, field), _containers(new_spec, field)
        single = field == "containers" and len(before) == len(after) == 1
        for name in sorted(set(before) | set(after)):
            if name not in before:
                changes.append(f"{noun} {name} added (image {after[name].get('image')})")
                continue
            if name not in after:
                changes.append(f"{noun} {name} removed")
                continue
            old, new = before[name], after[name]
            where = "" if single else f" in {noun} {name}"
            if old.get("image") != new.get("image"):
                changes.append(f"image {old.get('image')} -> {new.get('image')}{where}")
            changes += _env_changes(old.get("env") or [], new.get("env") or [], where)
            for key in sorted((set(old) | set(new)) - {"name", "image", "env"}):
                if old.get(key) != new.get(key):
                    changes.append(f"{key} changed{where}")
    return changes


def describe_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A short summary of how pod template ``old`` became ``new`` (both without the cause)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    changes = _container_changes(old_spec, new_spec)
    for key in sorted((set(old_spec) | set(new_spec)) - {"containers", "initContainers"}):
        if old_spec.get(key) != new_spec.get(key):
            changes.append(f"{key} changed")
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    for key in sorted(set(old_meta) | set(new_meta)):
        if old_meta.get(key) != new_meta.get(key):
            changes.append(f"pod {key} changed")
    return _shorten("; ".join(changes) or "pod template changed")


def describe_creation(template: Mapping[str, Any]) -> str:
    images = [str(c.get("image")) for c in (template.get("spec") or {}).get("containers") or []]
    return _shorten(f"created: image {', '.join(images)}")


def _shorten(text: str) -> str:
    text = " ".join(text.split())  # one line: history tables are one line per revision
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 3] + "..."


def _set_cause(body: dict[str, Any], cause: str | None) -> None:
    template = body.setdefault("spec", {}).setdefault("template", {})
    for metadata in (template.setdefault("metadata", {}), body.setdefault("metadata", {})):
        annotations = dict(metadata.get("annotations") or {})
        if cause is None:
            annotations.pop(CHANGE_CAUSE, None)
        else:
            annotations[CHANGE_CAUSE] = cause
        if annotations:
            metadata["annotations"] = annotations
        else:
            metadata.pop("annotations", None)


def annotate_change_causes(
    resources: ResourceSet, previous: Mapping[str, bytes], explicit: str | None
) -> None:
    """Set the change-cause of every Deployment in ``resources`` (mutates their bodies)."""
    explicit = _first_line(explicit)
    before = _PreviousDeployments(previous)
    for resource in resources:
        if not _is_deployment(resource.body):
            continue
        unchanged, kept = before.unchanged_cause(resource.key, template_digest(resource.body))
        if unchanged:
            _set_cause(resource.body, kept)  # verbatim, so recompiles are byte-identical
            continue
        current = _without_cause(_template(resource.body))
        old = before.get(resource.key)
        if old is None:
            cause: str | None = explicit or describe_creation(current)
        else:
            previous_template = _without_cause(_template(old))
            if previous_template == current:
                cause = _cause_of(old)  # verbatim, so recompiles are byte-identical
            else:
                cause = explicit or describe_change(previous_template, current)
        _set_cause(resource.body, cause)


def _first_line(explicit: str | None) -> str | None:
    """A commit message's subject line: history tables show one line per revision."""
    for line in (explicit or "").splitlines():
        if line.strip():
            return _shorten(line)
    return None
