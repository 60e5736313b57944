"""What initiatives tell, once each: `initiative.completed` when the last project in scope meets
the goal (at creation if it already does), `initiative.overdue` when the target date has passed
with projects remaining; and the finished weeks of each burn-up, kept as they end.

The re-scorer settles it in the background once it has caught up with readiness, so that both
follow a write within seconds, as readiness does: an initiative is looked at again when the
readiness history gained a row since it was last looked at (any change of a project's score,
level, gate or criteria), at once after it is created or changed, and otherwise every minute (a
project moving out of scope without a change of readiness, the date passing). Once it has told
that it is overdue, or completed and reached its date, nothing is left to tell.
"""

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from app.core import news
from app.core.db import utcnow
from app.initiatives import burnup, progress, storage
from app.initiatives.goals import GoalRule
from app.initiatives.models import Initiative
from app.initiatives.schemas import InitiativeCompleted, InitiativeOverdue
from app.initiatives.service import is_overdue
from app.readiness.models import ReadinessHistory

RECHECK = timedelta(minutes=1)
BATCH = 20


def _latest_history() -> Select[tuple[int]]:
    return select(func.coalesce(func.max(ReadinessHistory.id), 0))


def _watched(now: datetime) -> ColumnElement[bool]:
    """Initiatives with something left to tell."""
    return Initiative.overdue_at.is_(None) & (
        Initiative.completed_at.is_(None) | (Initiative.target_date >= now.date())
    )


def _check_due(now: datetime) -> ColumnElement[bool]:
    latest = _latest_history().scalar_subquery()
    return _watched(now) & (
        Initiative.check_at.is_(None) | (Initiative.check_at <= now) | (Initiative.checked_through < latest)
    )


def _weeks_due(now: datetime) -> ColumnElement[bool]:
    last = burnup.last_final_week(now)
    started = Initiative.starts_at < burnup.midnight(last + burnup.WEEK)
    return started & (Initiative.weeks_through.is_(None) | (Initiative.weeks_through < last))


def has_due(session: Session, *, full: bool = False) -> bool:
    """Whether an initiative has news to look for or a finished week to keep: a few index reads."""
    now = utcnow()
    return bool(session.scalar(select(exists().where(_check_due(now) | _weeks_due(now)))))


def tell_due(session: Session, *, full: bool = False) -> bool:
    """Look at the initiatives due and tell what changed, then keep one initiative's finished
    weeks (the longest part); whether more may be due."""
    now = utcnow()
    latest = int(session.scalar(_latest_history()) or 0)
    due = storage.lock_due(session, select(Initiative).where(_check_due(now)).order_by(Initiative.key).limit(BATCH))
    for initiative in due:
        _look_at(session, initiative, now, latest)
    weeks = session.scalars(select(Initiative.id).where(_weeks_due(now)).order_by(Initiative.key).limit(2)).all()
    if weeks:
        burnup.fill(session, initiative_id=weeks[0], now=now)
    return len(due) == BATCH or len(weeks) > 1


def _look_at(session: Session, initiative: Initiative, now: datetime, latest: int) -> None:
    rule = GoalRule.of(initiative.goal)
    filters = progress.filters_of(initiative.scope)
    remaining = progress.any_remaining(session, rule=rule, filters=filters, now=now)
    if (
        initiative.completed_at is None
        and not remaining
        and progress.any_in_scope(session, rule=rule, filters=filters, now=now)
    ):
        counts = progress.counts(session, rule=rule, filters=filters, now=now)
        initiative.completed_at = now
        early = (initiative.target_date - now.date()).days
        when = (
            f"{early} days before its target date {initiative.target_date.isoformat()}"
            if early > 0
            else f"by its target date {initiative.target_date.isoformat()}"
            if early == 0
            else f"{-early} days after its target date {initiative.target_date.isoformat()}"
        )
        completed = InitiativeCompleted(
            initiative=initiative.key,
            name=initiative.name,
            goal=rule.words(),
            target_date=initiative.target_date,
            in_scope=counts.in_scope,
            summary=f"{initiative.name} is complete: all {counts.in_scope} projects in scope meet its goal "
            f"({rule.words()}), {when}.",
        )
        news.emit(session, "initiative.completed", initiative.key, completed)
    if initiative.overdue_at is None and remaining and is_overdue(initiative.target_date, now):
        counts = progress.counts(session, rule=rule, filters=filters, now=now)
        initiative.overdue_at = now
        left = counts.in_scope - counts.done
        overdue = InitiativeOverdue(
            initiative=initiative.key,
            name=initiative.name,
            goal=rule.words(),
            target_date=initiative.target_date,
            in_scope=counts.in_scope,
            done=counts.done,
            remaining=left,
            summary=f"{initiative.name} is overdue: its target date {initiative.target_date.isoformat()} has "
            f"passed with {left} of {counts.in_scope} projects in scope still short of its goal ({rule.words()}).",
        )
        news.emit(session, "initiative.overdue", initiative.key, overdue)
    initiative.checked_through = latest
    initiative.check_at = now + RECHECK
