"""Initiatives: a goal for the projects in a scope of the portfolio, by a target date, with its
progress live and its burn-up since it starts."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.core.patch import merge_patch
from app.core.preconditions import IfMatch, etag
from app.core.schemas import validate_or_422
from app.initiatives import burnup, progress
from app.initiatives.goals import GoalRule
from app.initiatives.models import Initiative
from app.initiatives.schemas import (
    BurnUpWeek,
    InitiativeCreate,
    InitiativeFields,
    InitiativeProgress,
    InitiativeRead,
    InitiativeReplace,
)
from app.rubrics import service as rubrics
from app.rubrics.models import Rubric


def initiative_etag(initiative: Initiative) -> str:
    return etag(initiative.id, initiative.version)


def read_model(initiative: Initiative) -> InitiativeRead:
    return InitiativeRead.model_validate(
        {
            "key": initiative.key,
            "name": initiative.name,
            "description": initiative.description,
            "owner": {"name": initiative.owner_name, "email": initiative.owner_email},
            "goal": initiative.goal,
            "scope": initiative.scope,
            "starts_at": initiative.starts_at,
            "target_date": initiative.target_date,
            "created_by": initiative.created_by,
            "created_at": initiative.created_at,
            "updated_at": initiative.updated_at,
            "completed_at": initiative.completed_at,
            "overdue_at": initiative.overdue_at,
        }
    )


def _snapshot(initiative: Initiative) -> dict[str, Any]:
    return read_model(initiative).model_dump(mode="json")


def get_initiative(session: Session, *, key: str) -> Initiative:
    initiative = session.scalar(select(Initiative).where(Initiative.key == key))
    if initiative is None:
        raise NotFound(f"No initiative with key {key!r}.")
    return initiative


def list_initiatives(session: Session, *, limit: int, cursor: str | None) -> tuple[list[Initiative], str | None]:
    return keyset_page(session, select(Initiative), [Initiative.key], limit=limit, cursor=cursor)


def _known_criteria(session: Session, keys: list[str]) -> None:
    """422 unless every criterion of a goal is a criterion of some rubric's latest version."""
    known = {
        criterion.key
        for rubric_key in session.scalars(select(Rubric.key))
        for criterion in rubrics.latest_engine_rubric(session, rubric_key).criteria
    }
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise Unprocessable(
            "The goal names criteria no rubric has.",
            errors=[
                FieldError(field="body.goal.criteria", message=f"{key!r} is not a criterion of any rubric")
                for key in unknown
            ],
        )


def _check(session: Session, data: InitiativeFields) -> None:
    if data.goal.criteria is not None:
        _known_criteria(session, data.goal.criteria)
    # A caller scoped to departments writes initiatives about one of them only.
    scope.require_department(data.scope.department)


def _apply(initiative: Initiative, data: InitiativeFields, now: datetime) -> bool:
    """The fields, and the news they reset (a changed goal or scope is a new question, a moved
    date is told again); whether the kept weeks of the burn-up now answer another question."""
    goal = data.goal.model_dump(mode="json", exclude_none=True)
    scope_filters = data.scope.model_dump(mode="json", exclude_none=True)
    starts_at = data.starts_at or initiative.starts_at or now
    question_changed = (initiative.goal, initiative.scope) != (goal, scope_filters)
    weeks_changed = question_changed or initiative.starts_at != starts_at
    if question_changed:
        initiative.completed_at = initiative.overdue_at = None
    if question_changed or initiative.target_date != data.target_date:
        initiative.overdue_at = None
    initiative.name = data.name
    initiative.description = data.description
    initiative.owner_name = data.owner.name
    initiative.owner_email = str(data.owner.email)
    initiative.goal = goal
    initiative.scope = scope_filters
    initiative.starts_at = starts_at
    initiative.target_date = data.target_date
    # Looked at again by the watch at once: the change may complete it, or make it overdue.
    initiative.check_at = None
    return weeks_changed


def _recorded(session: Session, initiative: Initiative, audit: AuditEntry) -> None:
    changes.record(session, Cause("initiative", initiative.key), audit=audit, status="none", readiness=False)
    # The watch runs beside the re-scorer, which this wakes once the transaction commits.
    session.info[changes.RESCORE_WANTED] = True


def create_initiative(session: Session, *, data: InitiativeCreate, actor: Caller) -> Initiative:
    if session.scalar(select(Initiative.id).where(Initiative.key == data.key)) is not None:
        raise Conflict(f"An initiative with key {data.key!r} exists.")
    _check(session, data)
    now = utcnow()
    initiative = Initiative(key=data.key, created_by=actor.name, created_at=now, updated_at=now)
    _apply(initiative, data, now)
    session.add(initiative)
    session.flush()
    _recorded(
        session,
        initiative,
        AuditEntry(actor, "initiative.create", "initiative", initiative.key, after=_snapshot(initiative)),
    )
    return initiative


def patch_initiative(
    session: Session, *, key: str, patch: dict[str, Any], if_match: IfMatch | None, actor: Caller
) -> Initiative:
    """Apply a JSON merge patch (RFC 7396) to the initiative's writable fields."""
    initiative = get_initiative(session, key=key)
    scope.require_department(initiative.scope.get("department"))
    before = _snapshot(initiative)
    current = {name: value for name, value in before.items() if name not in InitiativeFields.read_only_fields}
    merged = merge_patch(current, patch)
    if merged.get("key") != key:
        raise Unprocessable(
            "Keys cannot be renamed.", errors=[FieldError(field="body.key", message="must equal the key in the path")]
        )
    data = validate_or_422(InitiativeReplace, merged)
    # After the body: a patch that could never apply is 422 whatever the caller last read.
    if if_match is not None:
        if_match.check(initiative_etag(initiative))
    _check(session, data)
    now = utcnow()
    if _apply(initiative, data, now):
        burnup.forget(session, initiative)
    initiative.version += 1
    initiative.updated_at = now
    _recorded(
        session,
        initiative,
        AuditEntry(actor, "initiative.update", "initiative", key, before=before, after=_snapshot(initiative)),
    )
    return initiative


def delete_initiative(session: Session, *, key: str, if_match: IfMatch | None, actor: Caller) -> None:
    initiative = get_initiative(session, key=key)
    if if_match is not None:
        if_match.check(initiative_etag(initiative))
    scope.require_department(initiative.scope.get("department"))
    before = _snapshot(initiative)
    session.delete(initiative)
    changes.record(
        session,
        Cause("initiative", key),
        audit=AuditEntry(actor, "initiative.delete", "initiative", key, before=before),
        status="none",
        readiness=False,
    )


def progress_of(
    session: Session, *, key: str, limit: int, cursor: str | None, now: datetime
) -> InitiativeProgress | None:
    """The progress within the caller's departments; None while finished weeks of the burn-up are
    not kept yet (computing them takes a write: `fill_weeks`, then ask again)."""
    initiative = get_initiative(session, key=key)
    if burnup.missing_weeks(initiative, now):
        return None
    rule = GoalRule.of(initiative.goal)
    filters = progress.filters_of(initiative.scope)
    counts = progress.counts(session, rule=rule, filters=filters, now=now)
    remaining, next_cursor = progress.remaining(
        session, rule=rule, filters=filters, now=now, limit=limit, cursor=cursor
    )
    burn_up = _burn_up(session, initiative, counts, now)
    inexact = [index for index, week in enumerate(burn_up) if not week.exact]
    exact_from = burn_up[inexact[-1] + 1 if inexact else 0].week if burn_up else None
    return InitiativeProgress(
        initiative=initiative.key,
        as_of=now,
        in_scope=counts.in_scope,
        done=counts.done,
        remaining=remaining,
        next_cursor=next_cursor,
        by_department=counts.by_department,
        burn_up=burn_up,
        exact_from=exact_from,
        target_date=initiative.target_date,
        overdue=is_overdue(initiative.target_date, now) and counts.done < counts.in_scope,
        completed_at=initiative.completed_at,
    )


def is_overdue(target_date: date, now: datetime) -> bool:
    """Past the target date: from 00:00 UTC the day after it."""
    return burnup.midnight(target_date) + burnup.DAY <= now


def _burn_up(session: Session, initiative: Initiative, counts: progress.Counts, now: datetime) -> list[BurnUpWeek]:
    """The kept weeks, then this week (and a week that ended less than a minute ago) as they stand."""
    kept = burnup.kept_weeks(session, initiative)
    through = initiative.weeks_through
    weeks = []
    for week in burnup.weeks_between(burnup.week_of(initiative.starts_at), burnup.week_of(now)):
        if through is not None and week <= through:
            figures = kept.get(week, burnup.Figures())
            as_of = burnup.midnight(week + burnup.WEEK)
        else:
            figures, as_of = burnup.Figures(counts.in_scope, counts.done), now
        weeks.append(
            BurnUpWeek(
                week=burnup.iso_week(week),
                starts_on=week,
                as_of=as_of,
                in_scope=figures.in_scope,
                done=figures.done,
                exact=figures.approximate == 0,
            )
        )
    return weeks


def fill_weeks(session: Session, *, key: str, now: datetime) -> None:
    burnup.fill(session, initiative_id=get_initiative(session, key=key).id, now=now)
