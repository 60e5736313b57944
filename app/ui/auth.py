"""Signing in to the dashboard through the OpenID provider: the authorization code flow with PKCE.

`/ui/auth/login` keeps a pending sign-in and sends the browser to the provider; the provider sends
it back to `/ui/auth/callback` with a code, which is redeemed for an ID token that opens a session
as the API key sign-in does. Every refusal on the way back is a message on the sign-in page, and
counts toward the address's limit of failed authentications as a wrong key does.

Cookies: the session cookie stays SameSite=Strict. The way back from the provider is a navigation
another site began, on which a browser sends no Strict cookie, nor on the redirects that follow it;
so the callback answers with a page that moves on by itself (a meta refresh, which is the
dashboard's own navigation and carries the new session). The cookie binding a pending sign-in to
the browser that began it must arrive on that navigation: it alone is SameSite=Lax, lives ten
minutes under `/ui/auth`, and opens nothing by itself.
"""

import logging
from datetime import timedelta
from typing import cast

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from app.auth.authenticator import Authenticator, InvalidToken
from app.auth.code_flow import CodeFlow, TokenRequestRefused, new_secret
from app.auth.oidc import OidcVerifier, ProviderUnavailable
from app.core.errors import Forbidden, TooManyRequests
from app.core.settings import Settings
from app.ui import sessions, sign_ins
from app.ui.web import UI_PATH, database, keep_session, page, redirect, safe_next, settings_of, sign_in_page

logger = logging.getLogger(__name__)

AUTH_PATH = f"{UI_PATH}/auth"
CALLBACK_PATH = f"{AUTH_PATH}/callback"
# One cookie per pending sign-in, named after its state, so that sign-ins begun in two tabs both finish.
BINDING_COOKIE_PREFIX = "readiness_sign_in_"
MAX_STATE_LENGTH = 100
# The widths of the pending sign-in's columns.
MAX_URL_LENGTH = 2000
MAX_CODE_LENGTH = 2000
MAX_ERROR_TEXT = 200
UNAVAILABLE = "The OpenID provider cannot be reached just now; try again shortly, or sign in with an API key."

router = APIRouter(prefix=AUTH_PATH, include_in_schema=False)


def install(app: FastAPI) -> None:
    """The sign-in routes, and the client they sign in with where an issuer and a client id are set."""
    settings = cast(Settings, app.state.settings)
    verifier = cast(Authenticator, app.state.authenticator).tokens
    flow = None
    if settings.oidc_sign_in and isinstance(verifier, OidcVerifier):
        flow = CodeFlow.from_settings(settings, verifier)
    app.state.code_flow = flow
    app.include_router(router)


def _flow(request: Request) -> CodeFlow | None:
    return cast(CodeFlow | None, request.app.state.code_flow)


def callback_url(request: Request) -> str:
    """The absolute address the provider sends people back to, to be registered there: on
    `READINESS_PUBLIC_URL` where it is set, else on the address this request came to (its scheme
    from X-Forwarded-Proto only behind the configured trusted proxies, as `readiness serve` runs)."""
    base = settings_of(request).public_url or f"{request.url.scheme}://{request.url.netloc}"
    return f"{base}{CALLBACK_PATH}"


def _binding_cookie(state: str) -> str:
    return BINDING_COOKIE_PREFIX + sessions.token_hash(state)[:16]


def _not_configured(request: Request, target: str) -> Response:
    message = "Sign-in through an OpenID provider is not configured here; sign in with an API key."
    return sign_in_page(request, next=target, error=message, status_code=404)


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    """Begin a sign-in at the provider: a pending sign-in kept in the database, the browser bound to
    it by a cookie, and a redirect (303) to the provider's authorization endpoint."""
    target = safe_next(next if next is None or len(next) <= MAX_URL_LENGTH else None)
    flow = _flow(request)
    if flow is None:
        return _not_configured(request, target)
    state, binding, redirect_uri = new_secret(), new_secret(), callback_url(request)
    if len(redirect_uri) > MAX_URL_LENGTH:
        message = "This address is too long to come back to; sign in at the dashboard's own address."
        return sign_in_page(request, next=target, error=message, status_code=400)
    try:
        location = await flow.authorization_url(
            redirect_uri=redirect_uri,
            state=state,
            nonce=sign_ins.nonce(binding, state),
            code_verifier=sign_ins.code_verifier(binding, state),
        )
    except ProviderUnavailable as error:
        logger.warning("dashboard sign-in: the OpenID provider is unavailable: %s", error)
        return sign_in_page(request, next=target, error=UNAVAILABLE, status_code=503)
    await database(request).write(sign_ins.begin, state=state, binding=binding, redirect_uri=redirect_uri, next=target)
    response = redirect(location)
    response.set_cookie(
        _binding_cookie(state),
        binding,
        max_age=int(sign_ins.LIFETIME / timedelta(seconds=1)),
        path=AUTH_PATH,
        secure=settings_of(request).environment != "development",
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/callback")
async def callback(request: Request) -> Response:
    """The way back from the provider (`code`, `state`, `iss`; or `error`): the pending sign-in
    taken, the code redeemed, the ID token verified and mapped, and a session opened."""
    flow = _flow(request)
    if flow is None:
        return _not_configured(request, safe_next(None))
    params = request.query_params
    state = params.get("state", "")
    if not state or len(state) > MAX_STATE_LENGTH:
        message = "The provider's answer carries no state of a sign-in begun here. Sign in again."
        return _refuse(request, None, 400, message)
    cookie = _binding_cookie(state)
    pending = await database(request).write(sign_ins.take, state=state, binding=request.cookies.get(cookie))
    if isinstance(pending, sign_ins.Refused):
        return _refuse(request, cookie, 400, pending.message)
    if "error" in params:
        described = params.get("error_description")
        said = _short(params["error"]) + (f": {_short(described)}" if described else "")
        return _refuse(request, cookie, 400, f"The provider did not sign you in ({said}).", pending.next)
    try:
        # An answer from another issuer came from a mix-up of providers, never from ours.
        mixed_up = await flow.check_issuer(params.get("iss"))
        if mixed_up is not None:
            return _refuse(request, cookie, 400, f"{mixed_up} Sign in again.", pending.next)
        code = params.get("code", "")
        if not code or len(code) > MAX_CODE_LENGTH:
            return _refuse(request, cookie, 400, "The provider's answer carries no code. Sign in again.", pending.next)
        caller = await flow.redeem(
            code=code, redirect_uri=pending.redirect_uri, code_verifier=pending.code_verifier, nonce=pending.nonce
        )
    except ProviderUnavailable as error:
        logger.warning("dashboard sign-in: the OpenID provider is unavailable: %s", error)
        return sign_in_page(request, next=pending.next, error=UNAVAILABLE, status_code=503)
    except TokenRequestRefused as error:
        message = f"The provider would not redeem the code ({error}). Sign in again."
        return _refuse(request, cookie, 400, message, pending.next)
    except InvalidToken as error:
        return _refuse(request, cookie, 401, f"The provider's ID token is not accepted: {error}.", pending.next)
    except Forbidden as error:
        message = f"{error.detail} Ask an administrator of the provider for a role in the dashboard."
        return _refuse(request, cookie, 403, message, pending.next)
    token = await database(request).write(sessions.start_for_person, caller=caller)
    logger.info("dashboard sign-in through the OpenID provider: %s as %s", caller.identity, caller.role.value)
    response = page(request, "signed_in.html", {"caller": caller, "next": pending.next})
    keep_session(response, request, token)
    response.delete_cookie(cookie, path=AUTH_PATH)
    return response


def _refuse(request: Request, cookie: str | None, status: int, message: str, next: str | None = None) -> Response:
    """A refused sign-in: counted toward the address's failed authentications, told on the sign-in page."""
    logger.info("dashboard sign-in through the OpenID provider refused: %s", message)
    target = safe_next(next)
    try:
        cast(Authenticator, request.app.state.authenticator).count_failure(request.scope)
        response = sign_in_page(request, next=target, error=message, status_code=status)
    except TooManyRequests as error:
        response = sign_in_page(request, next=target, error=error.detail, status_code=429, headers=error.headers)
    if cookie is not None:
        response.delete_cookie(cookie, path=AUTH_PATH)
    return response


def _short(text: str) -> str:
    return text[:MAX_ERROR_TEXT]
