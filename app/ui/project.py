"""A project's page: where it stands, and the decision room's forms for whoever may act on it."""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from app.core.errors import NotFound
from app.core.identity import Caller, Role
from app.engine.scoring import Criterion
from app.readiness import reads as readiness
from app.readiness.document import cause_summary
from app.ui import charts, pages
from app.ui.web import (
    FRAMEWORK_NAMES,
    UI_PATH,
    database,
    page,
    settings_of,
    signed_in,
)

router = APIRouter(prefix=UI_PATH, include_in_schema=False)


NOTICES = {
    "requested": "Decision requested: it waits in the steering committee's queue.",
    "withdrawn": "Decision request withdrawn.",
    "attested": "Attestation recorded.",
    "decided": "Decision recorded.",
}


async def render(
    request: Request, caller: Caller, key: str, *, message: str | None = None, status_code: int = 200
) -> Response:
    """The project's page; with `message`, the reason an action was refused, shown above its forms."""
    db, limits = database(request), settings_of(request).stage_limits
    try:
        shown = await db.read(pages.project_page, key=key, limits=limits, refresh_stale=False)
        if shown is None:
            shown = await db.write(pages.project_page, key=key, limits=limits, refresh_stale=True)
    except NotFound:
        context = {"caller": caller, "title": "Not found", "message": f"No project with key {key!r}."}
        return page(request, "error.html", context, status_code=404)
    assert shown is not None
    notice = NOTICES.get(request.query_params.get("notice", "")) if message is None else None
    context = {
        "caller": caller,
        "page": shown,
        "project": shown.project,
        "result": shown.view.current.result,
        "stall": shown.view.stall,
        "stays": pages.stages_of(shown.project, shown.transitions),
        "kpi_charts": [(series.kpi, _kpi_chart(series)) for series in shown.kpis],
        "history_chart": _history_chart(shown.history),
        "cause_summary": cause_summary,
        "frameworks": FRAMEWORK_NAMES,
        "room": Room.of(caller, shown),
        "etag": shown.view.etag,
        "message": message,
        "notice": notice,
    }
    return page(request, "project.html", context, status_code=status_code)


@dataclass(frozen=True)
class Room:
    """What the caller may do on the page, by role: the decision room's forms it is shown."""

    can_request: bool
    can_withdraw: bool
    can_decide: bool
    attestable: list[Criterion]

    @classmethod
    def of(cls, caller: Caller, shown: pages.ProjectPage) -> "Room":
        writer = caller.role.allows(Role.writer)
        approver = caller.role.allows(Role.approver)
        return cls(
            can_request=writer and shown.open_request is None,
            can_withdraw=writer and shown.open_request is not None,
            can_decide=approver,
            attestable=[c for c in shown.criteria if writer and (approver or not c.gate)],
        )


@router.get("/projects/{key}")
async def project_view(request: Request, key: str) -> Response:
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    return await render(request, caller, key)


def _kpi_chart(series: pages.KpiSeries) -> Markup | None:
    """The KPI's measurements against its baseline and target; None before the first measurement."""
    if not series.points:
        return None
    kpi = series.kpi
    references = [
        charts.Reference(label, value, css_class=f"reference {label.lower()}")
        for label, value in (("Baseline", kpi.baseline), ("Target", kpi.target))
        if value is not None
    ]
    return charts.line_chart(
        [charts.Series(kpi.name, series.points)],
        title=f"{kpi.name}: measurements against baseline and target",
        y_label=kpi.unit or "value",
        references=references,
    )


def _history_chart(history: list[readiness.HistoryEntry]) -> Markup | None:
    if len(history) < 2:
        return None
    points = [(entry.changed_at, entry.score) for entry in reversed(history)]
    return charts.line_chart([charts.Series("Score", points)], title="Readiness score over time", y_label="score")
