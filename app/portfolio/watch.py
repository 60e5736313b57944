"""States that change by writes and by time alone, told once per change: each KPI's status against
its schedule (kept by `app.kpis.watch`) and each project's stall risk (kept here, on its status row).

Each row keeps the state last told and the moment time alone would change it next. The write
epilogue makes the rows of the projects a transaction wrote due at once (measurements, the rows
they change, in the statements that write them); the re-scorer settles due rows in the background,
as it does readiness, and tells what changed. A row's first state is recorded without an event (a
new project or KPI is news of its own, and a migrated database should not flood receivers).
"""

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, Update, exists, select, update
from sqlalchemy.orm import Session

from app.core import changes, news
from app.core.among import among_parameter
from app.core.changes import WRITTEN, Change
from app.core.db import utcnow
from app.core.storage import swept, update_rows
from app.engine import stall
from app.engine.stages import Stage
from app.kpis import watch as kpis
from app.portfolio import status
from app.portfolio.models import ProjectStatus
from app.portfolio.schemas import StallRiskChanged

STATUS_TABLE: Table = ProjectStatus.__table__  # type: ignore[assignment]
JUST_AFTER = timedelta(microseconds=1)
SWEEP_BATCH = kpis.SWEEP_BATCH
PROJECT_IDS = "watched_project_ids"
# Rewritten when the app or the worker is built from its settings.
_limits: dict[Stage, int] = dict(stall.DEFAULT_STAGE_LIMITS_DAYS)

RISK_STATES = select(
    ProjectStatus.project_id,
    ProjectStatus.key,
    ProjectStatus.department,
    ProjectStatus.stage,
    ProjectStatus.stage_entered_at,
    ProjectStatus.quiet_from,
    ProjectStatus.risk_active,
    ProjectStatus.risk_inactive,
    ProjectStatus.signals,
    ProjectStatus.told_risk,
    ProjectStatus.risk_changes_at,
    ProjectStatus.focus_until,
)


# Built once per dialect, as every write runs them.
@cache
def _new_risks(dialect: str) -> Select[*tuple[Any, ...]]:
    return RISK_STATES.where(
        among_parameter(dialect, ProjectStatus.project_id, PROJECT_IDS), ProjectStatus.told_risk.is_(None)
    ).order_by(ProjectStatus.project_id)


@cache
def _made_due(dialect: str) -> Update:
    return (
        update(STATUS_TABLE)
        .where(among_parameter(dialect, STATUS_TABLE.c.project_id, PROJECT_IDS))
        .values(risk_changes_at=WRITTEN)
    )


def configure(limits: Mapping[Stage, int]) -> None:
    _limits.clear()
    _limits.update(limits)


def _inactive_from(row: Any) -> datetime | None:
    """When the inactivity signal sets in: quiet too long, or longer in the stage than its limit."""
    moments = [row.quiet_from] if row.quiet_from is not None else []
    days = _limits.get(Stage(row.stage))
    if days is not None:
        moments.append(row.stage_entered_at + timedelta(days=days))
    return min(moments) if moments else None


def tell_stall_risks(
    session: Session, now: datetime, *, first_of: Collection[uuid.UUID] | None = None, full: bool = False
) -> int:
    """The stall risk of projects whose moment passed or that a write changed, a batch of them, and
    with `full` those never settled, as the portfolio reads it (with inactivity once its moment has
    passed); or, with `first_of`, the first risk of those of these projects that are new. Returns
    how many were looked at."""
    if first_of is not None:
        query = _new_risks(session.get_bind().dialect.name)
        parameters = {PROJECT_IDS: sorted(first_of)}
    else:
        due = swept(RISK_STATES.where(_risk_due(now, full=full)), ProjectStatus, SWEEP_BATCH)
        query, parameters = due.order_by(ProjectStatus.project_id), {}
    updates = []
    rows = session.execute(query, parameters).all()
    focused = [row.project_id for row in rows if row.focus_until is not None and row.focus_until <= now]
    if focused:
        # The focus signal ended with time: the rows are computed again, and read as they are now.
        status.refresh(session, focused, followers=False)
        again = {
            row.project_id: row
            for row in session.execute(
                RISK_STATES.where(ProjectStatus.project_id.in_(focused)).execution_options(populate_existing=True)
            )
        }
        rows = [again.get(row.project_id, row) for row in rows]
    for row in rows:
        inactive_from = _inactive_from(row)
        inactive = inactive_from is not None and inactive_from < now
        risk = row.risk_inactive if inactive else row.risk_active
        moments = [row.focus_until] if row.focus_until is not None else []
        if inactive_from is not None and not inactive and row.risk_inactive != row.risk_active:
            moments.append(inactive_from + JUST_AFTER)
        next_change = min(moments) if moments else None
        if (row.told_risk, row.risk_changes_at) == (risk, next_change):
            continue
        updates.append({"project_id": row.project_id, "told_risk": risk, "risk_changes_at": next_change})
        if row.told_risk is not None and row.told_risk != risk:
            inactivity = {
                "dimension": "inactivity",
                "pattern": "stalled" if inactive else "successful",
                "reason": f"inactive since {inactive_from.isoformat()}" if inactive and inactive_from else "",
            }
            data = StallRiskChanged(
                project=row.key,
                before=row.told_risk,
                after=risk,
                signals=[*row.signals, inactivity],
                cause="write" if row.risk_changes_at == WRITTEN else "time",
            )
            news.emit(
                session,
                "project.stall_risk_changed",
                row.key,
                data,
                project_id=row.project_id,
                department=row.department,
            )
    update_rows(session.connection(), STATUS_TABLE, "project_id", updates)
    return len(rows)


def _make_risks_due(connection: Connection, project_ids: Collection[uuid.UUID]) -> None:
    connection.execute(_made_due(connection.dialect.name), {PROJECT_IDS: sorted(project_ids)})


def keep_told(session: Session, written: list[Change]) -> None:
    """The epilogue's step: the KPI statuses and stall risks of the projects the writes changed
    are due at once; the re-scorer, woken by the same commit, settles them and tells what changed.
    Two set-based statements, so that a batch over 1,000 projects pays almost nothing here.
    Measurements made their rows due as they wrote them, which spares a batch a second version of
    each of its KPI and status rows."""
    ids = {project_id for change in written if change.status != "none" for project_id in change.project_ids}
    if not ids:
        return
    # New KPIs and projects start from their state now, so that what is told later is a change.
    now = utcnow()
    kpis.tell_statuses(session, now, first_of=ids)
    tell_stall_risks(session, now, first_of=ids)
    full = {project_id for change in written if change.status == "full" for project_id in change.project_ids}
    if full:
        connection = session.connection()
        kpis.make_due(connection, full)
        _make_risks_due(connection, full)
    session.info[changes.RESCORE_WANTED] = True


def _risk_due(now: datetime, *, full: bool) -> ColumnElement[bool]:
    due = ProjectStatus.risk_changes_at <= now
    return due | ProjectStatus.told_risk.is_(None) if full else due


def has_due(session: Session, *, full: bool = False) -> bool:
    """Whether anything is due: through the indexes on the moments, or, with `full`, also among
    rows never settled, which takes a scan of every KPI and project. Writes settle new rows at
    once, so only rows older than this bookkeeping (or restored) are never settled."""
    now = utcnow()
    return bool(session.scalar(select(kpis.has_due(now, full=full) | exists().where(_risk_due(now, full=full)))))


def tell_due(session: Session, *, full: bool = False) -> bool:
    """What writes and time changed since the last sweep, a batch of it; whether more may be due."""
    now = utcnow()
    told_kpis = kpis.tell_statuses(session, now, full=full)
    told_projects = tell_stall_risks(session, now, full=full)
    return max(told_kpis, told_projects) >= SWEEP_BATCH


def install() -> None:
    changes.on_commit(order=15)(keep_told)
