"""Reminders of planned go/no-go dates: `decision.due` seven days before a project's
`decision_date`, and `decision.overdue` from 00:00 the day after it when no decision was recorded
since it was due, both in READINESS_TIMEZONE, each once per project and date.

A row per project with a date keeps what was told and the moment time alone next changes that.
Writes to a project (its date, its stage) and its decisions make its row due at once; the
re-scorer settles due rows in the background, as it does KPI statuses and stall risks, within a
minute of the moment. Unlike those, a row's first state is told: a date set inside the window is
due at once. A moved date starts afresh, and is told again.
"""

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from app.core import changes, news
from app.core.changes import WRITTEN, Change
from app.core.db import utcnow
from app.core.storage import swept, update_rows
from app.decisions.models import Decision, DecisionReminder
from app.decisions.schemas import DecisionDue, DecisionOverdue
from app.engine.stages import Stage
from app.projects.models import Project

DUE_DAYS = 7
SWEEP_BATCH = 2000
REMINDER_TABLE: Table = DecisionReminder.__table__  # type: ignore[assignment]
# The writes that may move a date, retire a project or record its decision.
WATCHED_CAUSES = frozenset({"project", "stage", "decision"})
# Rewritten when the app or the worker is built from its settings.
_zone = {"zone": ZoneInfo("UTC")}


def configure(zone: ZoneInfo) -> None:
    _zone["zone"] = zone


def midnight(day: date) -> datetime:
    """00:00 of the day in READINESS_TIMEZONE, as a UTC moment."""
    return datetime.combine(day, time(), tzinfo=_zone["zone"]).astimezone(UTC)


def due_from(decision_date: date) -> datetime:
    return midnight(decision_date - timedelta(days=DUE_DAYS))


def overdue_from(decision_date: date) -> datetime:
    return midnight(decision_date + timedelta(days=1))


def today(now: datetime) -> date:
    return now.astimezone(_zone["zone"]).date()


def keep_current(session: Session, written: list[Change]) -> None:
    """The epilogue's step: the reminders of the projects a transaction wrote are due at once,
    those of a moved date start afresh, and a cleared date has none. One read and a few
    set-based statements, only for writes of projects, stages and decisions."""
    ids = {pid for change in written if change.cause.kind in WATCHED_CAUSES for pid in change.project_ids}
    if not ids:
        return
    rows = session.execute(
        select(Project.id, Project.decision_date, DecisionReminder.decision_date.label("reminded_for"))
        .outerjoin(DecisionReminder, DecisionReminder.project_id == Project.id)
        .where(Project.id.in_(ids))
    ).all()
    fresh: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    cleared: list[uuid.UUID] = []
    for project_id, decision_date, reminded_for in rows:
        if decision_date is None:
            if reminded_for is not None:
                cleared.append(project_id)
        elif reminded_for is None:
            fresh.append({"project_id": project_id, "decision_date": decision_date, "changes_at": WRITTEN})
        else:
            again.append(
                {"project_id": project_id, "decision_date": decision_date, "changes_at": WRITTEN}
                | ({"due_told_at": None, "overdue_told_at": None} if decision_date != reminded_for else {})
            )
    connection = session.connection()
    if cleared:
        connection.execute(delete(REMINDER_TABLE).where(REMINDER_TABLE.c.project_id.in_(cleared)))
    if fresh:
        connection.execute(insert(REMINDER_TABLE), fresh)
    # Rows of one shape per statement: a moved date also forgets what was told.
    for moved in (True, False):
        update_rows(connection, REMINDER_TABLE, "project_id", [r for r in again if ("due_told_at" in r) is moved])
    if fresh or again:
        session.info[changes.RESCORE_WANTED] = True


def _latest_decisions(session: Session, project_ids: list[uuid.UUID]) -> Mapping[uuid.UUID, datetime]:
    found = session.execute(
        select(Decision.project_id, func.max(Decision.decided_at))
        .where(Decision.project_id.in_(project_ids))
        .group_by(Decision.project_id)
    )
    return dict(found.all())


def tell_due(session: Session, *, full: bool = False) -> bool:
    """The reminders whose moment passed or that a write made due, a batch of them: what is due is
    told and the next moment stored. Whether more may be due."""
    # One function: each row is judged from its date, what was told and the latest decision, and
    # the judgement reads best in one place.
    now = utcnow()
    rows = session.execute(
        swept(
            select(DecisionReminder, Project.key, Project.department, Project.stage)
            .join(Project, Project.id == DecisionReminder.project_id)
            .where(DecisionReminder.changes_at <= now)
            .order_by(DecisionReminder.project_id),
            DecisionReminder,
            SWEEP_BATCH,
        )
    ).all()
    latest = _latest_decisions(session, [row.DecisionReminder.project_id for row in rows])
    updates = []
    for reminder, key, department, stage in rows:
        day = reminder.decision_date
        due_at, overdue_at = due_from(day), overdue_from(day)
        due_told, overdue_told = reminder.due_told_at, reminder.overdue_told_at
        live = stage != Stage.retired.value
        if live and due_told is None and due_at <= now < overdue_at:
            due_told = now
            data = DecisionDue(project=key, decision_date=day, days_left=(day - today(now)).days)
            news.emit(session, "decision.due", key, data, project_id=reminder.project_id, department=department)
        decided_at = latest.get(reminder.project_id)
        undecided = decided_at is None or decided_at < (due_told or due_at)
        if live and overdue_told is None and now >= overdue_at and undecided:
            overdue_told = now
            late = DecisionOverdue(project=key, decision_date=day, last_decision_at=decided_at)
            news.emit(session, "decision.overdue", key, late, project_id=reminder.project_id, department=department)
        next_moment = None
        if live and due_told is None and now < due_at:
            next_moment = due_at
        elif live and overdue_told is None and now < overdue_at:
            next_moment = overdue_at
        updates.append(
            {
                "project_id": reminder.project_id,
                "due_told_at": due_told,
                "overdue_told_at": overdue_told,
                "changes_at": next_moment,
            }
        )
    update_rows(session.connection(), REMINDER_TABLE, "project_id", updates)
    return len(rows) >= SWEEP_BATCH


def has_due(session: Session, *, full: bool = False) -> bool:
    return bool(session.scalar(select(exists().where(DecisionReminder.changes_at <= utcnow()))))


def install() -> None:
    changes.on_commit(order=16)(keep_current)
