"""The API docs: Swagger UI at /docs, ReDoc at /redoc and the OpenAPI document at /openapi.json.

Every asset the pages load (scripts, style sheet, favicon) is served by the service itself, from the
copies of Swagger UI 5 and ReDoc that the `fastapi-offline` package ships: an air-gapped site reaches
no CDN. FastAPI's own docs pages load them from jsDelivr, so the app is built without them.

Where the docs are not public (production, unless `READINESS_PUBLIC_DOCS=true`), the pages, the
document and the assets need a credential of any role, like the API. A browser does not send a
bearer header by itself: there the docs are for tooling that holds a credential (an OpenAPI client
generator, a gateway, a proxy that adds the header), or the operator makes them public.
"""

import base64
import hashlib
import re
from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles

from app.auth.dependencies import authenticate
from app.core.settings import Settings

SWAGGER_PATH = "/docs"
REDOC_PATH = "/redoc"
OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs/static"
ASSET_PACKAGE = ("fastapi_offline", "static")
# Part of every asset URL, so that a browser never keeps the assets of an earlier release.
ASSETS_VERSION = version("fastapi-offline")

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

# Only this origin, for everything. Styles may be inline: both UIs set styles from script (ReDoc
# injects style elements at run time), which a hash cannot cover. Images may be data: URLs (the
# icons in Swagger UI's style sheet); ReDoc runs its search index in a worker built from a blob: URL.
_POLICY = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def install_docs(app: FastAPI, settings: Settings) -> None:
    """Serve the docs pages, their assets and the OpenAPI document, behind a credential unless public.

    Build the app with `docs_url=None, redoc_url=None, openapi_url=None`: these routes replace FastAPI's.
    """
    public = settings.docs_are_public
    router = APIRouter(include_in_schema=False, dependencies=[] if public else [Depends(authenticate)])
    assets = StaticFiles(packages=[ASSET_PACKAGE])
    # The URLs name the package's version, so a browser may keep a file; not in shared caches where
    # a credential fetched it.
    cache_control = "public, max-age=86400" if public else "private, max-age=86400"

    @router.get(SWAGGER_PATH)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_swagger_ui_html(
            openapi_url=root + OPENAPI_PATH,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_asset(root, "swagger-ui-bundle.js"),
            swagger_css_url=_asset(root, "swagger-ui.css"),
            swagger_favicon_url=_asset(root, "favicon.png"),
            # Swagger UI would otherwise send the document to validator.swagger.io for a badge.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        return _with_policy(page)

    @router.get(REDOC_PATH)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_redoc_html(
            openapi_url=root + OPENAPI_PATH,
            title=f"{app.title} - ReDoc",
            redoc_js_url=_asset(root, "redoc.standalone.js"),
            redoc_favicon_url=_asset(root, "favicon.png"),
            with_google_fonts=False,
        )
        return _with_policy(page)

    @router.get(OPENAPI_PATH)
    async def openapi(request: Request) -> JSONResponse:
        schema: dict[str, Any] = app.openapi()
        root = _root_path(request)
        servers = schema.get("servers", [])
        if root and app.root_path_in_servers and root not in {server.get("url") for server in servers}:
            schema = {**schema, "servers": [{"url": root}, *servers]}
        return JSONResponse(schema)

    @router.get(ASSETS_PATH + "/{name}")
    async def asset(name: str, request: Request) -> Response:
        response = await assets.get_response(name, request.scope)
        response.headers["Cache-Control"] = cache_control
        return response

    app.include_router(router)


def _root_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _asset(root: str, name: str) -> str:
    return f"{root}{ASSETS_PATH}/{name}?v={ASSETS_VERSION}"


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy: this origin only, and of inline scripts only the page's own, by hash."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    )
    page.headers["Content-Security-Policy"] = _POLICY.format(hashes=hashes)
    page.headers["Referrer-Policy"] = "no-referrer"
    return page
