"""States that change by writes and by time alone, told once per change: a KPI's status against
its schedule, a project's stall risk.

Each row keeps the state last told and the moment time alone would change it next. The write
epilogue settles the projects a transaction wrote; the re-scorer's sweep settles rows whose moment
has passed. A row's first state is recorded without an event (a new project or KPI is news of its
own, and a migrated database should not flood receivers).
"""

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import Change
from app.core.db import utcnow
from app.engine import stall
from app.engine.kpi import Schedule, progress, status, status_changes_at
from app.engine.stages import Stage
from app.events import outbox, schemas
from app.kpis.models import Kpi
from app.portfolio.models import ProjectStatus
from app.projects.models import Project

KPI_TABLE: Table = Kpi.__table__  # type: ignore[assignment]
STATUS_TABLE: Table = ProjectStatus.__table__  # type: ignore[assignment]
JUST_AFTER = timedelta(microseconds=1)
SWEEP_BATCH = 2000
# Rewritten when the app or the worker is built from its settings.
_limits: dict[Stage, int] = dict(stall.DEFAULT_STAGE_LIMITS_DAYS)


def configure(limits: Mapping[Stage, int]) -> None:
    _limits.clear()
    _limits.update(limits)


def tell_kpi_statuses(session: Session, project_ids: Collection[uuid.UUID] | None, now: datetime, cause: str) -> int:
    """Those of these projects' KPIs (or, with None, of every KPI whose moment passed)."""
    query = select(
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
    if project_ids is None:
        # Rows never settled (written before this was kept) are settled a batch at a time.
        query = query.where((Kpi.status_changes_at <= now) | Kpi.told_status.is_(None)).limit(SWEEP_BATCH)
    else:
        query = query.where(Kpi.project_id.in_(project_ids))
    updates = []
    rows = session.execute(query.order_by(Kpi.id)).all()
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
                cause=cause,
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


def _inactive_from(row: Any) -> datetime | None:
    """When the inactivity signal sets in: quiet too long, or longer in the stage than its limit."""
    moments = [row.quiet_from] if row.quiet_from is not None else []
    days = _limits.get(Stage(row.stage))
    if days is not None:
        moments.append(row.stage_entered_at + timedelta(days=days))
    return min(moments) if moments else None


def tell_stall_risks(session: Session, project_ids: Collection[uuid.UUID] | None, now: datetime, cause: str) -> int:
    """These projects' (or, with None, those whose moment passed) stall risk, as the portfolio
    reads it: with inactivity once its moment has passed."""
    query = select(
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
    if project_ids is None:
        query = query.where((ProjectStatus.risk_changes_at <= now) | ProjectStatus.told_risk.is_(None)).limit(
            SWEEP_BATCH
        )
    else:
        query = query.where(ProjectStatus.project_id.in_(project_ids))
    updates = []
    rows = session.execute(query.order_by(ProjectStatus.project_id)).all()
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
                cause=cause,
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
    """The epilogue's step: the KPI statuses and stall risks of the projects the writes changed."""
    ids = {project_id for change in written if change.status != "none" for project_id in change.project_ids}
    if not ids:
        return
    now = utcnow()
    tell_kpi_statuses(session, ids, now, "write")
    tell_stall_risks(session, ids, now, "write")


def has_due(session: Session) -> bool:
    now = utcnow()
    return bool(
        session.scalar(
            select(
                exists().where((Kpi.status_changes_at <= now) | Kpi.told_status.is_(None))
                | exists().where((ProjectStatus.risk_changes_at <= now) | ProjectStatus.told_risk.is_(None))
            )
        )
    )


def tell_due(session: Session) -> bool:
    """What time alone changed since the last sweep, a batch of it; whether more may be due."""
    now = utcnow()
    kpis = tell_kpi_statuses(session, None, now, "time")
    projects = tell_stall_risks(session, None, now, "time")
    return max(kpis, projects) >= SWEEP_BATCH


def install() -> None:
    changes.on_commit(order=15)(keep_told)
