"""States that change by writes and by time alone, told once per change: a KPI's status against
its schedule, a project's stall risk.

Each row keeps the state last told and the moment time alone would change it next. The write
epilogue makes the rows of the projects a transaction wrote due at once (measurements, the rows
they change, in the statements that write them); the re-scorer settles due rows in the
background, as it does readiness, and tells what changed. A row's first state is recorded without
an event (a new project or KPI is news of its own, and a migrated database should not flood
receivers).
"""

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Table, Update, bindparam, exists, select, update
from sqlalchemy.orm import Session

from app.core import changes
from app.core.among import among_parameter
from app.core.changes import WRITTEN, Change
from app.core.db import utcnow
from app.engine import stall
from app.engine.kpi import Schedule, progress, status, status_changes_at
from app.engine.stages import Stage
from app.events import outbox, schemas
from app.kpis.models import Kpi
from app.portfolio.models import ProjectStatus
from app.projects.models import Project
from app.readiness.service import RESCORE_WANTED

KPI_TABLE: Table = Kpi.__table__  # type: ignore[assignment]
STATUS_TABLE: Table = ProjectStatus.__table__  # type: ignore[assignment]
JUST_AFTER = timedelta(microseconds=1)
SWEEP_BATCH = 2000
SweptQuery = TypeVar("SweptQuery", bound=Select[*tuple[Any, ...]])
# Rewritten when the app or the worker is built from its settings.
_limits: dict[Stage, int] = dict(stall.DEFAULT_STAGE_LIMITS_DAYS)


KPI_STATES = select(
    Kpi.id,
    Kpi.key,
    Kpi.baseline,
    Kpi.target,
    Kpi.latest_value,
    Kpi.created_at,
    Kpi.target_date,
    Kpi.told_status,
    Kpi.status_changes_at,
    Kpi.project_id,
    Project.key.label("project_key"),
    Project.department,
).join(Project, Project.id == Kpi.project_id)
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
)
PROJECT_IDS = "watched_project_ids"


# The statements every write runs are built once per dialect, their values given as parameters:
# for a write of one project, building and keying them would cost more than running them.
@cache
def _new_kpis(dialect: str) -> Select[*tuple[Any, ...]]:
    return KPI_STATES.where(among_parameter(dialect, Kpi.project_id, PROJECT_IDS), Kpi.told_status.is_(None)).order_by(
        Kpi.id
    )


@cache
def _new_risks(dialect: str) -> Select[*tuple[Any, ...]]:
    return RISK_STATES.where(
        among_parameter(dialect, ProjectStatus.project_id, PROJECT_IDS), ProjectStatus.told_risk.is_(None)
    ).order_by(ProjectStatus.project_id)


@cache
def _made_due(dialect: str) -> tuple[Update, Update]:
    return (
        update(KPI_TABLE)
        .where(among_parameter(dialect, KPI_TABLE.c.project_id, PROJECT_IDS))
        .values(status_changes_at=WRITTEN),
        update(STATUS_TABLE)
        .where(among_parameter(dialect, STATUS_TABLE.c.project_id, PROJECT_IDS))
        .values(risk_changes_at=WRITTEN),
    )


def configure(limits: Mapping[Stage, int]) -> None:
    _limits.clear()
    _limits.update(limits)


def tell_kpi_statuses(
    session: Session, now: datetime, *, first_of: Collection[uuid.UUID] | None = None, full: bool = False
) -> int:
    """The KPIs whose moment passed or that a write changed, a batch of them, and with `full` those
    never settled; or, with `first_of`, the first state of those projects' new KPIs. Returns how
    many were looked at."""
    if first_of is not None:
        query = _new_kpis(session.get_bind().dialect.name)
        parameters = {PROJECT_IDS: sorted(first_of)}
    else:
        query, parameters = _swept(KPI_STATES.where(_kpi_due(now, full=full)), Kpi).order_by(Kpi.id), {}
    updates = []
    rows = session.execute(query, parameters).all()
    for row in rows:
        current = progress(row.baseline, row.target, row.latest_value)
        schedule = Schedule(row.created_at, row.target_date)
        now_status = status(current, schedule, now).value
        next_change = status_changes_at(current, schedule, now)
        if (row.told_status, row.status_changes_at) == (now_status, next_change):
            continue
        updates.append({"v_id": row.id, "v_told_status": now_status, "v_status_changes_at": next_change})
        if row.told_status is not None and row.told_status != now_status:
            data = schemas.KpiStatusChanged(
                project=row.project_key,
                kpi=row.key,
                before=row.told_status,
                after=now_status,
                progress=current,
                cause="write" if row.status_changes_at == WRITTEN else "time",
            )
            outbox.emit(
                session,
                "kpi.status_changed",
                row.project_key,
                data,
                project_id=row.project_id,
                department=row.department,
            )
    if updates:
        session.connection().execute(
            update(KPI_TABLE)
            .where(KPI_TABLE.c.id == bindparam("v_id"))
            .values(told_status=bindparam("v_told_status"), status_changes_at=bindparam("v_status_changes_at")),
            updates,
        )
    return len(rows)


def _swept(query: SweptQuery, table: type[Kpi] | type[ProjectStatus]) -> SweptQuery:
    """A sweep's batch, its rows locked on PostgreSQL and those a write holds skipped: the sweep
    takes KPI rows before status rows and writes take them in either order, so waiting could
    deadlock; and a row read unlocked could be stored over a write committed meanwhile, losing the
    change that write made due. A skipped row is due again once its write commits."""
    return query.limit(SWEEP_BATCH).with_for_update(of=table, skip_locked=True)


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
        query = _swept(RISK_STATES.where(_risk_due(now, full=full)), ProjectStatus).order_by(ProjectStatus.project_id)
        parameters = {}
    updates = []
    rows = session.execute(query, parameters).all()
    for row in rows:
        inactive_from = _inactive_from(row)
        inactive = inactive_from is not None and inactive_from < now
        risk = row.risk_inactive if inactive else row.risk_active
        next_change = (
            inactive_from + JUST_AFTER
            if inactive_from is not None and not inactive and row.risk_inactive != row.risk_active
            else None
        )
        if (row.told_risk, row.risk_changes_at) == (risk, next_change):
            continue
        updates.append({"v_project_id": row.project_id, "v_told_risk": risk, "v_risk_changes_at": next_change})
        if row.told_risk is not None and row.told_risk != risk:
            inactivity = {
                "dimension": "inactivity",
                "pattern": "stalled" if inactive else "successful",
                "reason": f"inactive since {inactive_from.isoformat()}" if inactive and inactive_from else "",
            }
            data = schemas.StallRiskChanged(
                project=row.key,
                before=row.told_risk,
                after=risk,
                signals=[*row.signals, inactivity],
                cause="write" if row.risk_changes_at == WRITTEN else "time",
            )
            outbox.emit(
                session,
                "project.stall_risk_changed",
                row.key,
                data,
                project_id=row.project_id,
                department=row.department,
            )
    if updates:
        session.connection().execute(
            update(STATUS_TABLE)
            .where(STATUS_TABLE.c.project_id == bindparam("v_project_id"))
            .values(told_risk=bindparam("v_told_risk"), risk_changes_at=bindparam("v_risk_changes_at")),
            updates,
        )
    return len(rows)


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
    tell_kpi_statuses(session, now, first_of=ids)
    tell_stall_risks(session, now, first_of=ids)
    full = {project_id for change in written if change.status == "full" for project_id in change.project_ids}
    if full:
        connection = session.connection()
        for statement in _made_due(connection.dialect.name):
            connection.execute(statement, {PROJECT_IDS: sorted(full)})
    session.info[RESCORE_WANTED] = True


def _kpi_due(now: datetime, *, full: bool) -> ColumnElement[bool]:
    due = Kpi.status_changes_at <= now
    return due | Kpi.told_status.is_(None) if full else due


def _risk_due(now: datetime, *, full: bool) -> ColumnElement[bool]:
    due = ProjectStatus.risk_changes_at <= now
    return due | ProjectStatus.told_risk.is_(None) if full else due


def has_due(session: Session, *, full: bool = False) -> bool:
    """Whether anything is due: through the indexes on the moments, or, with `full`, also among
    rows never settled, which takes a scan of every KPI and project. Writes settle new rows at
    once, so only rows older than this bookkeeping (or restored) are never settled."""
    now = utcnow()
    return bool(
        session.scalar(select(exists().where(_kpi_due(now, full=full)) | exists().where(_risk_due(now, full=full))))
    )


def tell_due(session: Session, *, full: bool = False) -> bool:
    """What writes and time changed since the last sweep, a batch of it; whether more may be due."""
    now = utcnow()
    kpis = tell_kpi_statuses(session, now, full=full)
    projects = tell_stall_risks(session, now, full=full)
    return max(kpis, projects) >= SWEEP_BATCH


def install() -> None:
    changes.on_commit(order=15)(keep_told)
