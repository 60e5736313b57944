"""What every dashboard page needs: its templates and policy, the session behind a request, and the
checks a form POST passes."""

import hmac
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from app.auth import scope
from app.auth.authenticator import Authenticator
from app.core.db import Database, utcnow
from app.core.errors import Forbidden, TooManyRequests, Unauthorized
from app.core.identity import Caller, Role
from app.core.settings import Settings
from app.engine.frameworks import Framework
from app.engine.scoring import Level
from app.engine.stages import Stage
from app.ui import charts, sessions

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


def page(
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


def redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=303, headers=UI_HEADERS)


def database(request: Request) -> Database:
    return cast(Database, request.app.state.db)


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of the dashboard, never another site."""
    if not target or not target.startswith(f"{UI_PATH}/") or "\\" in target:
        return f"{UI_PATH}/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else f"{UI_PATH}/"


def sign_in_first(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = redirect(f"{SIGN_IN_PATH}?{urlencode({'next': here})}")
    if COOKIE in request.cookies:
        forget(response, request)
    return response


async def signed_in(request: Request) -> Caller | Response:
    """The caller the session cookie stands for, with its department scope applied to the request;
    otherwise what to answer instead: the way to sign in, or 429 beyond the caller's request rate."""
    token = request.cookies.get(COOKIE)
    if not token:
        return sign_in_first(request)
    db = database(request)
    found = await db.read(sessions.find, token=token)
    if found is None or not found.caller.role.allows(Role.reader):
        return sign_in_first(request)
    try:
        cast(Authenticator, request.app.state.authenticator).limit(request.scope, found.caller)
    except TooManyRequests as error:
        context = {"title": "Too many requests", "message": error.detail}
        return page(request, "error.html", context, status_code=429, headers=error.headers)
    now = utcnow()
    if now - found.last_seen_at >= sessions.SEEN_PRECISION:
        await db.write(sessions.note_seen, session_id=found.session_id, at=now)
    scope.limit_to(found.caller.departments)
    return found.caller


async def session_caller(scope: Scope, db: Database, role: Role) -> Caller:
    """The caller a request's session cookie stands for, before its body is read: what lets a signed
    in writer upload a file through a form; 401 (403 below `role`) otherwise."""
    token = Request(scope).cookies.get(COOKIE)
    found = await db.read(sessions.find, token=token) if token else None
    if found is None:
        raise Unauthorized("Sign in again: this page's session has ended.")
    if not found.caller.role.allows(role):
        raise Forbidden(f"This needs the {role.value} role; the session has {found.caller.role.value}.")
    return found.caller


def same_site(request: Request) -> bool:
    """Whether a form POST comes from the dashboard itself, as the browser tells it."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def csrf_of(request: Request) -> str:
    """The CSRF token the forms of this request's session carry; empty when signed out."""
    token = request.cookies.get(COOKIE)
    return sessions.csrf_token(token) if token else ""


def form_allowed(request: Request, csrf: str) -> bool:
    """Whether a form POST comes from the dashboard itself: the browser says so, and it carries the
    session's CSRF token."""
    expected = csrf_of(request)
    return same_site(request) and bool(expected) and hmac.compare_digest(csrf, expected)


def forget(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=UI_PATH,
        secure=settings_of(request).environment != "development",
        httponly=True,
        samesite="strict",
    )


def sign_in_page(
    request: Request,
    *,
    next: str,
    error: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The sign-in page: through the OpenID provider where one is configured, with an API key beside it."""
    settings = settings_of(request)
    provider = None
    if settings.oidc_sign_in and settings.oidc_issuer is not None:
        provider = {
            "name": settings.oidc_provider_name or urlsplit(settings.oidc_issuer).hostname,
            "href": f"{UI_PATH}/auth/login?{urlencode({'next': next})}",
        }
    context = {"next": next, "error": error, "provider": provider}
    return page(request, "sign_in.html", context, status_code=status_code, headers=headers)


def keep_session(response: Response, request: Request, token: str) -> None:
    """Hand the browser its session: a cookie only the dashboard's own requests carry (SameSite=Strict)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(sessions.LIFETIME / timedelta(seconds=1)),
        path=UI_PATH,
        secure=settings_of(request).environment != "development",
        httponly=True,
        samesite="strict",
    )


def refused(request: Request) -> Response:
    context = {"title": "Refused", "message": "This form was sent from another site."}
    return page(request, "error.html", context, status_code=403)


templates.env.filters["words"] = words
templates.env.globals.update(dimensions=DIMENSIONS, charts=charts, evidence_link=evidence_link, csrf_of=csrf_of)
