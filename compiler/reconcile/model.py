"""A plan is a value: what kgit would do to a cluster, and what it was made against.

Terraform's model: ``apply`` consumes a ``Plan`` and refuses one whose base is stale; only
``Plan.has_changes()`` decides exit code 2; rendering a plan is someone else's job
(``compiler.views.plan``). Plans are JSON-serialisable and never hold Secret values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from typing import Any

from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId

PLAN_FORMAT_VERSION = "1.0"
DEFAULT_PARALLELISM = 8  # requests a plan or an apply keeps in flight at once


class ActionKind(StrEnum):
    """The closed set of things kgit does to one object (Terraform: + ~ -/+ -)."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # delete then create: a change the API refuses as immutable
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[
            self.value
        ]


@dataclass(frozen=True)
class Action:
    """One planned change. ``before``/``after`` are for display (Secret values masked)."""

    kind: ActionKind
    ref: ObjectId
    reason: str = ""
    diff: str = ""  # field-level unified YAML diff of before -> after, values masked
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    live_resource_version: str | None = None  # the live object's, when the plan saw it
    # normalize.fingerprint of the live object: apply refuses the plan if it moved
    live_fingerprint: str | None = None


@dataclass(frozen=True)
class PlanBase:
    """What the plan was made against; apply refuses a plan whose base no longer holds."""

    out_digest: str  # sha256 over out/manifests as read
    git_revision: str | None  # commit of out/ when known
    context: str  # kubeconfig context name
    server: str  # API server URL
    applyset_id: str


@dataclass(frozen=True)
class Health:
    """An object kgit manages that is not healthy on the cluster (compiler.reconcile.health)."""

    ref: ObjectId
    state: str  # "pending" (still progressing) or "failed"
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"


@dataclass(frozen=True)
class Plan:
    base: PlanBase
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # Live objects that are not ready, changed by this plan or not: health is part of
    # the state, so "no changes" never hides a Deployment that has no available replica.
    unhealthy: tuple[Health, ...] = field(default_factory=tuple)
    adopted: tuple[str, ...] = field(default_factory=tuple)  # objects taken over (--adopt)

    def is_healthy(self) -> bool:
        return not self.unhealthy

    def has_changes(self) -> bool:
        return any(a.kind is not ActionKind.NOOP for a in self.actions)

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)

    def summary(self) -> str:
        return (
            f"Plan: {self.count(ActionKind.CREATE)} to create, "
            f"{self.count(ActionKind.UPDATE)} to update, "
            f"{self.count(ActionKind.REPLACE)} to replace, "
            f"{self.count(ActionKind.DELETE)} to delete."
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["format_version"] = PLAN_FORMAT_VERSION
        data["digest"] = _digest(data)
        return json.dumps(data, indent=2, sort_keys=True, default=_enum_value) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """The plan saved in ``text``; PlanError when its digest says it was edited."""
        data = json.loads(text)
        if data.get("digest") != _digest(data):
            raise PlanError(
                "the saved plan was changed after `kgit plan` wrote it (its base and "
                "actions do not match its digest); refusing to apply it",
                hint="run 'kgit plan --out FILE' again",
            )
        base = PlanBase(**data["base"])
        actions = tuple(
            Action(
                kind=ActionKind(a["kind"]),
                ref=ObjectId(**a["ref"]),
                reason=a.get("reason", ""),
                diff=a.get("diff", ""),
                before=a.get("before"),
                after=a.get("after"),
                live_resource_version=a.get("live_resource_version"),
                live_fingerprint=a.get("live_fingerprint"),
            )
            for a in data["actions"]
        )
        unhealthy = tuple(
            Health(ObjectId(**h["ref"]), h["state"], h["message"])
            for h in data.get("unhealthy", ())
        )
        return cls(
            base=base,
            actions=actions,
            warnings=tuple(data.get("warnings", ())),
            unhealthy=unhealthy,
            adopted=tuple(data.get("adopted", ())),
        )


def _digest(data: dict[str, Any]) -> str:
    """sha256 of a saved plan's base and actions (in canonical JSON): an edited plan (a
    no-op turned into a delete, an action removed) no longer matches. Not a signature:
    whoever can edit the file can recompute it; apply's own rules (checks.py: never
    delete what out/ holds, both proofs before any delete) hold regardless."""
    signed = {"base": data.get("base"), "actions": data.get("actions")}
    text = json.dumps(signed, sort_keys=True, separators=(",", ":"), default=_enum_value)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _enum_value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")
