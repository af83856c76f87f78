"""The one place where Secret values are hidden before anything is shown or saved.

Every output path (plan text/json/markdown, saved plans, ``kgit diff``, logs) passes
objects through ``mask_secrets`` or ``mask_pair``. A changed value is shown only as a pair
of markers, never as the value or a hash of it (a hash of a short secret can be guessed).
"""

from __future__ import annotations

from typing import Any

from compiler.core.plaindata import clone

SENSITIVE = "(sensitive value)"
SENSITIVE_BEFORE = "(sensitive value, before)"
SENSITIVE_AFTER = "(sensitive value, changed)"
# Fields of a Secret whose values are secret, and annotations that can embed them.
_SECRET_FIELDS = ("data", "stringData")
_LEAKY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def is_secret(body: dict[str, Any] | None) -> bool:
    return (
        body is not None
        and body.get("kind") == "Secret"
        and str(body.get("apiVersion", "v1")) == "v1"
    )


def _masked_copy(body: dict[str, Any]) -> dict[str, Any]:
    masked = clone(body)
    annotations = (masked.get("metadata") or {}).get("annotations") or {}
    for name in _LEAKY_ANNOTATIONS:
        if name in annotations:
            annotations[name] = SENSITIVE
    return masked


def mask_secrets(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``body`` with every Secret value replaced by a marker."""
    if not is_secret(body):
        return body
    assert body is not None
    masked = _masked_copy(body)
    for name in _SECRET_FIELDS:
        if isinstance(masked.get(name), dict):
            masked[name] = {key: SENSITIVE for key in masked[name]}
    return masked


def mask_pair(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Mask two versions of one object so that a diff shows which values changed, not how."""
    if not (is_secret(before) or is_secret(after)):
        return before, after
    masked_before = _masked_copy(before) if before else None
    masked_after = _masked_copy(after) if after else None
    for name in _SECRET_FIELDS:
        old = _mapping((before or {}).get(name))
        new = _mapping((after or {}).get(name))
        if masked_before is not None and name in masked_before:
            masked_before[name] = {
                key: SENSITIVE if new.get(key) == value else SENSITIVE_BEFORE
                for key, value in old.items()
            }
        if masked_after is not None and name in masked_after:
            masked_after[name] = {
                key: SENSITIVE if old.get(key) == value else SENSITIVE_AFTER
                for key, value in new.items()
            }
    return masked_before, masked_after


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
