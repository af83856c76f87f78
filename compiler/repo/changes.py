"""What a change does to the compiled output: two versions of out/, compared object by object.

Objects are matched by identity (API group, kind, namespace, name), as a cluster matches
them, never by file text: moving an object between files is no change, and renaming an app
is one object removed and one added per kind. Host files (scripts, kubeadm configs) are
compared as text. ``index.json`` is derived from the rest and not compared.

Values are masked as each change is built, so nothing downstream (text, JSON, markdown,
commit messages) can see a Secret's data.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from compiler.compile.load import load_all_trusted
from compiler.core.errors import OutputError
from compiler.core.identity import ObjectId
from compiler.core.masking import mask_pair
from compiler.core.objdiff import FieldChange, field_changes, yaml_diff

_CONTAINER_IMAGE = re.compile(r"ontainers\[(?:name=)?([^\]]+)\]\.image$")
Action = Literal["added", "removed", "changed"]
# Annotations that kgit itself writes: a diff shows them, marked, so reviewers can tell
# them apart from changes a person made in cluster.yaml.
KGIT_ANNOTATIONS = ("kubernetes.io/change-cause", "kgit.dev/source")


@dataclass(frozen=True)
class ObjectChange:
    """One object added, removed or changed; ``before``/``after`` are already masked."""

    action: Action
    key: ObjectId
    api_version: str
    file: str  # where it is in out/ (the after side's file when both exist)
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[FieldChange, ...]  # only for "changed"

    @property
    def title(self) -> str:
        where = f"{self.key.namespace}/{self.key.name}" if self.key.namespace else self.key.name
        return f"{self.api_version} {self.key.kind} {where}"

    def diff(self) -> str:
        return yaml_diff(self.before, self.after, label=self.file)


@dataclass(frozen=True)
class HostFileChange:
    action: Action
    path: str  # relative to out/, e.g. hosts/k8s-master/provision.sh
    diff: str  # unified diff of the text


@dataclass(frozen=True)
class OutputChanges:
    objects: tuple[ObjectChange, ...]
    host_files: tuple[HostFileChange, ...]

    def has_changes(self) -> bool:
        return bool(self.objects or self.host_files)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.objects if change.action == action)

    def summary(self) -> str:
        parts = [f"{self.count(a)} {a}" for a in ("changed", "added", "removed")]
        files = len(self.host_files)
        return f"{', '.join(parts)} object(s); {files} host file(s) changed"


def is_kgit_annotation(path: str) -> bool:
    """Whether a field path is one of the annotations kgit writes by itself."""
    return any(path.endswith(f"annotations.{name}") for name in KGIT_ANNOTATIONS)


def parse_objects(files: Mapping[str, bytes]) -> dict[ObjectId, tuple[str, dict[str, Any]]]:
    """Every object in the manifests/ files of an out/: key -> (file, body)."""
    objects: dict[ObjectId, tuple[str, dict[str, Any]]] = {}
    for path, data in sorted(files.items()):
        if not (path.startswith("manifests/") and path.endswith((".yaml", ".yml"))):
            continue
        try:
            documents = load_all_trusted(data.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise OutputError(f"out/{path} is not valid YAML: {exc}") from None
        for body in documents:
            if isinstance(body, dict):
                objects[ObjectId.of(body)] = (path, body)
    return objects


def _host_diff(path: str, before: bytes | None, after: bytes | None) -> str:
    old = before.decode("utf-8", "replace").splitlines(keepends=True) if before else []
    new = after.decode("utf-8", "replace").splitlines(keepends=True) if after else []
    lines = difflib.unified_diff(old, new, fromfile=f"a/{path}", tofile=f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _action(before: object, after: object) -> Action:
    if before is None:
        return "added"
    return "removed" if after is None else "changed"


def compare_outputs(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> OutputChanges:
    """The object-by-object and host-file changes from one compiled out/ to another."""
    old_objects, new_objects = parse_objects(before), parse_objects(after)
    objects = []
    for key in sorted(set(old_objects) | set(new_objects)):
        old_file, old_body = old_objects.get(key, (None, None))
        new_file, new_body = new_objects.get(key, (None, None))
        if old_body == new_body:
            continue
        masked_before, masked_after = mask_pair(old_body, new_body)
        action = _action(old_body, new_body)
        fields = field_changes(masked_before, masked_after) if action == "changed" else []
        body = new_body or old_body or {}
        objects.append(
            ObjectChange(
                action=action,
                key=key,
                api_version=str(body.get("apiVersion", "")),
                file=str(new_file or old_file),
                before=masked_before,
                after=masked_after,
                fields=tuple(fields),
            )
        )
    host_files = []
    host_paths = {p for p in (*before, *after) if p.startswith("hosts/")}
    for path in sorted(host_paths):
        old, new = before.get(path), after.get(path)
        if old != new:
            host_files.append(HostFileChange(_action(old, new), path, _host_diff(path, old, new)))
    return OutputChanges(tuple(objects), tuple(host_files))


@dataclass(frozen=True)
class ImageChange:
    container: str
    before: str
    after: str


def image_changes(changes: OutputChanges) -> list[ImageChange]:
    """Container images that changed, once each (for commit messages)."""
    seen: dict[tuple[str, str, str], None] = {}
    for change in changes.objects:
        for field in change.fields:
            match = _CONTAINER_IMAGE.search(field.path)
            if match is None:
                continue
            container = match.group(1)
            if isinstance(field.before, str) and isinstance(field.after, str):
                seen[(container, field.before, field.after)] = None
    return [ImageChange(*item) for item in seen]
