"""The dashboard: server-rendered pages over the same services and authorisation as the API.

No page runs a script: every page works without JavaScript, and the Content-Security-Policy allows
no script at all. Charts are SVG drawn by the service with classes, never style attributes.

Cross-site request forgery: the session cookie is SameSite=Strict, so a browser never sends it
with a request another site starts; the two forms that POST (sign-in, sign-out) also refuse a
request whose `Sec-Fetch-Site` or `Origin` names another site.
"""

from collections.abc import Callable
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from app.auth.authenticator import Authenticator
from app.auth.service import hash_secret
from app.core.db import utcnow
from app.core.errors import ProblemError
from app.engine.frameworks import RiskTier
from app.engine.stages import FORWARD_ORDER, Stage
from app.portfolio import service as portfolio
from app.portfolio import trend as trends
from app.ui import auth, charts, decisions, initiatives, pages, project, reports, sessions
from app.ui.web import (
    COOKIE,
    LEVELS,
    SIGN_IN_PATH,
    STATIC,
    UI_HEADERS,
    UI_PATH,
    database,
    forget,
    form_allowed,
    keep_session,
    page,
    redirect,
    refused,
    safe_next,
    same_site,
    settings_of,
    sign_in_page,
    signed_in,
    words,
)

router = APIRouter(prefix=UI_PATH, include_in_schema=False)


class UiStatic(StaticFiles):
    """The dashboard's style sheet and icons, under the same policy as its pages."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(UI_HEADERS)
        # Revalidated by ETag on every use, so that a new release's style sheet shows at once.
        response.headers["Cache-Control"] = "no-cache"
        return response


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return sign_in_page(request, next=safe_next(next))


@router.post("/sign-in")
async def sign_in(
    request: Request, key: Annotated[str, Form(max_length=500)] = "", next: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    """Exchange an API key for a session. A wrong key counts toward the address's failure limit,
    as it does on the API."""
    if not same_site(request):
        return refused(request)
    target = safe_next(next)
    authenticator = cast(Authenticator, request.app.state.authenticator)
    try:
        caller = await authenticator.authenticate(request.scope, key.strip())
    except ProblemError as error:
        message = "That key is unknown, expired or revoked." if error.status == 401 else error.detail
        return sign_in_page(request, next=target, error=message, status_code=error.status)
    if caller.key_id is None:
        message = "Sign in with an API key; access tokens are for the API."
        return sign_in_page(request, next=target, error=message, status_code=401)
    token = await database(request).write(sessions.start, key_id=caller.key_id, secret_hash=hash_secret(key.strip()))
    response = redirect(target)
    keep_session(response, request, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not form_allowed(request, csrf):
        return refused(request)
    token = request.cookies.get(COOKIE)
    if token:
        await database(request).write(sessions.end, token=token)
    response = redirect(SIGN_IN_PATH)
    forget(response, request)
    return response


def _filters(params: QueryParams) -> portfolio.Filters:
    """The filters a shared URL names; an empty or unknown value filters nothing."""

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value[:320] or None

    stage = text("stage")
    tier = text("risk_tier")
    return portfolio.Filters(
        department=text("department"),
        region=text("region"),
        stage=Stage(stage) if stage is not None and stage in Stage.__members__ else None,
        owner=text("owner"),
        risk_tier=RiskTier(tier) if tier is not None and tier in RiskTier.__members__ else None,
    )


def _query(filters: portfolio.Filters, **changes: str | None) -> str:
    """The portfolio URL's query with the current filters, some changed."""
    values: dict[str, str | None] = {
        "department": filters.department,
        "region": filters.region,
        "stage": filters.stage.value if filters.stage else None,
        "risk_tier": filters.risk_tier.value if filters.risk_tier else None,
        "owner": filters.owner,
        **changes,
    }
    shown = {name: value for name, value in values.items() if value}
    return f"?{urlencode(shown)}" if shown else "?"


@router.get("/")
async def portfolio_view(request: Request) -> Response:
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    filters = _filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    try:
        shown = await database(request).read(
            pages.portfolio_page, filters=filters, cursor=cursor, now=utcnow(), limits=settings_of(request).stage_limits
        )
    except ProblemError:
        # A cursor that does not parse is an old or edited link: start at the first page.
        shown = await database(request).read(
            pages.portfolio_page, filters=filters, cursor=None, now=utcnow(), limits=settings_of(request).stage_limits
        )
    summary = shown.summary
    funnel = [
        charts.Bar(words(stage.value), summary.by_stage[stage.value], href=_query(filters, stage=stage.value))
        for stage in FORWARD_ORDER
    ]
    levels = [charts.Bar(words(level), shown.levels.get(level, 0), css_class=f"bar level-{level}") for level in LEVELS]
    levels.append(charts.Bar("Not scored", shown.levels.get(None, 0), css_class="bar level-none"))
    benefit = summary.monthly_benefit
    currencies = sorted(set(benefit.realized) | set(benefit.projected))
    benefits = [
        (currency, benefit.realized.get(currency, 0.0), benefit.projected.get(currency, 0.0)) for currency in currencies
    ]
    context = {
        "caller": caller,
        "trend_charts": _trend_charts(shown.trend),
        "filters": filters,
        "query": lambda **changes: _query(filters, **changes),
        "filtered": filters != portfolio.Filters(),
        "page": shown,
        "summary": summary,
        "funnel": funnel,
        "levels": levels,
        "benefits": benefits,
        "stages": [stage.value for stage in (*FORWARD_ORDER, Stage.retired)],
        "risk_tiers": [tier.value for tier in RiskTier],
        "cursor": cursor,
        "blockers_shown": pages.BLOCKERS_SHOWN,
    }
    return page(request, "portfolio.html", context)


def _trend_charts(trend: trends.Trend) -> list[Markup]:
    """Month by month, as each month ended: where projects stand, their mean score, what they earn."""
    points = trend.overall
    start, end = (points[0].start, points[-1].as_of) if points else (None, None)

    def series(name: str, value: Callable[[trends.TrendPoint], float | None]) -> charts.Series:
        return charts.Series(name, [(p.as_of, figure) for p in points if (figure := value(p)) is not None])

    def benefit(currency: str) -> charts.Series:
        return series(currency, lambda p: p.realized_monthly_benefit.get(currency, 0.0))

    live = series("In production or scaling", lambda p: p.by_stage["production"] + p.by_stage["scaling"])
    shown = [
        charts.line_chart(
            [
                live,
                series("Go-live ready", lambda p: p.go_live_ready),
                series("Stalling", lambda p: p.stalled),
            ],
            title="Projects live, go-live ready and stalling, month by month",
            y_label="projects",
            start=start,
            end=end,
        ),
        charts.line_chart(
            [series("Mean score", lambda p: p.mean_score)],
            title="Mean readiness score, month by month",
            y_label="score",
            start=start,
            end=end,
        ),
    ]
    currencies = sorted({currency for point in points for currency in point.realized_monthly_benefit})
    if currencies:
        shown.append(
            charts.line_chart(
                [benefit(currency) for currency in currencies],
                title="Realized monthly benefit, month by month",
                y_label="per month",
                start=start,
                end=end,
            )
        )
    return shown


async def _home() -> Response:
    return redirect(f"{UI_PATH}/")


async def _favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.ico", media_type="image/x-icon", headers={**UI_HEADERS, "Cache-Control": "max-age=86400"}
    )


def install_ui(app: FastAPI) -> None:
    """The dashboard's pages and assets, `/` leading to it, and the icon browsers ask for."""
    app.include_router(router)
    app.include_router(project.router)
    app.include_router(decisions.router)
    app.include_router(reports.router)
    app.include_router(initiatives.router)
    auth.install(app)
    app.mount(f"{UI_PATH}/static", UiStatic(directory=STATIC), name="ui-static")
    app.add_api_route("/", _home, include_in_schema=False)
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
