"""The dashboard's pages of initiatives: the list, with how far each has come, and a page per
initiative with its burn-up and the projects remaining by department. Within the signed-in
caller's departments, as on the API."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.core.db import utcnow
from app.core.errors import NotFound
from app.initiatives import progress, service
from app.initiatives.goals import GoalRule
from app.initiatives.schemas import InitiativeProgress, InitiativeRead, RemainingProject
from app.ui import charts
from app.ui.web import UI_PATH, database, page, signed_in

router = APIRouter(prefix=UI_PATH, include_in_schema=False)
# Remaining projects shown on an initiative's page; the API pages through the rest.
REMAINING_SHOWN = 500
LISTED = 200


@dataclass(frozen=True)
class Listed:
    initiative: InitiativeRead
    goal: str
    in_scope: int
    done: int
    overdue: bool


def _listed(session: Session, *, now: datetime) -> tuple[list[Listed], bool]:
    initiatives, more = service.list_initiatives(session, limit=LISTED, cursor=None)
    shown = []
    for initiative in initiatives:
        rule = GoalRule.of(initiative.goal)
        counts = progress.counts(session, rule=rule, filters=progress.filters_of(initiative.scope), now=now)
        overdue = service.is_overdue(initiative.target_date, now) and counts.done < counts.in_scope
        shown.append(Listed(service.read_model(initiative), rule.words(), counts.in_scope, counts.done, overdue))
    return shown, more is not None


@router.get("/initiatives")
async def initiatives_view(request: Request) -> Response:
    """Every initiative, with projects in scope and done within the caller's departments."""
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    shown, more = await database(request).read(_listed, now=utcnow())
    return page(request, "initiatives.html", {"caller": caller, "initiatives": shown, "more": more})


@router.get("/initiatives/{key}")
async def initiative_view(request: Request, key: str) -> Response:
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    db, now = database(request), utcnow()
    try:
        initiative = await db.read(service.get_initiative, key=key)
        found = await db.read(service.progress_of, key=key, limit=REMAINING_SHOWN, cursor=None, now=now)
        if found is None:
            await db.write(service.fill_weeks, key=key, now=now)
            found = await db.read(service.progress_of, key=key, limit=REMAINING_SHOWN, cursor=None, now=now)
    except NotFound:
        context = {"caller": caller, "title": "Not found", "message": f"No initiative with key {key!r}."}
        return page(request, "error.html", context, status_code=404)
    if found is None:
        context = {"caller": caller, "title": "Changed", "message": "The initiative changed meanwhile: look again."}
        return page(request, "error.html", context, status_code=409)
    context = {
        "caller": caller,
        "initiative": service.read_model(initiative),
        "goal": GoalRule.of(initiative.goal).words(),
        "progress": found,
        "burn_up": _burn_up_chart(found),
        "by_department": _by_department(found.remaining),
        "more": found.next_cursor is not None,
    }
    return page(request, "initiative.html", context)


def _burn_up_chart(found: InitiativeProgress) -> Markup:
    weeks = found.burn_up
    scope = charts.Series("In scope", [(week.as_of, week.in_scope) for week in weeks])
    done = charts.Series("Done", [(week.as_of, week.done) for week in weeks])
    exact = (
        f" Exact from {found.exact_from}; earlier weeks count criteria the history did not keep as not done."
        if (weeks and found.exact_from != weeks[0].week)
        else ""
    )
    return charts.line_chart(
        [scope, done],
        title="Burn-up: projects in scope and done, week by week",
        y_label="projects",
        description=f"As each ISO week ended, this week as it stands.{exact}",
        start=weeks[0].as_of if weeks else None,
        end=weeks[-1].as_of if weeks else None,
    )


def _by_department(remaining: list[RemainingProject]) -> list[tuple[str | None, list[RemainingProject]]]:
    grouped: dict[str | None, list[RemainingProject]] = defaultdict(list)
    for project in remaining:
        grouped[project.department].append(project)
    return sorted(grouped.items(), key=lambda item: (item[0] is None, item[0] or ""))
