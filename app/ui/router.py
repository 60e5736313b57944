"""The dashboard: server-rendered pages over the same services and authorisation as the API.

No page runs a script: every page works without JavaScript, and the Content-Security-Policy allows
no script at all. Charts are SVG drawn by the service with classes, never style attributes.

Cross-site request forgery: the session cookie is SameSite=Strict, so a browser never sends it
with a request another site starts; the two forms that POST (sign-in, sign-out) also refuse a
request whose `Sec-Fetch-Site` or `Origin` names another site.
"""

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Form, Request
from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from app.auth import scope
from app.auth.authenticator import Authenticator
from app.auth.service import hash_secret
from app.core.db import Database, utcnow
from app.core.errors import NotFound, ProblemError, TooManyRequests
from app.core.identity import Caller, Role
from app.core.settings import Settings
from app.engine.frameworks import Framework, RiskTier
from app.engine.scoring import Level
from app.engine.stages import FORWARD_ORDER, Stage
from app.portfolio import service as portfolio
from app.portfolio import trend as trends
from app.readiness import reads as readiness
from app.readiness.document import cause_summary
from app.ui import charts, pages, sessions

UI_PATH = "/ui"
SIGN_IN_PATH = f"{UI_PATH}/sign-in"
COOKIE = "readiness_session"
HERE = Path(__file__).parent
STATIC = HERE / "static"
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
UI_HEADERS = {"Content-Security-Policy": POLICY, "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
LEVELS = [level.value for level in Level]
DIMENSIONS = {
    "scope": "Scope",
    "success_metric": "Success metric",
    "ownership": "Ownership",
    "infrastructure": "Infrastructure",
    "focus": "Focus",
    "inactivity": "Inactivity",
}


# Short enough for a badge; the badge's detail gives the identifier's title, strength and why.
FRAMEWORK_NAMES = {
    Framework.nist_ai_rmf.value: "NIST AI RMF",
    Framework.iso_42001.value: "ISO/IEC 42001",
    Framework.eu_ai_act.value: "EU AI Act",
    Framework.ml_test_score.value: "ML Test Score",
}


def evidence_link(url: str | None) -> str | None:
    """An evidence URL fit for a link: only the web's own schemes, never `javascript:`."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return url
    return None


templates = Jinja2Templates(directory=HERE / "templates")


def words(value: object) -> str:
    """`pilot_ready` as `Pilot ready`; the proof of concept keeps its capitals."""
    if value is None or value == "":
        return "—"
    text = str(value)
    return "POC" if text == Stage.poc.value else text.replace("_", " ").capitalize()


templates.env.filters["words"] = words
templates.env.globals.update(dimensions=DIMENSIONS, charts=charts, evidence_link=evidence_link)
router = APIRouter(prefix=UI_PATH, include_in_schema=False)


class UiStatic(StaticFiles):
    """The dashboard's style sheet and icons, under the same policy as its pages."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(UI_HEADERS)
        # Revalidated by ETag on every use, so that a new release's style sheet shows at once.
        response.headers["Cache-Control"] = "no-cache"
        return response


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers={**UI_HEADERS, **(headers or {})}
    )


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=303, headers=UI_HEADERS)


def _db(request: Request) -> Database:
    return cast(Database, request.app.state.db)


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of the dashboard, never another site."""
    if not target or not target.startswith(f"{UI_PATH}/") or "\\" in target:
        return f"{UI_PATH}/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else f"{UI_PATH}/"


def _sign_in_first(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = _redirect(f"{SIGN_IN_PATH}?{urlencode({'next': here})}")
    if COOKIE in request.cookies:
        _forget(response, request)
    return response


async def _signed_in(request: Request) -> Caller | Response:
    """The caller the session cookie stands for, with its department scope applied to the request;
    otherwise what to answer instead: the way to sign in, or 429 beyond the caller's request rate."""
    token = request.cookies.get(COOKIE)
    if not token:
        return _sign_in_first(request)
    db = _db(request)
    found = await db.read(sessions.find, token=token)
    if found is None or not found.caller.role.allows(Role.reader):
        return _sign_in_first(request)
    try:
        cast(Authenticator, request.app.state.authenticator).limit(request.scope, found.caller)
    except TooManyRequests as error:
        context = {"title": "Too many requests", "message": error.detail}
        return _page(request, "error.html", context, status_code=429, headers=error.headers)
    now = utcnow()
    if now - found.last_seen_at >= sessions.SEEN_PRECISION:
        await db.write(sessions.note_seen, session_id=found.session_id, at=now)
    scope.limit_to(found.caller.departments)
    return found.caller


def _same_site(request: Request) -> bool:
    """Whether a form POST comes from the dashboard itself, as the browser tells it."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _forget(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=UI_PATH,
        secure=_settings(request).environment != "development",
        httponly=True,
        samesite="strict",
    )


def _refused(request: Request) -> Response:
    context = {"title": "Refused", "message": "This form was sent from another site."}
    return _page(request, "error.html", context, status_code=403)


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return _page(request, "sign_in.html", {"next": safe_next(next), "error": None})


@router.post("/sign-in")
async def sign_in(
    request: Request, key: Annotated[str, Form(max_length=500)] = "", next: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    """Exchange an API key for a session. A wrong key counts toward the address's failure limit,
    as it does on the API."""
    if not _same_site(request):
        return _refused(request)
    target = safe_next(next)
    authenticator = cast(Authenticator, request.app.state.authenticator)
    try:
        caller = await authenticator.authenticate(request.scope, key.strip())
    except ProblemError as error:
        message = "That key is unknown, expired or revoked." if error.status == 401 else error.detail
        return _page(request, "sign_in.html", {"next": target, "error": message}, status_code=error.status)
    if caller.key_id is None:
        message = "Sign in with an API key; access tokens are for the API."
        return _page(request, "sign_in.html", {"next": target, "error": message}, status_code=401)
    token = await _db(request).write(sessions.start, key_id=caller.key_id, secret_hash=hash_secret(key.strip()))
    response = _redirect(target)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(sessions.LIFETIME / timedelta(seconds=1)),
        path=UI_PATH,
        secure=_settings(request).environment != "development",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    if not _same_site(request):
        return _refused(request)
    token = request.cookies.get(COOKIE)
    if token:
        await _db(request).write(sessions.end, token=token)
    response = _redirect(SIGN_IN_PATH)
    _forget(response, request)
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
    caller = await _signed_in(request)
    if isinstance(caller, Response):
        return caller
    filters = _filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    try:
        shown = await _db(request).read(
            pages.portfolio_page, filters=filters, cursor=cursor, now=utcnow(), limits=_settings(request).stage_limits
        )
    except ProblemError:
        # A cursor that does not parse is an old or edited link: start at the first page.
        shown = await _db(request).read(
            pages.portfolio_page, filters=filters, cursor=None, now=utcnow(), limits=_settings(request).stage_limits
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
    return _page(request, "portfolio.html", context)


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


@router.get("/projects/{key}")
async def project_view(request: Request, key: str) -> Response:
    caller = await _signed_in(request)
    if isinstance(caller, Response):
        return caller
    db, limits = _db(request), _settings(request).stage_limits
    try:
        shown = await db.read(pages.project_page, key=key, limits=limits, refresh_stale=False)
        if shown is None:
            shown = await db.write(pages.project_page, key=key, limits=limits, refresh_stale=True)
    except NotFound:
        context = {"caller": caller, "title": "Not found", "message": f"No project with key {key!r}."}
        return _page(request, "error.html", context, status_code=404)
    assert shown is not None
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
    }
    return _page(request, "project.html", context)


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


async def _home() -> Response:
    return _redirect(f"{UI_PATH}/")


async def _favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.ico", media_type="image/x-icon", headers={**UI_HEADERS, "Cache-Control": "max-age=86400"}
    )


def install_ui(app: FastAPI) -> None:
    """The dashboard's pages and assets, `/` leading to it, and the icon browsers ask for."""
    app.include_router(router)
    app.mount(f"{UI_PATH}/static", UiStatic(directory=STATIC), name="ui-static")
    app.add_api_route("/", _home, include_in_schema=False)
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
