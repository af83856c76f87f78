"""Stage 5, overlay: kustomize-style patches and extra resources on top of an app's objects.

An overlay file under ``overlays/`` holds one or more YAML documents, each one of:

- a **strategic merge patch**: a partial Kubernetes object, matched to one of the app's
  objects by apiVersion, kind and ``metadata.name`` (and namespace, when it has one), as a
  kustomize ``patches:`` entry with a patch file;
- a **JSON patch** (RFC 6902): ``{apiVersion: kgit.dev/v1alpha1, kind: JsonPatch,
  target: {kind, name, group?, version?, namespace?}, patch: [{op, path, value}...]}``,
  as a kustomize ``patches:`` entry with a ``target``;
- **extra resources**: ``{apiVersion: kgit.dev/v1alpha1, kind: Resources, items: [...]}``,
  full objects added to the app, as kustomize ``resources:``.

Within a file, resources are added first and patches then apply in document order (so a
patch may change an added resource), as kustomize does. Secrets with literal values are
refused: the values would be committed to Git (``spec.secrets`` with ``fromEnv`` keeps
them out). An overlay stays inside its app (``Scope``): it may not emit kgit's own control
objects (the apply lock Lease, the ApplySet parent), a built-in Namespace, or objects in a
built-in namespace or in a namespace another part of the spec owns. Every error names the
overlay file and the line:col of what is wrong.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from compiler.compile.load import Positions, load_documents_text, read_tree_text
from compiler.compile.overlay.jsonpatch import OPERATIONS, JsonPatchError, apply_patch
from compiler.compile.overlay.strategic_merge import PatchError, check_directives, merge_object
from compiler.compile.render.removed_apis import removed_in
from compiler.compile.validate.fields import DNS_SUBDOMAIN
from compiler.core.errors import Location, Problem, SpecError
from compiler.core.identity import ObjectId
from compiler.core.ownership import BUILTIN_NAMESPACES, control_objects
from compiler.core.plaindata import clone
from compiler.core.sources import SourceTree
from compiler.core.versions import KubeVersion

# kustomize's rule: a namespace given to Resources goes onto namespaced kinds only.
# Compile has no API server to ask, so the cluster-scoped kinds kgit and its add-ons
# emit are listed here, as kustomize lists them in its builtin schema.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "PodSecurityPolicy",
        "APIService",
        "RuntimeClass",
        "CSIDriver",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "VolumeAttachment",
    }
)


__all__ = [
    "JsonPatch",
    "Overlay",
    "Resources",
    "Scope",
    "StrategicMergePatch",
    "apply_overlay",
    "load_overlay",
    "parse_overlay",
    "removed_api_warnings",
]

KGIT_API_VERSION = "kgit.dev/v1alpha1"
OVERLAY_DIR = "overlays/"
SECRET_HINT = "put the Secret in spec.secrets with fromEnv, so its values stay out of Git"
TARGET_FIELDS = ("kind", "name", "group", "version", "namespace")

# The shapes Kubernetes accepts (apimachinery validation): a group is a DNS subdomain and a
# version a DNS-1035 label; a kind is a name of letters and digits; most object names are
# DNS subdomains, RBAC names are path segments ("system:aggregate-to-edit"); a namespace
# is a DNS label.
_API_VERSION = re.compile(
    r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    r"[a-z](?:[-a-z0-9]*[a-z0-9])?"
)
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_PATH_SEGMENT_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
# Kubernetes' limit on all annotations of an object together (TotalAnnotationSizeLimitB).
MAX_ANNOTATIONS_BYTES = 256 * 1024

Origins = dict[ObjectId, Location]


def is_secret(obj: dict[str, Any]) -> bool:
    """A core Secret, however its kind is capitalised (the guard must not be dodged)."""
    return str(obj.get("kind", "")).lower() == "secret" and obj.get("apiVersion") == "v1"


@dataclass(frozen=True)
class StrategicMergePatch:
    patch: dict[str, Any]
    positions: Positions


@dataclass(frozen=True)
class JsonPatch:
    target: dict[str, str]
    operations: tuple[dict[str, Any], ...]
    positions: Positions


@dataclass(frozen=True)
class Resources:
    items: tuple[dict[str, Any], ...]
    positions: Positions


OverlayDocument = StrategicMergePatch | JsonPatch | Resources


@dataclass(frozen=True)
class Scope:
    """Where the overlay of one app may put objects.

    ``claimed`` holds the namespaces that other parts of the spec own (other apps, external
    services, secrets, add-ons): an object there would change what they deploy, so only an
    overlay of an app in that namespace may add to it.
    """

    cluster: str
    namespace: str  # the app's own
    claimed: frozenset[str] = frozenset()
    reserved: frozenset[tuple[str, str, str]] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reserved", control_objects(self.cluster))

    def refusal(self, obj: dict[str, Any]) -> str | None:
        """Why the overlay may not emit ``obj``, or None."""
        kind = str(obj.get("kind"))
        meta = obj.get("metadata") or {}
        name, namespace = str(meta.get("name")), str(meta.get("namespace") or "")
        if (kind, namespace, name) in self.reserved:
            return f"{kind} {namespace}/{name} is kgit's own control object for this cluster"
        if kind == "Namespace" and name in BUILTIN_NAMESPACES:
            return f"Namespace {name} is built into every cluster; kgit never adopts it"
        if kind == "Namespace" and name in self.claimed:
            return f"Namespace {name} belongs to another part of the spec"
        if not namespace or namespace == self.namespace or kind in CLUSTER_SCOPED_KINDS:
            return None
        if namespace in BUILTIN_NAMESPACES:
            return f"{_describe(obj)} is in the built-in namespace {namespace}"
        if namespace in self.claimed:
            return (
                f"{_describe(obj)} is in namespace {namespace}, which another part of the "
                f"spec owns (this app's namespace is {self.namespace})"
            )
        return None


SCOPE_HINT = (
    "an overlay adds objects to its own app's namespace; put the object in the overlay of an "
    "app of that namespace"
)


@dataclass(frozen=True)
class Overlay:
    """One parsed overlay file."""

    path: str
    documents: tuple[OverlayDocument, ...] = ()


def _error(
    positions: Positions,
    path: tuple[str | int, ...],
    message: str,
    hint: str | None = None,
    *,
    key: bool = False,
) -> SpecError:
    return SpecError([Problem(positions.of(path, key=key), message, hint)])


def load_overlay(tree: SourceTree, relpath: str) -> Overlay:
    """Read and check an overlay file from the tree (patch targets are checked on apply)."""
    normal = posixpath.normpath(relpath)
    if not normal.startswith(OVERLAY_DIR) or relpath.startswith("/"):
        raise SpecError(
            [
                Problem(
                    Positions(relpath).of(()),
                    f"overlay {relpath!r} is outside {OVERLAY_DIR}",
                    "keep overlay files in the overlays/ directory of the repository",
                )
            ]
        )
    return parse_overlay(read_tree_text(tree, relpath), relpath)


def parse_overlay(text: str, file: str) -> Overlay:
    """Parse the text of an overlay file (named ``file`` in errors)."""
    documents = []
    for data, positions in load_documents_text(text, file):
        documents.append(_document(data, positions))
    if not documents:
        raise SpecError([Problem(Positions(file).of(()), "the overlay file has no documents")])
    return Overlay(file, tuple(documents))


def _require_str(
    data: dict[str, Any], path: tuple[str | int, ...], positions: Positions, field: str, what: str
) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        where = (*path, field) if field in data else path
        raise _error(positions, where, f"{what} needs a {field!r} string")
    return value


def _check_object(
    obj: Any, path: tuple[str | int, ...], positions: Positions, what: str
) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _error(positions, path, f"{what} must be a mapping")
    _require_str(obj, path, positions, "apiVersion", what)
    _require_str(obj, path, positions, "kind", what)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise _error(positions, path, f"{what} needs metadata.name")
    _require_str(metadata, (*path, "metadata"), positions, "name", what)
    _check_identity(obj, path, positions, what)
    if is_secret(obj):
        for field in ("data", "stringData"):
            if field in obj:
                raise _error(
                    positions,
                    (*path, field),
                    f"a Secret in an overlay must not hold {field}: "
                    "its values would be committed to Git",
                    SECRET_HINT,
                    key=True,
                )
    return obj


def _check_identity(
    obj: dict[str, Any], path: tuple[str | int, ...], positions: Positions, what: str
) -> None:
    """apiVersion, kind, name and namespace in the shapes the API server accepts."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    if not _API_VERSION.fullmatch(api_version):
        raise _error(
            positions,
            (*path, "apiVersion"),
            f"{what}'s apiVersion {api_version!r} is not GROUP/VERSION or VERSION "
            "(such as v1 or apps/v1)",
        )
    if not _KIND.fullmatch(kind):
        raise _error(
            positions,
            (*path, "kind"),
            f"{what}'s kind {kind!r} is not a kind name (letters and digits, such as ConfigMap)",
        )
    metadata = obj["metadata"]
    name = metadata["name"]
    where = (*path, "metadata", "name")
    if kind in _PATH_SEGMENT_KINDS:
        if name in (".", "..") or "/" in name or "%" in name:
            raise _error(
                positions,
                where,
                f"{what}'s metadata.name {name!r} may not contain '/' or '%', nor be '.' or '..'",
            )
    elif len(name) > 253 or not DNS_SUBDOMAIN.fullmatch(name):
        raise _error(
            positions,
            where,
            f"{what}'s metadata.name {name!r} is not a DNS-1123 subdomain (lowercase letters, "
            "digits, '-' and '.', at most 253 characters)",
        )
    namespace = metadata.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace)
    ):
        raise _error(
            positions,
            (*path, "metadata", "namespace"),
            f"{what}'s metadata.namespace {namespace!r} is not a DNS-1123 label (lowercase "
            "letters, digits and '-', at most 63 characters)",
        )


def _document(data: Any, positions: Positions) -> OverlayDocument:
    if not isinstance(data, dict):
        raise _error(positions, (), "an overlay document must be a mapping")
    if data.get("apiVersion") == KGIT_API_VERSION:
        kind = data.get("kind")
        if kind == "JsonPatch":
            return _json_patch(data, positions)
        if kind == "Resources":
            return _resources(data, positions)
        raise _error(
            positions,
            ("kind",),
            f"unknown overlay kind {kind!r} for {KGIT_API_VERSION}; "
            "expected JsonPatch or Resources",
        )
    patch = _check_object(data, (), positions, "a strategic merge patch")
    try:
        check_directives(patch)
    except PatchError as exc:
        raise _error(positions, exc.path, exc.message, key=True) from None
    return StrategicMergePatch(patch, positions)


def _unknown_keys(
    data: dict[str, Any],
    allowed: tuple[str, ...],
    path: tuple[str | int, ...],
    positions: Positions,
) -> None:
    for key in data:
        if key not in allowed:
            raise _error(
                positions,
                (*path, key),
                f"unknown field {key!r}; expected " + ", ".join(allowed),
                key=True,
            )


def _json_patch(data: dict[str, Any], positions: Positions) -> JsonPatch:
    _unknown_keys(data, ("apiVersion", "kind", "metadata", "target", "patch"), (), positions)
    target = data.get("target")
    if not isinstance(target, dict):
        raise _error(
            positions,
            ("target",) if "target" in data else (),
            "a JsonPatch needs a target: {kind, name}",
        )
    _unknown_keys(target, TARGET_FIELDS, ("target",), positions)
    for field in ("kind", "name"):
        _require_str(target, ("target",), positions, field, "the target")
    operations = data.get("patch")
    if not isinstance(operations, list) or not operations:
        raise _error(
            positions,
            ("patch",) if "patch" in data else (),
            "a JsonPatch needs a non-empty patch list of operations",
        )
    for index, op in enumerate(operations):
        where = ("patch", index)
        if not isinstance(op, dict):
            raise _error(positions, where, "an operation must be a mapping {op, path, value}")
        _unknown_keys(op, ("op", "path", "value", "from"), where, positions)
        name = op.get("op")
        if name not in OPERATIONS:
            raise _error(
                positions,
                (*where, "op") if "op" in op else where,
                f"op must be one of {', '.join(OPERATIONS)}",
            )
        for field in ("path", "from") if name in ("move", "copy") else ("path",):
            if not isinstance(op.get(field), str):
                raise _error(
                    positions,
                    (*where, field) if field in op else where,
                    f"a {name} operation needs a {field!r} JSON pointer string",
                )
        if name in ("add", "replace", "test") and "value" not in op:
            raise _error(positions, where, f"a {name} operation needs a 'value'")
        writes_values = str(op["path"]).split("/")[1:2] in (["data"], ["stringData"])
        if (
            target["kind"].lower() == "secret"
            and name in ("add", "replace", "copy", "move")
            and (writes_values)
        ):
            raise _error(
                positions,
                (*where, "path"),
                "a JsonPatch must not write Secret values: they would be committed to Git",
                SECRET_HINT,
            )
    return JsonPatch(dict(target), tuple(operations), positions)


def _resources(data: dict[str, Any], positions: Positions) -> Resources:
    _unknown_keys(data, ("apiVersion", "kind", "metadata", "items"), (), positions)
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise _error(
            positions,
            ("items",) if "items" in data else (),
            "a Resources document needs a non-empty items list",
        )
    for index, item in enumerate(items):
        _check_object(item, ("items", index), positions, "a resource")
    return Resources(tuple(items), positions)


# --- applying ------------------------------------------------------------------------------


def _describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _app_namespace(objects: list[dict[str, Any]]) -> str | None:
    for obj in objects:
        namespace = (obj.get("metadata") or {}).get("namespace")
        if namespace:
            return str(namespace)
    return None


def _matches_patch(obj: dict[str, Any], patch: dict[str, Any]) -> bool:
    meta, patch_meta = obj.get("metadata") or {}, patch.get("metadata") or {}
    if (obj.get("apiVersion"), obj.get("kind"), meta.get("name")) != (
        patch.get("apiVersion"),
        patch.get("kind"),
        patch_meta.get("name"),
    ):
        return False
    wanted = patch_meta.get("namespace")
    return wanted is None or wanted == meta.get("namespace")


def _matches_target(obj: dict[str, Any], target: dict[str, str]) -> bool:
    meta = obj.get("metadata") or {}
    group, version = _group_version(str(obj.get("apiVersion", "")))
    actual = {
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "group": group,
        "version": version,
        "namespace": meta.get("namespace"),
    }
    return all(actual[field] == value for field, value in target.items())


def _not_found(objects: list[dict[str, Any]]) -> str:
    present = ", ".join(_describe(o) for o in objects) or "none"
    return f"the app's objects are: {present}"


def _annotation_bytes(obj: dict[str, Any]) -> int:
    """Size of all annotations as Kubernetes counts it: each key plus each value."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return 0
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())


def _too_many_annotations(obj: dict[str, Any]) -> str | None:
    size = _annotation_bytes(obj)
    if size <= MAX_ANNOTATIONS_BYTES:
        return None
    return (
        f"{_describe(obj)} has {size} bytes of annotations; Kubernetes allows at most "
        f"{MAX_ANNOTATIONS_BYTES} in total"
    )


def _add_resources(
    objects: list[dict[str, Any]], doc: Resources, scope: Scope | None, origins: Origins
) -> None:
    namespace = scope.namespace if scope else _app_namespace(objects)
    for index, item in enumerate(doc.items):
        too_many = _too_many_annotations(item)
        if too_many:
            raise _error(doc.positions, ("items", index, "metadata", "annotations"), too_many)
        item = clone(item)
        meta = item["metadata"]
        if namespace and item["kind"] not in CLUSTER_SCOPED_KINDS and not meta.get("namespace"):
            meta["namespace"] = namespace  # the app's objects all live in its namespace
        why = scope.refusal(item) if scope else None
        if why:
            field = "namespace" if "namespace" in doc.items[index]["metadata"] else "name"
            raise _error(doc.positions, ("items", index, "metadata", field), why, SCOPE_HINT)
        for existing in objects:
            if _matches_patch(existing, item) and (existing.get("metadata") or {}).get(
                "namespace"
            ) == meta.get("namespace"):
                raise _error(
                    doc.positions,
                    ("items", index, "metadata", "name"),
                    f"{_describe(item)} already exists in the app",
                    "change it with a patch document instead",
                )
        objects.append(item)
        origins[ObjectId.of(item)] = doc.positions.of(("items", index))


def _apply_strategic(objects: list[dict[str, Any]], doc: StrategicMergePatch) -> None:
    matches = [i for i, obj in enumerate(objects) if _matches_patch(obj, doc.patch)]
    if not matches:
        raise _error(
            doc.positions,
            ("metadata", "name"),
            f"patch target {doc.patch['apiVersion']} {_describe(doc.patch)} does not exist",
            _not_found(objects),
        )
    index = matches[0]
    try:
        merged = merge_object(objects[index], doc.patch)
    except PatchError as exc:
        raise _error(doc.positions, exc.path, exc.message, key=True) from None
    if merged is None:
        del objects[index]
    else:
        objects[index] = merged


def _apply_json(objects: list[dict[str, Any]], doc: JsonPatch) -> None:
    matches = [i for i, obj in enumerate(objects) if _matches_target(obj, doc.target)]
    if not matches:
        raise _error(
            doc.positions,
            ("target",),
            f"JsonPatch target {doc.target['kind']}/{doc.target['name']} does not exist",
            _not_found(objects),
        )
    for index in matches:
        try:
            patched = apply_patch(objects[index], doc.operations)
        except JsonPatchError as exc:
            raise _error(doc.positions, ("patch", exc.index, exc.field), exc.message) from None
        if not isinstance(patched, dict):
            raise _error(doc.positions, ("patch",), "the patch must leave an object (mapping)")
        objects[index] = patched


def _refuse_secret_values(objects: list[dict[str, Any]], doc: OverlayDocument) -> None:
    """The rule itself, checked on what each document leaves: no Secret with values.

    Reading an overlay already refuses the plain ways to write them, at their exact line;
    this also catches the roundabout ones (a ConfigMap's data turned into a Secret by a
    JsonPatch of /kind, a whole object replaced through the path "")."""
    for obj in objects:
        if is_secret(obj):
            for field in ("data", "stringData"):
                if field in obj:
                    raise _error(
                        doc.positions,
                        (),
                        f"this document leaves {_describe(obj)} holding {field}: "
                        "its values would be committed to Git",
                        SECRET_HINT,
                    )


def _refuse_annotation_excess(
    objects: list[dict[str, Any]], doc: OverlayDocument, origins: Origins
) -> None:
    """No object may leave with more annotations than Kubernetes stores (256 KiB)."""
    for obj in objects:
        if not (obj.get("metadata") or {}).get("annotations"):
            continue
        too_many = _too_many_annotations(obj)
        if too_many:
            where = origins.get(ObjectId.of(obj)) or doc.positions.of(())
            raise SpecError([Problem(where, too_many)])


def _refuse_out_of_scope(objects: list[dict[str, Any]], doc: OverlayDocument, scope: Scope) -> None:
    """The scope rule on what a patch leaves (a JsonPatch may rename or move an object)."""
    for obj in objects:
        why = scope.refusal(obj)
        if why:
            raise _error(doc.positions, (), f"this document leaves {why}", SCOPE_HINT)


def apply_overlay(
    objects: list[dict[str, Any]],
    overlay: Overlay,
    scope: Scope | None = None,
    origins: Origins | None = None,
) -> list[dict[str, Any]]:
    """New objects: ``objects`` with the overlay's resources added and patches applied.

    With a ``scope`` (the pipeline always passes one), every object the overlay leaves must
    be one its app may emit. ``origins``, when given, receives where each added resource
    is written (its key -> overlay file:line:col), so later stages can point at it."""
    result = clone(objects)
    origins = origins if origins is not None else {}
    resources = [doc for doc in overlay.documents if isinstance(doc, Resources)]
    patches = [doc for doc in overlay.documents if not isinstance(doc, Resources)]
    for doc in [*resources, *patches]:
        if isinstance(doc, Resources):
            _add_resources(result, doc, scope, origins)
        elif isinstance(doc, StrategicMergePatch):
            _apply_strategic(result, doc)
        else:
            _apply_json(result, doc)
        _refuse_secret_values(result, doc)
        if scope is not None:
            _refuse_out_of_scope(result, doc, scope)
    _refuse_annotation_excess(result, overlay.documents[-1], origins)
    return result


def removed_api_warnings(overlay: Overlay, version: KubeVersion) -> list[str]:
    """One warning per resource of the overlay whose API ``version`` no longer serves:
    the API server would refuse it ("no matches for kind") at apply time."""
    found = []
    for doc in overlay.documents:
        if not isinstance(doc, Resources):
            continue
        for index, item in enumerate(doc.items):
            since = removed_in(item, version)
            if since is None:
                continue
            where = doc.positions.of(("items", index, "apiVersion"))
            found.append(
                f"{where}: {item['kind']} {item['metadata']['name']} ({item['apiVersion']}): "
                f"Kubernetes {version.major}.{version.minor} no longer serves this API "
                f"(removed in {since}); applying it will fail"
            )
    return found
