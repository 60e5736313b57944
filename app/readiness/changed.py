"""What readiness tells: a `readiness.changed` event for each project whose history gained a row,
and the scores other domains keep beside their own rows (the portfolio's status row), through the
callbacks they register."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core import news
from app.core.changes import Cause
from app.projects.models import Project
from app.readiness import schemas
from app.readiness.document import cause_summary


@dataclass(frozen=True)
class State:
    """What the history records a change of: score, level, gate, and blockers as a set."""

    score: float
    level: str
    gate_passed: bool
    blockers: list[list[str]]

    def significant(self) -> tuple[float, str, bool, list[tuple[str, ...]]]:
        return self.score, self.level, self.gate_passed, sorted(tuple(b) for b in self.blockers)

    def told(self) -> schemas.ReadinessState:
        return schemas.ReadinessState(
            score=self.score,
            level=self.level,
            gate_passed=self.gate_passed,
            blockers=[criterion for criterion, _ in self.blockers],
        )


@dataclass(frozen=True)
class Change:
    """A project's readiness that changed significantly, with what it was before (None the first time)."""

    project: Project
    rubric: str
    rubric_version: int
    before: State | None
    after: State
    cause: list[dict[str, str]]


def tell(session: Session, changed: Sequence[Change]) -> None:
    for change in changed:
        data = schemas.ReadinessChanged(
            project=change.project.key,
            rubric=change.rubric,
            rubric_version=change.rubric_version,
            before=None if change.before is None else change.before.told(),
            after=change.after.told(),
            cause=[schemas.Cause(**item) for item in change.cause],
            summary=cause_summary(change.cause),
        )
        news.emit(
            session,
            "readiness.changed",
            change.project.key,
            data,
            project_id=change.project.id,
            department=change.project.department,
        )


@dataclass(frozen=True)
class Scores:
    """A project's new score, level and gate, for the domains that keep them beside their own rows."""

    project_id: uuid.UUID
    score: float
    level: str
    gate_passed: bool
    # `document.undone_criteria` of its statuses.
    undone: str


ScoresStored = Callable[[Session, Sequence[Scores]], None]
_scores_stored: list[ScoresStored] = []


def on_scores_stored(listener: ScoresStored) -> None:
    """Register what a higher layer does with the scores re-scoring stores, in the same transaction."""
    if listener not in _scores_stored:
        _scores_stored.append(listener)


def scores_stored(session: Session, scores: Sequence[Scores]) -> None:
    if scores:
        for listener in _scores_stored:
            listener(session, scores)


def causes_of(why: Mapping[uuid.UUID, Mapping[Cause, None]], project_id: uuid.UUID) -> list[dict[str, str]]:
    return [{"kind": c.kind, "name": c.name} for c in why.get(project_id, {})]
