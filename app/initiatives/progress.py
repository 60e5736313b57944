"""An initiative's progress as it stands: counted in SQL over the status rows the service keeps
current (and, for a goal of criteria, each project's stored statuses), within the caller's
departments. Nothing here loads the projects in scope into Python, only a page of those remaining.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, literal_column, not_, select
from sqlalchemy.orm import Session

from app.core.pagination import cursor_text, decode_cursor, encode_cursor, keyset_after
from app.engine.stages import Stage
from app.initiatives.goals import GoalRule
from app.initiatives.schemas import DepartmentProgress, RemainingProject
from app.portfolio.models import ProjectStatus
from app.portfolio.service import Filters, filtered
from app.readiness.models import ProjectReadiness


def filters_of(scope: Mapping[str, Any], *, with_stage: bool = True) -> Filters:
    """The portfolio filters an initiative's scope names; without its stage, for the past, where the
    stage is the one a project had then."""
    stage = scope.get("stage")
    return Filters(
        department=scope.get("department"),
        region=scope.get("region"),
        stage=Stage(stage) if stage and with_stage else None,
        owner=scope.get("owner"),
        tag=scope.get("tag"),
    )


def _in_scope(query: Select[*tuple[Any, ...]], filters: Filters, now: datetime) -> Select[*tuple[Any, ...]]:
    # No risk filter: the stage limits it would need do not matter.
    return filtered(query, filters, now, {})


@dataclass(frozen=True)
class Counts:
    in_scope: int
    done: int
    by_department: list[DepartmentProgress]


def counts(session: Session, *, rule: GoalRule, filters: Filters, now: datetime) -> Counts:
    """Projects in scope and done, per department and in all: one GROUP BY."""
    done = case((rule.done_condition(session.get_bind().dialect.name), 1), else_=0)
    totals: Select[*tuple[Any, ...]] = select(ProjectStatus.department, func.count(), func.sum(done))
    query = _in_scope(totals.select_from(ProjectStatus), filters, now).group_by(ProjectStatus.department)
    rows = [
        DepartmentProgress(department=department, in_scope=int(total), done=int(met or 0))
        for department, total, met in session.execute(query)
    ]
    rows.sort(key=lambda row: (row.department is None, row.department or ""))
    return Counts(sum(row.in_scope for row in rows), sum(row.done for row in rows), rows)


# What `exists` selects: a constant, so that an index covering the filters and the goal answers it.
ONE: ColumnElement[int] = literal_column("1")


def any_in_scope(session: Session, *, rule: GoalRule, filters: Filters, now: datetime) -> bool:
    query = _in_scope(select(ONE).select_from(ProjectStatus), filters, now)
    return bool(session.scalar(select(exists(query))))


def any_remaining(session: Session, *, rule: GoalRule, filters: Filters, now: datetime) -> bool:
    """Whether a project in scope misses the goal: stops at the first one found."""
    undone = not_(rule.done_condition(session.get_bind().dialect.name))
    query = _in_scope(select(ONE).select_from(ProjectStatus), filters, now)
    return bool(session.scalar(select(exists(query.where(undone)))))


def remaining(
    session: Session, *, rule: GoalRule, filters: Filters, now: datetime, limit: int, cursor: str | None
) -> tuple[list[RemainingProject], str | None]:
    """The projects in scope that miss the goal, by key, each with what it misses."""
    dialect = session.get_bind().dialect.name
    query: Select[*tuple[Any, ...]] = select(
        ProjectStatus.project_id,
        ProjectStatus.key,
        ProjectStatus.name,
        ProjectStatus.department,
        ProjectStatus.stage,
        ProjectStatus.undone,
    ).where(not_(rule.done_condition(dialect)))
    query = _in_scope(query, filters, now)
    if cursor is not None:
        (after,) = decode_cursor(cursor, cursor_text)
        query = query.where(keyset_after([ProjectStatus.key], [after]))
    rows = session.execute(query.order_by(ProjectStatus.key).limit(limit + 1)).all()
    next_cursor = encode_cursor([rows[limit - 1].key]) if len(rows) > limit else None
    rows = rows[:limit]
    blockers: dict[Any, list[list[str]]] = {}
    if rule.kind == "gate" and rows:
        blockers = dict(
            session.execute(
                select(ProjectReadiness.project_id, ProjectReadiness.blockers).where(
                    ProjectReadiness.project_id.in_([row.project_id for row in rows])
                )
            ).all()
        )
    items = [
        RemainingProject(
            project=row.key,
            name=row.name,
            department=row.department,
            stage=Stage(row.stage),
            missing=rule.missing(undone=row.undone, blockers=blockers.get(row.project_id)),
        )
        for row in rows
    ]
    return items, next_cursor
