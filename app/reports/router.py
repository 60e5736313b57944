import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from app.auth.dependencies import Reader
from app.core.db import utcnow
from app.core.deps import DbDep, SettingsDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.schemas import IsoDate
from app.core.settings import Settings
from app.reports import render, service
from app.reports.schemas import SteeringReport

router = APIRouter(prefix=API_PREFIX, tags=["reports"])
PDF_MEDIA_TYPE = "application/pdf"

From = Annotated[
    IsoDate | None,
    Query(alias="from", description="The first day (READINESS_TIMEZONE); by default the current quarter's first."),
]
To = Annotated[IsoDate | None, Query(alias="to", description="The last day, included; by default today.")]


def period(settings: Settings, first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for, or the current quarter up to today, in READINESS_TIMEZONE."""
    today = utcnow().astimezone(settings.zone).date()
    last = last or today
    if first is None:
        first = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    return first, last


def filename(report: SteeringReport) -> str:
    return f"steering-report-{report.period.from_date.isoformat()}-{report.period.to_date.isoformat()}.pdf"


def pdf_response(report: SteeringReport, rendered: bytes) -> Response:
    return Response(
        rendered,
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename(report)}"', "Cache-Control": "private, no-store"},
    )


async def as_pdf(report: SteeringReport) -> bytes:
    """Rendered off the event loop: a PDF takes a second or more."""
    return await asyncio.to_thread(render.pdf, report)


@router.get(
    "/reports/steering",
    response_model=SteeringReport,
    summary="The steering committee's report",
    responses={
        200: {
            "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "JSON, or a PDF with `Accept: application/pdf`",
        },
        **problem_responses(400, 401, 403, 422),
    },
)
async def steering_report(
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    first: From = None,
    last: To = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """For the period `from` to `to` (days in READINESS_TIMEZONE, both included; at most three
    years): movement through the funnel, decisions taken with rationale and by whom, decisions due
    and waiting, readiness up and down, stalled projects and why, realized against projected
    benefit per currency, and the top blockers, over the caller's projects. Computed from the
    service's history, so that a past period reads as it was; `approximations` says where it could
    not be. With `Accept: application/pdf`, the same report as a PDF rendered by the service."""
    start, end = period(settings, first, last)
    report = await db.read(service.steering, first=start, last=end, zone=settings.zone, limits=settings.stage_limits)
    if accept and PDF_MEDIA_TYPE in accept:
        return pdf_response(report, await as_pdf(report))
    return json_response(report)
