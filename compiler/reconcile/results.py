"""What an apply did: one ``Change`` per object, from a closed set of ``Outcome``s, and
the ``ApplyResult`` (or the ``ApplyError`` that carries what was done before it stopped).
Rendering them is compiler.views' job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from compiler.core.errors import KgitError
from compiler.core.identity import ObjectId

if TYPE_CHECKING:
    from compiler.reconcile.history import HistoryEntry


class Outcome(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    REPLACED = "replaced"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Change:
    """What happened to one object: ``Deployment.apps/web/nginx configured``."""

    subject: ObjectId
    action: Outcome
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.subject} {self.action.value}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class ApplyResult:
    changes: tuple[Change, ...]
    entry: HistoryEntry | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.changes if c.action is outcome)

    def failed(self) -> bool:
        return self.count(Outcome.FAILED) > 0

    def summary(self) -> str:
        parts = [f"{self.count(o)} {o.value}" for o in Outcome if o is not Outcome.FAILED]
        text = "Apply complete: " + ", ".join(parts) + "."
        if self.failed():
            text = f"Apply failed: {self.count(Outcome.FAILED)} failed, " + ", ".join(parts) + "."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [
                {
                    "object": str(c.subject),
                    "ref": asdict(c.subject),
                    "result": c.action.value,
                    "detail": c.detail,
                }
                for c in self.changes
            ],
            "summary": self.summary(),
            "history": asdict(self.entry) if self.entry else None,
        }


class ApplyError(KgitError):
    """The apply stopped; ``result`` holds what was done before it did."""

    reference = "apply-failed"

    def __init__(self, message: str, result: ApplyResult, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result
