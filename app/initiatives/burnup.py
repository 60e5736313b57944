"""An initiative's burn-up: each ISO week since it starts, projects in scope and done as the week
ended, computed from the readiness history and the stage transitions, so that it is right for
weeks before the initiative was created.

A finished week does not change: its figures are computed once, per department (a scoped reader
adds up its own departments), and kept in `initiative_week` for the initiative's current basis
(its goal, scope and start). The current week is read live. The computation is set-based, as the
portfolio's trend is: the history comes back reduced in SQL to each project's last row in each
week, Python walks each project's changes once, adding what each does to the figures (a delta) to
the week where it happens, and a running sum turns the deltas into the figures.

A week is final a minute after it ends: a re-score dated before its end may commit a moment later.
"""

import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.engine.stages import Stage
from app.initiatives import storage
from app.initiatives.goals import GoalRule
from app.initiatives.models import Initiative, InitiativeWeek
from app.initiatives.progress import filters_of
from app.portfolio.models import ProjectStatus
from app.portfolio.service import filtered
from app.portfolio.trend import last_in_each_bucket
from app.projects.models import Project, StageTransition
from app.readiness.document import CODED_STATUSES
from app.readiness.models import ReadinessHistory
from app.rubrics import service as rubrics

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
FINAL_AFTER = timedelta(minutes=1)
WEEK_TABLE: Table = InitiativeWeek.__table__  # type: ignore[assignment]


def week_of(moment: datetime) -> date:
    """The Monday of the ISO week (UTC) holding the moment."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def iso_week(monday: date) -> str:
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def last_final_week(now: datetime) -> date:
    """The Monday of the latest week that is over and final."""
    return week_of(now - FINAL_AFTER) - WEEK


def weeks_between(first: date, last: date) -> list[date]:
    weeks = []
    while first <= last:
        weeks.append(first)
        first += WEEK
    return weeks


@dataclass(frozen=True)
class Figures:
    in_scope: int = 0
    done: int = 0
    approximate: int = 0

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(self.in_scope + other.in_scope, self.done + other.done, self.approximate + other.approximate)

    def __sub__(self, other: "Figures") -> "Figures":
        return Figures(self.in_scope - other.in_scope, self.done - other.done, self.approximate - other.approximate)


def kept_weeks(session: Session, initiative: Initiative) -> dict[date, Figures]:
    """The kept figures of the finished weeks, within the caller's departments."""
    query = (
        select(
            InitiativeWeek.week,
            func.sum(InitiativeWeek.in_scope),
            func.sum(InitiativeWeek.done),
            func.sum(InitiativeWeek.approximate),
        )
        .where(InitiativeWeek.initiative_id == initiative.id, InitiativeWeek.basis == initiative.basis)
        .group_by(InitiativeWeek.week)
    )
    query = scope.restrict(query, InitiativeWeek.department)
    return {week: Figures(int(a), int(b), int(c)) for week, a, b, c in session.execute(query)}


def missing_weeks(initiative: Initiative, now: datetime) -> list[date]:
    """The finished weeks since the start whose figures are not kept yet."""
    first = week_of(initiative.starts_at)
    if initiative.weeks_through is not None:
        first = max(first, initiative.weeks_through + WEEK)
    return weeks_between(first, last_final_week(now))


def fill(session: Session, *, initiative_id: uuid.UUID, now: datetime) -> bool:
    """Compute and keep the figures of the finished weeks not kept yet, for every department;
    whether there were any. Its row locked first, the initiative is read as it is now: a change of
    its goal, scope or start meanwhile has been committed, or waits for this."""
    initiative = storage.lock_initiative(session, initiative_id)
    if initiative is None:
        return False
    weeks = missing_weeks(initiative, now)
    if not weeks:
        return False
    with scope.unscoped():
        rows = compute(session, initiative, weeks, now)
    if rows:
        session.execute(insert(WEEK_TABLE), rows)
    initiative.weeks_through = weeks[-1]
    return True


def forget(session: Session, initiative: Initiative) -> None:
    """Drop the kept weeks: the goal, scope or start changed, so they answer another question."""
    session.execute(delete(InitiativeWeek).where(InitiativeWeek.initiative_id == initiative.id))
    initiative.basis += 1
    initiative.weeks_through = None


@dataclass
class _Walked:
    """One project's changes by the week they land in: stages entered, and the last history row."""

    department: str | None
    created: int
    stages: dict[int, str] = field(default_factory=dict)
    rows: dict[int, Any] = field(default_factory=dict)


def compute(session: Session, initiative: Initiative, weeks: Sequence[date], now: datetime) -> list[dict[str, Any]]:
    """The figures of these consecutive weeks, per department, as rows of `initiative_week`."""
    rule = GoalRule.of(initiative.goal)
    stage_wanted = initiative.scope.get("stage")
    ends = [midnight(week + WEEK) for week in weeks]
    filters = filters_of(initiative.scope, with_stage=False)
    selected = filtered(select(ProjectStatus.project_id), filters, now, {})
    projects: dict[uuid.UUID, _Walked] = {}
    candidates: Select[*tuple[Any, ...]] = select(
        ProjectStatus.project_id, ProjectStatus.department, Project.created_at
    ).join(Project, Project.id == ProjectStatus.project_id)
    for project_id, department, created_at in session.execute(
        filtered(candidates.where(Project.created_at < ends[-1]), filters, now, {})
    ):
        projects[project_id] = _Walked(department, bisect_right(ends, created_at))
    if not projects:
        return []
    if stage_wanted is not None:
        for project_id, to_stage, at in session.execute(
            select(StageTransition.project_id, StageTransition.to_stage, StageTransition.transitioned_at)
            .where(StageTransition.project_id.in_(selected), StageTransition.transitioned_at < ends[-1])
            .order_by(StageTransition.project_id, StageTransition.transitioned_at, StageTransition.id)
        ):
            walked = projects.get(project_id)
            if walked is not None:
                walked.stages[max(bisect_right(ends, at), walked.created)] = to_stage
    history = select(
        ReadinessHistory.project_id,
        ReadinessHistory.rubric_key,
        ReadinessHistory.rubric_version,
        ReadinessHistory.gate_passed,
        ReadinessHistory.level,
        ReadinessHistory.blockers,
        ReadinessHistory.statuses,
    ).where(ReadinessHistory.project_id.in_(selected), ReadinessHistory.changed_at < ends[-1])
    for row in last_in_each_bucket(
        session,
        history,
        partition=ReadinessHistory.project_id,
        at=ReadinessHistory.changed_at,
        order=(ReadinessHistory.changed_at.desc(), ReadinessHistory.id.desc()),
        ends=ends,
    ):
        walked = projects.get(row.project_id)
        if walked is not None:
            walked.rows[max(row.bucket, walked.created)] = row
    judge = _Judge(session, rule)
    deltas: list[dict[str | None, Figures]] = [defaultdict(Figures) for _ in weeks]
    for walked in projects.values():
        _walk(walked, stage_wanted, judge, deltas)
    return _accumulate(initiative, weeks, deltas)


class _Judge:
    """A history row judged against the goal, the criteria of each rubric version read once."""

    def __init__(self, session: Session, rule: GoalRule) -> None:
        self.session = session
        self.rule = rule
        self.versions: dict[tuple[str, int], Any] = {}

    def __call__(self, row: Any) -> tuple[bool, bool]:
        version = (row.rubric_key, row.rubric_version)
        rubric = self.versions.get(version)
        if rubric is None:
            rubric = self.versions[version] = rubrics.engine_rubric(self.session, *version)
        statuses = None
        if row.statuses is not None and self.rule.reads_statuses:
            statuses = {
                criterion.key: CODED_STATUSES[code]
                for criterion, code in zip(rubric.criteria, row.statuses, strict=True)
            }
        return self.rule.judged(
            gate_passed=row.gate_passed,
            level=row.level,
            blockers=row.blockers,
            statuses=statuses,
            criteria=rubric.criteria,
        )


def _walk(walked: _Walked, stage_wanted: str | None, judge: _Judge, deltas: list[dict[str | None, Figures]]) -> None:
    """Add to `deltas` what the project changes in its department's figures, in each week where
    its stage or its readiness changes."""
    stage, row = Stage.idea.value, None
    before = Figures()
    for index in sorted({walked.created, *walked.stages, *walked.rows}):
        if index >= len(deltas):
            break
        stage = walked.stages.get(index, stage)
        row = walked.rows.get(index, row)
        after = Figures()
        if stage_wanted is None or stage == stage_wanted:
            done, approximate = judge(row) if row is not None else (False, False)
            after = Figures(1, int(done), int(approximate))
        if after != before:
            deltas[index][walked.department] += after - before
            before = after


def _accumulate(
    initiative: Initiative, weeks: Sequence[date], deltas: list[dict[str | None, Figures]]
) -> list[dict[str, Any]]:
    running: dict[str | None, Figures] = defaultdict(Figures)
    rows: list[dict[str, Any]] = []
    for week, delta in zip(weeks, deltas, strict=True):
        for department, change in delta.items():
            running[department] += change
        rows.extend(
            {
                "initiative_id": initiative.id,
                "basis": initiative.basis,
                "week": week,
                "department": department,
                "in_scope": figures.in_scope,
                "done": figures.done,
                "approximate": figures.approximate,
            }
            for department, figures in running.items()
            if figures.in_scope
        )
    return rows
