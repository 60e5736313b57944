"""An initiative's goal: what counts as done, as a condition over the current status rows, as it
stood in a row of the readiness history, and what a project still misses.

A criterion counts as done when met, exempt or not applicable; a criterion the project's rubric
does not have does not apply to it, and counts as done too. A project not scored yet has done
nothing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func

from app.engine.scoring import Criterion, Level, Status
from app.initiatives import storage
from app.portfolio.models import ProjectStatus

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
        """Whether it needs each criterion's status, which history rows keep since they were kept."""
        return self.kind == "criteria"

    def done_condition(self, dialect: str) -> ColumnElement[bool]:
        """A project meets it now, over its status row alone; never NULL, so that its negation finds
        the projects remaining."""
        match self.kind:
            case "gate":
                return ProjectStatus.gate_passed.is_(True)
            case "level":
                return func.coalesce(ProjectStatus.level, "").in_(self.levels)
            case "criteria":
                return and_(
                    ProjectStatus.undone.is_not(None),
                    *(~storage.lists_undone(dialect, key) for key in self.criteria),
                )

    def missing(self, *, undone: str | None, blockers: Sequence[Sequence[str]] | None) -> list[str]:
        """What a project still misses: the goal's criteria it has not done; for the gate, its
        blockers; for a level, every criterion it has partly met or not met. Nothing is known of a
        project not scored yet."""
        if undone is None:
            return []
        keys = [key for key in undone.split(",") if key]
        match self.kind:
            case "criteria":
                return [key for key in self.criteria if key in keys]
            case "gate":
                return [criterion for criterion, _ in blockers or []]
            case "level":
                return keys

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
                    return all(statuses.get(key) not in UNDONE_STATUSES for key in self.criteria), False
                gates = {criterion.key for criterion in criteria if criterion.gate}
                held = {criterion.key for criterion in criteria} & set(self.criteria)
                blocked = {criterion for criterion, _ in blockers}
                if held & blocked:
                    return False, False
                unknown = bool(held - gates)
                return not unknown, unknown


def _listed(keys: Sequence[str]) -> str:
    if len(keys) == 1:
        return keys[0]
    return f"{', '.join(keys[:-1])} and {keys[-1]}"
