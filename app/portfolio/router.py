import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import Response, StreamingResponse

from app.auth.dependencies import Reader, ReaderAccess, authenticate, bearer
from app.auth.lean import lean
from app.core.db import Database, utcnow
from app.core.deps import DbDep, IfNoneMatchHeader, SettingsDep, get_settings
from app.core.errors import problem_responses
from app.core.http import API_PREFIX
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.core.schemas import IsoDate
from app.core.settings import Settings
from app.core.strict import refuse_unknown_query_parameters
from app.engine.scoring import Level
from app.portfolio import badge, scaling, service, trend
from app.portfolio.http import CSV_MEDIA_TYPE, Filters, csv_cell, polled
from app.portfolio.schemas import PortfolioRow, ScalingRead, StalledRow, SummaryRead, TrendRead
from app.projects.router import ProjectKey
from app.readiness import reads as readiness

router = APIRouter(prefix=API_PREFIX, tags=["portfolio"])

CSV_PAGE = 1000
CSV_COLUMNS = list(PortfolioRow.model_fields)


async def _csv_rows(
    db: Database, filters: service.Filters, sort: service.Sort, settings: Settings
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    now, limits = utcnow(), settings.stage_limits
    while True:
        rows, cursor = await db.query(
            service.readiness_rows, filters=filters, sort=sort, limit=CSV_PAGE, cursor=cursor, now=now, limits=limits
        )
        for row in rows:
            shown = row.model_dump(mode="json")
            writer.writerow([csv_cell(shown[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if cursor is None:
            return


@router.get(
    "/portfolio/readiness",
    response_model=Page[PortfolioRow],
    summary="Readiness across the portfolio",
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "JSON, or CSV on request"},
        **problem_responses(400, 401, 403, 422),
    },
)
@lean
async def portfolio_readiness(
    access: ReaderAccess,
    filters: Filters,
    sort: Annotated[
        service.Sort, Query(description="`-` sorts descending; unevaluated projects sort below 0.")
    ] = "key",
    limit: Limit = 50,
    cursor: Cursor = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """One row per project: its latest score, level and gate, stage, days in stage, stall risk and
    monthly benefit. With `Accept: text/csv` the response streams every matching row as CSV (all
    pages; `limit` and `cursor` are ignored)."""
    db, settings = access.db, access.settings
    if accept and CSV_MEDIA_TYPE in accept:
        return StreamingResponse(
            _csv_rows(db, filters, sort, settings),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="portfolio-readiness.csv"'},
        )
    rows, next_cursor = await db.query(
        service.readiness_rows,
        filters=filters,
        sort=sort,
        limit=limit,
        cursor=cursor,
        now=utcnow(),
        limits=settings.stage_limits,
    )
    return polled(
        Page[PortfolioRow](items=rows, next_cursor=next_cursor),
        if_none_match,
    )


@router.get(
    "/portfolio/summary",
    response_model=SummaryRead,
    summary="Portfolio summary by group",
    responses=problem_responses(401, 403, 422),
)
async def portfolio_summary(
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    group_by: Annotated[service.GroupBy | None, Query(description="Also break the figures down by this.")] = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """Projects per stage, mean and median score, go-live ready and stalled counts, POC→production
    conversion, median days per stage and monthly benefit by currency: overall, and per group, of
    the projects that match the filters."""
    summary = await db.read(
        service.summary, filters=filters, group_by=group_by, now=utcnow(), limits=settings.stage_limits
    )
    return polled(summary, if_none_match)


@router.get(
    "/portfolio/stalled",
    response_model=Page[StalledRow],
    summary="Projects that are stalling",
    responses=problem_responses(400, 401, 403, 422),
)
async def portfolio_stalled(
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """Projects at medium or high stall risk, high first, each with the signals that put it there;
    of the projects that match the filters."""
    rows, next_cursor = await db.read(
        service.stalled, filters=filters, limit=limit, cursor=cursor, now=utcnow(), limits=settings.stage_limits
    )
    return polled(
        Page[StalledRow](items=rows, next_cursor=next_cursor),
        if_none_match,
    )


@router.get(
    "/portfolio/trend",
    response_model=TrendRead,
    summary="How the portfolio moved over time",
    responses=problem_responses(401, 403, 422),
)
async def portfolio_trend(
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    interval: Annotated[trend.Interval, Query(description="ISO weeks (from Monday) or calendar months, in UTC.")] = (
        "month"
    ),
    first: Annotated[
        IsoDate | None, Query(alias="from", description="A day in the first bucket; by default 12 buckets up to `to`.")
    ] = None,
    last: Annotated[
        IsoDate | None, Query(alias="to", description="A day in the last bucket; by default (and at most) today.")
    ] = None,
    group_by: Annotated[service.GroupBy | None, Query(description="Also break the figures down by this.")] = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """Per week or month, as each bucket ended (the current one: as it stands now): projects per
    stage, entries into production, mean score, go-live ready, stalled and realized monthly benefit
    by currency; overall and per group. Computed from the stage transitions, the readiness history
    and the measurements, so past buckets are right too; at most 104 buckets.

    Filters select projects as they are today: department, region, owner and tag by their current
    values, and stage, level and risk by their current value too (every bucket then shows those
    projects as they were then). Groups by department or region are current as well; a group by
    stage follows each project's stage at the time. Deleted projects and KPIs are gone from every
    bucket. Stalled is approximated before today (only the stage time limit is known for the past):
    `approximations` in the answer says how each approximated figure was computed."""
    result = await db.read(
        trend.trend,
        filters=filters,
        group_by=group_by,
        interval=interval,
        first=first,
        last=last,
        now=utcnow(),
        limits=settings.stage_limits,
    )
    return polled(TrendRead.model_validate(result), if_none_match)


@router.get(
    "/portfolio/scaling",
    response_model=ScalingRead,
    summary="Scaling what works",
    responses=problem_responses(400, 401, 403, 422),
)
async def portfolio_scaling(
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """The playbook's section 5 across the portfolio: validated use cases (in production or
    scaling, a page at a time) with their replicas by department and region (`places` are the
    grid's columns) and whether each runs on its origin's platform, their adjacent expansions in
    the same domain, projects per platform, and the projects told to focus ("resist the temptation
    to jump to entirely new use cases before the first one is stable"). Every project shown
    matches the filters and is in the caller's departments."""
    shown = await db.read(
        scaling.view, filters=filters, limit=limit, cursor=cursor, now=utcnow(), limits=settings.stage_limits
    )
    return polled(shown, if_none_match)


async def badge_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> bool:
    """Whether the badge is public; otherwise any valid key may read it."""
    if settings.public_badges:
        refuse_unknown_query_parameters(request)
        return True
    await authenticate(request, credentials)
    refuse_unknown_query_parameters(request)
    return False


badge_access.required_role = "reader"  # type: ignore[attr-defined]


@router.get(
    "/projects/{key}/badge.svg",
    summary="A readiness badge",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "An SVG badge"},
        304: {"description": "Not Modified"},
        **problem_responses(401, 403, 404, 422),
    },
)
async def project_badge(
    key: ProjectKey,
    db: DbDep,
    public: Annotated[bool, Depends(badge_access)],
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """The current score and level as an SVG badge, coloured by level. Without a key when
    `READINESS_PUBLIC_BADGES=true` (cacheable for 5 minutes), otherwise with any valid key."""
    current = await db.read(readiness.badge, key=key, refresh_stale=False)
    if current is None:
        current = await db.write(readiness.badge, key=key, refresh_stale=True)
    assert current is not None
    score, level = current.result["score"], current.result["level"]
    tag = f'"badge-{score:.2f}-{level}"'
    headers = {"ETag": tag, "Cache-Control": "public, max-age=300" if public else "no-store"}
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    svg = badge.render(score, Level(level))
    return Response(svg, media_type="image/svg+xml", headers=headers)
