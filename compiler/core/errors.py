"""The kgit error family.

Every error a user can cause is a ``KgitError``; the CLI prints it as one sentence and
exits 1. This module imports nothing from kgit so every stage can depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A position in an input file; line and col are 1-based as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class KgitError(Exception):
    """Base of every error that is reported to the user without a traceback."""

    reference = "kgit-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


@dataclass(frozen=True)
class Problem:
    """One problem in a spec or overlay file, at a location."""

    location: Location
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return text if not self.hint else f"{text} ({self.hint})"


class SpecError(KgitError):
    """One or more problems in an input file; all of them are reported together."""

    reference = "invalid-spec"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.location, p.message)))
        super().__init__("\n".join(str(p) for p in self.problems))


class StageError(KgitError):
    """An error wrapped with the pipeline stage it happened in."""

    reference = "stage-failed"

    def __init__(self, stage: str, cause: KgitError) -> None:
        super().__init__(f"{stage}: {cause}")
        self.stage = stage
        self.cause = cause


class OutputError(KgitError):
    """out/ cannot be written, or is stale when --check asked for it to be fresh."""

    reference = "output"


class GitError(KgitError):
    """A Git operation that kgit needs cannot be done."""

    reference = "git"


class ClusterError(KgitError):
    """The cluster cannot be reached or refused a request."""

    reference = "cluster"


class PlanError(KgitError):
    """A plan cannot be made or applied (stale plan, refused prune, immutable field...)."""

    reference = "plan"
