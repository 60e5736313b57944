"""Each KPI's status against its schedule, told once per change.

A KPI row keeps the status last told and the moment time alone would change it next. Writes make a
project's KPIs due at once (measurements in the statements that write them); the re-scorer settles
due rows in the background and tells what changed. A KPI's first status is recorded without an
event: a new KPI is news of its own.
"""

import uuid
from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, Update, exists, select, update
from sqlalchemy.orm import Session

from app.core import news
from app.core.among import among_parameter
from app.core.changes import WRITTEN
from app.core.storage import swept, update_rows
from app.engine.kpi import Schedule, progress, status, status_changes_at
from app.kpis.models import Kpi
from app.kpis.schemas import KpiStatusChanged
from app.projects.models import Project

KPI_TABLE: Table = Kpi.__table__  # type: ignore[assignment]
SWEEP_BATCH = 2000
PROJECT_IDS = "watched_project_ids"

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


# The statements every write runs are built once per dialect, their values given as parameters:
# for a write of one project, building and keying them would cost more than running them.
@cache
def _new_kpis(dialect: str) -> Select[*tuple[Any, ...]]:
    return KPI_STATES.where(among_parameter(dialect, Kpi.project_id, PROJECT_IDS), Kpi.told_status.is_(None)).order_by(
        Kpi.id
    )


@cache
def _made_due(dialect: str) -> Update:
    return (
        update(KPI_TABLE)
        .where(among_parameter(dialect, KPI_TABLE.c.project_id, PROJECT_IDS))
        .values(status_changes_at=WRITTEN)
    )


def make_due(connection: Connection, project_ids: Collection[uuid.UUID]) -> None:
    """The statuses of these projects' KPIs are due at once: a write may have changed them."""
    connection.execute(_made_due(connection.dialect.name), {PROJECT_IDS: sorted(project_ids)})


def tell_statuses(
    session: Session, now: datetime, *, first_of: Collection[uuid.UUID] | None = None, full: bool = False
) -> int:
    """The KPIs whose moment passed or that a write changed, a batch of them, and with `full` those
    never settled; or, with `first_of`, the first state of those projects' new KPIs. Returns how
    many were looked at."""
    if first_of is not None:
        query = _new_kpis(session.get_bind().dialect.name)
        parameters = {PROJECT_IDS: sorted(first_of)}
    else:
        query, parameters = swept(KPI_STATES.where(due(now, full=full)), Kpi, SWEEP_BATCH).order_by(Kpi.id), {}
    updates = []
    rows = session.execute(query, parameters).all()
    for row in rows:
        current = progress(row.baseline, row.target, row.latest_value)
        schedule = Schedule(row.created_at, row.target_date)
        now_status = status(current, schedule, now).value
        next_change = status_changes_at(current, schedule, now)
        if (row.told_status, row.status_changes_at) == (now_status, next_change):
            continue
        updates.append({"id": row.id, "told_status": now_status, "status_changes_at": next_change})
        if row.told_status is not None and row.told_status != now_status:
            data = KpiStatusChanged(
                project=row.project_key,
                kpi=row.key,
                before=row.told_status,
                after=now_status,
                progress=current,
                cause="write" if row.status_changes_at == WRITTEN else "time",
            )
            news.emit(
                session,
                "kpi.status_changed",
                row.project_key,
                data,
                project_id=row.project_id,
                department=row.department,
            )
    update_rows(session.connection(), KPI_TABLE, "id", updates)
    return len(rows)


def due(now: datetime, *, full: bool) -> ColumnElement[bool]:
    """KPIs whose status may have changed: their moment passed, and with `full` those never settled."""
    moment_passed = Kpi.status_changes_at <= now
    return moment_passed | Kpi.told_status.is_(None) if full else moment_passed


def has_due(now: datetime, *, full: bool) -> ColumnElement[bool]:
    return exists().where(due(now, full=full))
