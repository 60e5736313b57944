"""The steering committee's report on the dashboard: the printable page for a period, its PDF and
its style sheet."""

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import FileResponse, Response

from app.core.errors import ProblemError
from app.reports import render as reports_render
from app.reports import router as reports_api
from app.reports import service as reports
from app.reports.schemas import SteeringReport
from app.ui.web import UI_HEADERS, UI_PATH, database, page, settings_of, signed_in

router = APIRouter(prefix=UI_PATH, include_in_schema=False)
REPORT_PATH = f"{UI_PATH}/reports/steering"


def _day(params: QueryParams, name: str) -> date | None:
    value = params.get(name, "").strip()
    return date.fromisoformat(value) if value else None


async def _steering(request: Request) -> SteeringReport | Response:
    """The report the page's address asks for, or the page saying what is wrong with it."""
    settings = settings_of(request)
    try:
        first, last = reports_api.period(settings, _day(request.query_params, "from"), _day(request.query_params, "to"))
        return await database(request).read(
            reports.steering, first=first, last=last, zone=settings.zone, limits=settings.stage_limits
        )
    except (ValueError, ProblemError) as error:
        message = error.detail if isinstance(error, ProblemError) else "Dates are written 2026-01-31."
        return page(request, "error.html", {"title": "Not a period", "message": message}, status_code=422)


@router.get("/reports/steering")
async def steering_view(request: Request) -> Response:
    """The steering report, printable, with a link to the same period as a PDF."""
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    report = await _steering(request)
    if isinstance(report, Response):
        return report
    period = urlencode({"from": report.period.from_date.isoformat(), "to": report.period.to_date.isoformat()})
    printable = reports_render.html(
        report, stylesheet=f"{REPORT_PATH}.css", pdf_link=f"{REPORT_PATH}.pdf?{period}", home=f"{UI_PATH}/"
    )
    return Response(printable, media_type="text/html; charset=utf-8", headers=UI_HEADERS)


@router.get("/reports/steering.pdf")
async def steering_pdf(request: Request) -> Response:
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    report = await _steering(request)
    if isinstance(report, Response):
        return report
    response = reports_api.pdf_response(report, await reports_api.as_pdf(report))
    response.headers.update(UI_HEADERS)
    return response


@router.get("/reports/steering.css")
async def steering_stylesheet() -> Response:
    return FileResponse(
        reports_render.STYLESHEET, media_type="text/css", headers={**UI_HEADERS, "Cache-Control": "no-cache"}
    )
