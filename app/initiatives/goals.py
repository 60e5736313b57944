"""An initiative's goal: what counts as done, as a condition over the current status rows, as it
stood in a row of the readiness history, and what a project still misses.

A criterion counts as done when met, exempt or not applicable; a criterion the project's rubric
does not have counts as missing, since the goal names what it asks whatever the rubric.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func

from app.engine.scoring import Criterion, Level, Status
from app.initiatives import storage
from app.portfolio.models import ProjectStatus

DONE_STATUSES = (Status.met.value, Status.exempt.value, Status.not_applicable.value)
UNDONE_STATUSES = (Status.partial.value, Status.not_met.value)
LEVEL_ORDER = [level.value for level in Level]
Kind = Literal["criteria", "gate", "level"]


@dataclass(frozen=True)
class GoalRule:
    kind: Kind
    criteria: tuple[str, ...] = ()
    level: str | None = None

    @classmethod
    def of(cls, goal: Mapping[str, Any]) -> "GoalRule":
        """The goal as stored: `{"criteria": [...]}`, `{"gate": true}` or `{"level": "..."}`."""
        if goal.get("criteria"):
            return cls("criteria", tuple(goal["criteria"]))
        if goal.get("level"):
            return cls("level", level=str(goal["level"]))
        return cls("gate")

    def words(self) -> str:
        match self.kind:
            case "criteria":
                return f"{_listed(self.criteria)} met, exempt or not applicable"
            case "gate":
                return "the go-live gate passes"
            case "level":
                return f"readiness {str(self.level).replace('_', ' ')} or above"

    @property
    def levels(self) -> list[str]:
        """The levels that reach a level goal."""
        return LEVEL_ORDER[LEVEL_ORDER.index(str(self.level)) :] if self.level in LEVEL_ORDER else []

    @property
    def reads_statuses(self) -> bool:
        """Whether it needs each criterion's status, which the readiness row keeps."""
        return self.kind == "criteria"

    def done_condition(self, dialect: str) -> ColumnElement[bool]:
        """A project meets it now: over the status row (and, for criteria, its readiness row);
        never NULL, so that its negation finds the projects remaining."""
        match self.kind:
            case "gate":
                return ProjectStatus.gate_passed.is_(True)
            case "level":
                return func.coalesce(ProjectStatus.level, "").in_(self.levels)
            case "criteria":
                return and_(
                    *(
                        func.coalesce(storage.criterion_status(dialect, key), "").in_(DONE_STATUSES)
                        for key in self.criteria
                    )
                )

    def missing(
        self, *, statuses: Mapping[str, str] | None, blockers: Sequence[Sequence[str]] | None, order: Sequence[str]
    ) -> list[str]:
        """What a project still misses, from its current statuses and gate blockers; `order` is its
        rubric's criteria, for a level goal's list."""
        known = statuses or {}
        match self.kind:
            case "criteria":
                return [key for key in self.criteria if known.get(key) not in DONE_STATUSES]
            case "gate":
                return [criterion for criterion, _ in blockers or []]
            case "level":
                return [key for key in order if known.get(key) in UNDONE_STATUSES]

    def judged(
        self,
        *,
        gate_passed: bool,
        level: str,
        blockers: Sequence[Sequence[str]],
        statuses: Mapping[str, str] | None,
        criteria: Sequence[Criterion],
    ) -> tuple[bool, bool]:
        """Whether a readiness history row meets it, and whether that is a guess: a row written
        before each criterion's status was kept tells gate criteria by its blockers, not the others,
        which then count as not done."""
        match self.kind:
            case "gate":
                return gate_passed, False
            case "level":
                return level in self.levels, False
            case "criteria":
                if statuses is not None:
                    return all(statuses.get(key) in DONE_STATUSES for key in self.criteria), False
                gates = {criterion.key for criterion in criteria if criterion.gate}
                keys = {criterion.key for criterion in criteria}
                blocked = {criterion for criterion, _ in blockers}
                if any(key not in keys or key in blocked for key in self.criteria):
                    return False, False
                unknown = any(key not in gates for key in self.criteria)
                return not unknown, unknown


def _listed(keys: Sequence[str]) -> str:
    if len(keys) == 1:
        return keys[0]
    return f"{', '.join(keys[:-1])} and {keys[-1]}"
