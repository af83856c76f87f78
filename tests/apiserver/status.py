"""``Status`` error objects, shaped as ``k8s.io/apimachinery/pkg/api/errors`` builds them.

Reference: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
and https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#response-status-kind
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            out["details"] = self.details
        out["code"] = self.code
        return out


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    out["kind"] = kind
    return out


def not_found(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        404, "NotFound", f'{qualified} "{name}" not found', _details(name, group, plural)
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(name, group, plural)
    )


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
        _details(name, group, plural),
    )


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


@dataclass(frozen=True)
class Cause:
    """One field error (``field.Error`` upstream)."""

    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueForbidden, ...
    field: str
    detail: str
    value: Any = None

    def message(self) -> str:
        prefix = {
            "FieldValueInvalid": f"Invalid value: {go_value(self.value)}: ",
            "FieldValueRequired": "Required value: ",
            "FieldValueForbidden": "Forbidden: ",
            "FieldValueNotSupported": f"Unsupported value: {go_value(self.value)}: ",
            "FieldValueDuplicate": f"Duplicate value: {go_value(self.value)}",
            "FieldValueTypeInvalid": f"Invalid value: {go_value(self.value)}: ",
        }[self.reason]
        return prefix + self.detail

    def as_cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message(), "field": self.field}


class GoLiteral(str):
    """A field error value already written as Go prints it (e.g. ``0x0`` for a uint64)."""


def go_value(value: Any) -> str:
    """Render a value as field errors do: since v1.33 as compact JSON (1.32 used Go's
    ``%#v``, ``[]string{"a"}``), checked against a real v1.36 server."""
    if isinstance(value, GoLiteral):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def invalid(group: str, kind: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid: ``Deployment.apps "web" is invalid: spec.selector: ...`` (NewInvalid)."""
    qualified = f"{kind}.{group}" if group else kind
    parts = [f"{c.field}: {c.message()}" for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {joined}',
        {**_details(name, group, kind), "causes": [c.as_cause() for c in causes]},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types "
        f"include: {', '.join(PATCH_TYPES)}"
        if content_type
        else "the body of the request was in an unknown format",
        {},
    )


PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def not_found_path() -> ApiError:
    """A URL that names no resource: upstream answers 404 with reason NotFound."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
