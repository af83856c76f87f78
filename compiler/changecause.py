"""The ``kubernetes.io/change-cause`` annotation of pod templates.

``kubectl rollout history`` reads it; kgit sets it so the live history tells the same story
as Git. It is derived from the explicit cause (``--change-cause``, or the commit message
during ``compile --commit``) or, failing that, kept from the previous out/ when the pod
template did not change.
"""

from __future__ import annotations

from collections.abc import Mapping

from compiler.resources import ResourceSet


def annotate_change_causes(
    resources: ResourceSet, previous: Mapping[str, bytes], explicit: str | None
) -> None:
    return None  # filled in by the apps work
