"""Helpers for the plain JSON-like data (dicts, lists, scalars) that flows through kgit."""

from __future__ import annotations

import copy
from typing import TypeVar

T = TypeVar("T")

_ATOMS = (str, int, float, bool, type(None))


def clone(value: T) -> T:
    """A deep copy of plain data, several times faster than ``copy.deepcopy``.

    Objects are copied on every patch and overlay, thousands of times per compile; plain
    data needs no memo of shared references or ``__deepcopy__`` lookups. Anything that
    is not plain data is handed to ``copy.deepcopy``.
    """
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [clone(v) for v in value]  # type: ignore[return-value]
    if isinstance(value, _ATOMS):
        return value
    return copy.deepcopy(value)


def without_nulls(value: T) -> T:
    """``value`` without the mapping entries whose value is None (YAML ``key:`` or ``null``).

    Upstream manifests generated from Helm charts carry empty values (``annotations: null``);
    for an object kgit applies, a null field and an absent one mean the same, but the API
    server stores neither, so a manifest with nulls would differ from the live object forever.
    """
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}  # type: ignore[return-value]
    if isinstance(value, list):
        return [without_nulls(item) for item in value]  # type: ignore[return-value]
    return value
