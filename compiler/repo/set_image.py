"""Changing an app's image in cluster.yaml in place: only the image's characters change.

The loader knows where each value starts; PyYAML's scanner, run over the same text, gives
the exact span and quoting style of that scalar. The new value is spliced into the text, so
comments, key order, indentation and every other byte stay as the user wrote them. The
result is parsed again and must equal the old data with only the chosen images replaced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from compiler.compile.load import Document, PathKey
from compiler.compile.model import App, Cluster
from compiler.compile.pipeline import CompileOptions, load_and_validate
from compiler.compile.schema import cluster_schema
from compiler.core import yamlout
from compiler.core.errors import KgitError, Location
from compiler.core.plaindata import clone
from compiler.core.sources import SourceTree


@dataclass(frozen=True)
class ImageAssignment:
    """``APP[/CONTAINER]=IMAGE`` as given on the command line."""

    app: str
    container: str | None
    image: str

    def __str__(self) -> str:
        target = f"{self.app}/{self.container}" if self.container else self.app
        return f"{target}={self.image}"


@dataclass(frozen=True)
class ImageEdit:
    """One image to replace: where it is in the spec, and its old and new values."""

    app: str
    namespace: str
    container: str
    path: PathKey
    location: Location
    before: str
    after: str


def parse_assignment(text: str) -> ImageAssignment:
    target, sep, image = text.partition("=")
    app, _slash, container = target.partition("/")
    if not sep or not app or not image or (_slash and not container):
        raise KgitError(f"{text!r} is not APP[/CONTAINER]=IMAGE", hint="e.g. nginx=nginx:1.16.1")
    check_image(image)
    return ImageAssignment(app, container or None, image)


def check_image(image: str) -> None:
    definition = cluster_schema()["$defs"]["image"]
    if len(image) > definition.get("maxLength", 512) or not re.match(definition["pattern"], image):
        raise KgitError(
            f"{image!r} is not a valid image reference",
            hint=definition.get("x-hint", "e.g. nginx:1.25"),
        )


def _app_index(document: Document, app: App) -> int:
    """Where ``app`` is in spec.apps now: found by namespace and name (its identity, see
    ``entry_source``), since the model records no index."""
    for index, raw in enumerate(document.data["spec"].get("apps") or []):
        if raw.get("name") == app.name and raw.get("namespace", "default") == app.namespace:
            return index
    # validation guarantees the app is there; a miss is a bug, said plainly
    raise KgitError(f"cannot locate app {app.namespace}/{app.name} in the spec")


def plan_edits(
    document: Document,
    cluster: Cluster,
    assignments: Sequence[ImageAssignment],
    namespace: str | None = None,
) -> list[ImageEdit]:
    """Which scalars to replace; a clear error for an unknown or ambiguous app or container."""
    edits: dict[PathKey, ImageEdit] = {}
    known = ", ".join(f"{a.namespace}/{a.name}" for a in cluster.apps) or "none"
    for assignment in assignments:
        apps = [a for a in cluster.apps if a.name == assignment.app]
        if namespace is not None:
            apps = [a for a in apps if a.namespace == namespace]
        if not apps:
            where = f" in namespace {namespace!r}" if namespace else ""
            raise KgitError(f"no app named {assignment.app!r}{where}; the apps are: {known}")
        if len(apps) > 1:
            spaces = ", ".join(sorted(a.namespace for a in apps))
            raise KgitError(
                f"app {assignment.app!r} exists in several namespaces ({spaces})",
                hint="choose one with -n/--namespace",
            )
        app = apps[0]
        index = _app_index(document, app)
        raw = document.data["spec"]["apps"][index]
        container = assignment.container or app.name
        if container == app.name:
            path: PathKey = ("spec", "apps", index, "image")
        else:
            names = [c.get("name") for c in raw.get("initContainers") or []]
            if container not in names:
                listed = ", ".join([f"{app.name} (main)", *(f"{n} (init)" for n in names)])
                raise KgitError(
                    f"app {app.namespace}/{app.name} has no container {container!r}; "
                    f"its containers are: {listed}"
                )
            path = ("spec", "apps", index, "initContainers", names.index(container), "image")
        if path in edits:
            raise KgitError(f"the image of {app.name}/{container} is set twice")
        value: Any = document.data
        for part in path:
            value = value[part]
        edits[path] = ImageEdit(
            app.name,
            app.namespace,
            container,
            path,
            document.positions.of(path),
            str(value),
            assignment.image,
        )
    return list(edits.values())


def _scalar_span(text: str, location: Location) -> tuple[int, int, str | None]:
    """Start and end offsets and style of the scalar token that starts at ``location``."""
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        mark = token.start_mark
        if isinstance(token, yaml.ScalarToken) and (mark.line + 1, mark.column + 1) == (
            location.line,
            location.col,
        ):
            return mark.index, token.end_mark.index, token.style
    raise KgitError(f"{location}: cannot find the image's text in the file")


def _quoted(image: str, style: str | None) -> str:
    """The image as YAML text in the original quoting style (plain only when it stays a str)."""
    if style == "'":
        return "'" + image.replace("'", "''") + "'"
    if style == '"' or yamlout.needs_quotes(image) or yaml.safe_load(image) != image:
        return '"' + image.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return image


def apply_edits(text: str, edits: Sequence[ImageEdit]) -> str:
    """The spec text with each edit spliced in; everything else byte-identical."""
    spans = []
    for edit in edits:
        start, end, style = _scalar_span(text, edit.location)
        if style in ("|", ">"):
            raise KgitError(f"{edit.location}: the image is a block scalar; edit it by hand")
        spans.append((start, end, _quoted(edit.after, style)))
    for start, end, replacement in sorted(spans, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def verify_edit(old: dict[str, Any], new_text: str, edits: Sequence[ImageEdit]) -> None:
    """The new text must parse to the old data with only the edited images changed."""
    expected = clone(old)
    for edit in edits:
        target: Any = expected
        for part in edit.path[:-1]:
            target = target[part]
        target[edit.path[-1]] = edit.after
    if yaml.safe_load(new_text) != expected:
        raise KgitError("editing the image would change more than the image; nothing written")


def edit_spec(
    tree: SourceTree,
    options: CompileOptions,
    assignments: Sequence[ImageAssignment],
    namespace: str | None = None,
) -> tuple[str, list[ImageEdit]]:
    """The spec's new text and the edits made; the spec must be valid before and after."""
    document, cluster = load_and_validate(tree, options)
    edits = plan_edits(document, cluster, assignments, namespace)
    new_text = apply_edits(document.text, edits)
    verify_edit(document.data, new_text, edits)
    load_and_validate(with_file(tree, options.spec_path, new_text.encode()), options)
    return new_text, edits


@dataclass(frozen=True)
class _TreeWithFile:
    """A SourceTree with one file replaced (the edited spec), everything else as it was."""

    base: SourceTree
    relpath: str
    data: bytes

    def read_bytes(self, relpath: str) -> bytes:
        return self.data if relpath == self.relpath else self.base.read_bytes(relpath)

    def is_file(self, relpath: str) -> bool:
        return relpath == self.relpath or self.base.is_file(relpath)

    def is_dir(self, relpath: str) -> bool:
        return relpath != self.relpath and self.base.is_dir(relpath)


def with_file(tree: SourceTree, relpath: str, data: bytes) -> SourceTree:
    return _TreeWithFile(tree, relpath, data)
