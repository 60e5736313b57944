"""The application factory."""

import gc
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Scope

from app import epilogue
from app.api import ROUTERS
from app.auth.authenticator import Authenticator
from app.auth.dependencies import authenticate_scope, scope_projects_with
from app.auth.lean import LeanReads, lean_routes
from app.auth.oidc import OidcVerifier
from app.auth.service import ensure_bootstrap_key
from app.core import changes, contract
from app.core.db import Database, make_engine
from app.core.errors import install_error_handlers
from app.core.http import RequestMiddleware
from app.core.identity import Role
from app.core.metrics import Metrics
from app.core.migrations import alembic_config
from app.core.settings import Settings, get_settings
from app.decisions import reminders
from app.decisions import service as decisions
from app.docs import install_docs
from app.events import outbox
from app.events.dispatcher import Dispatcher, DispatcherMetrics
from app.events.router import NewEvents
from app.events.schemas import EVENT_ENVELOPES
from app.initiatives import watch as initiatives
from app.notifications import digests
from app.notifications.dispatch import ChannelQueue
from app.notifications.queue import Composing
from app.notifications.senders import Relay
from app.platforms import service as platforms
from app.portfolio import watch
from app.projects import service as projects
from app.readiness.rescorer import Rescorer
from app.reports.service import pdf_of_period
from app.ui import decisions as ui_decisions
from app.ui.router import install_ui
from app.ui.web import UI_PATH, session_caller

DESCRIPTION = """\
Takes enterprise AI projects from proof of concept to production. Records each AI project, its
business KPIs and their measurements, scores it against a production-readiness rubric with blocking
go-live gates, records go/no-go decisions, and tells portals where every project stands.

Authenticate with `Authorization: Bearer <api key>`. Errors are RFC 9457 `application/problem+json`.
"""


def _version() -> str:
    try:
        return version("ai-readiness-service")
    except PackageNotFoundError:
        return "0.0.0"


def _operation_id(route: APIRoute) -> str:
    return route.name


def database_for(settings: Settings) -> Database:
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        statement_timeout_ms=settings.database_statement_timeout_ms,
    )
    return Database(engine, threads=settings.database_pool_size)


def rescorer_for(database: Database, *, sweep_seconds: float) -> Rescorer:
    epilogue.install()
    # SQLite has one writer at a time: smaller batches keep request writers from waiting long
    # behind the re-scorer.
    batch = 100 if database.engine.dialect.name == "sqlite" else 500
    return Rescorer(
        database, watches=(watch, reminders), followers=[initiatives], batch=batch, sweep_seconds=sweep_seconds
    )


def channel_queue(settings: Settings) -> ChannelQueue:
    """The notification channels' deliveries, as the dispatcher works them."""
    relay = Relay(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        sender=settings.smtp_from,
    )
    return ChannelQueue(
        composing=Composing(public_url=settings.links_url, sender=settings.smtp_from),
        relay=relay,
        allowed=settings.webhook_destinations,
        allow_http=settings.webhook_allow_http,
        zone=settings.zone,
        limits=settings.stage_limits,
        retention_days=settings.event_retention_days,
    )


def dispatcher_for(database: Database, settings: Settings, metrics: DispatcherMetrics) -> Dispatcher:
    """The dispatcher (webhooks and notification channels), and what events and reminders say of
    this installation (its source, its stage limits, its time zone)."""
    outbox.configure(settings.event_source)
    watch.configure(settings.stage_limits)
    reminders.configure(settings.zone)
    digests.attach_report_with(pdf_of_period(settings.zone, settings.stage_limits))
    return Dispatcher(
        database,
        allowed=settings.webhook_destinations,
        allow_http=settings.webhook_allow_http,
        metrics=metrics,
        retention=timedelta(days=settings.event_retention_days),
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        queues=[channel_queue(settings)],
    )


# Every batch operation and upload posts state.
BATCH_ROLE = Role.writer


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    # One function: the app's parts are built and wired in the order they depend on each other.
    settings = settings or get_settings()
    owns_db = db is None
    database = db if db is not None else database_for(settings)

    epilogue.install()
    scope_projects_with(projects.department_of)
    projects.check_production_entry_with(decisions.check_production_entry)
    platforms.projects_on_with(projects.projects_on_platform)
    metrics = Metrics()
    rescorer = rescorer_for(database, sweep_seconds=settings.rescore_sweep_seconds)
    dispatcher = dispatcher_for(database, settings, DispatcherMetrics(metrics.registry))
    new_events = NewEvents()

    def wake_background_work(info: dict[str, Any]) -> None:
        if info.get(changes.RESCORE_WANTED) and settings.rescorer:
            rescorer.wake()
        if info.get(outbox.WRITTEN_KEY):
            new_events.notify()
            if settings.dispatcher:
                dispatcher.wake()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.bootstrap_admin_key:
            await database.write(ensure_bootstrap_key, secret=settings.bootstrap_admin_key)
        new_events.bind()
        database.after_commit.append(wake_background_work)
        if settings.rescorer:
            rescorer.start()
            rescorer.wake()
        if settings.dispatcher:
            dispatcher.start()
            dispatcher.wake()
        yield
        await rescorer.stop()
        await dispatcher.stop()
        database.after_commit.remove(wake_background_work)
        if owns_db:
            database.dispose()

    app = FastAPI(
        title="AI Readiness Service",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    metrics.track_pool(database.engine)
    app.state.settings = settings
    app.state.db = database
    app.state.rescorer = rescorer
    app.state.dispatcher = dispatcher
    app.state.new_events = new_events
    app.state.metrics = metrics
    tokens = OidcVerifier.from_settings(settings) if settings.oidc_issuer else None
    app.state.authenticator = Authenticator(db=database, settings=settings, tokens=tokens)
    app.state.scripts = ScriptDirectory.from_config(alembic_config())

    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_docs(app, settings)
    install_ui(app)
    app.add_middleware(LeanReads, routes=lean_routes([route for router in ROUTERS for route in router.routes]))
    app.state.allowed_methods = _allowed_methods()
    _install_middleware(app, settings, metrics)
    _describe_events(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def serve_app() -> FastAPI:
    """The application as `readiness serve` runs it, in each server process.

    The collector is tuned for a server's long life: the objects of startup (modules, routes, the
    contract) frozen out of every collection, and the youngest generation collected after 50,000
    allocations instead of 700. Measured under load on the project read, this took the p99 at 32
    connections from about 120 ms to 46 ms (the pauses of collections walking startup's objects)
    and throughput up by a tenth. Tests build apps with `create_app` and keep the defaults.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return app


def _install_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """CORS where origins are configured, then the request middleware: request ids, metrics, body
    limits, and authentication before a batch's large body is read."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        max_batch_body_bytes=settings.max_batch_body_bytes,
        batch_paths=[
            route.path_regex
            for router in ROUTERS
            for route in router.routes
            if isinstance(route, APIRoute) and route.path.endswith(":batch")
        ],
        max_upload_bytes=settings.evidence_max_bytes,
        upload_paths=[
            route.path_regex
            for router in (*ROUTERS, ui_decisions.router)
            for route in router.routes
            if isinstance(route, APIRoute)
            and route.path.endswith(("/evidence", "/attestations"))
            and "POST" in (route.methods or ())
        ],
        authenticate=lambda scope: _large_body_caller(app, scope),
        allowed_methods=app.state.allowed_methods,
        yaml_paths=[
            route.path_regex
            for router in ROUTERS
            for route in router.routes
            if isinstance(route, APIRoute)
            and (route.openapi_extra or {}).get("x-yaml")
            and "POST" in (route.methods or ())
        ],
    )


async def _large_body_caller(app: FastAPI, scope: Scope) -> object:
    """Who sends a large body, before it is read: a bearer credential on the API, the session of a
    signed-in dashboard user on its upload forms."""
    if scope["path"].startswith(f"{UI_PATH}/"):
        return await session_caller(scope, app.state.db, BATCH_ROLE)
    return await authenticate_scope(scope, app.state.authenticator, BATCH_ROLE)


def _describe_events(app: FastAPI) -> None:
    """Each event type under `webhooks` in the contract: what a subscription's URL receives."""
    for event_type, envelope in EVENT_ENVELOPES.items():

        def receive(event: Any) -> None:
            """Never called: the operation only describes the request the service sends."""

        receive.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("event", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=envelope)]
        )
        app.webhooks.add_api_route(
            event_type,
            receive,
            methods=["POST"],
            summary=event_type,
            description=(envelope.__doc__ or "")
            + "\n\nSent as `application/cloudevents+json` with the Standard Webhooks headers `webhook-id`"
            " (the event id), `webhook-timestamp` and `webhook-signature`. Answer 2xx once it is stored.",
            status_code=204,
            operation_id=f"event_{event_type.replace('.', '_')}",
            tags=["events"],
        )


def _allowed_methods() -> Callable[[str], set[str]]:
    routes = [
        (route.path_regex, route.methods or set())
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    ]

    def allowed(path: str) -> set[str]:
        return {method for pattern, methods in routes if pattern.match(path) for method in methods}

    return allowed


def _role_of(dependant: Dependant) -> str | None:
    for dependency in dependant.dependencies:
        role = getattr(dependency.call, "required_role", None) or _role_of(dependency)
        if role:
            return str(role)
    return None


def _required_roles() -> dict[tuple[str, str], str]:
    """The role each operation needs, read off its dependencies."""
    roles = {}
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and (role := _role_of(route.dependant)):
                roles.update({(route.path_format, method): role for method in route.methods or ()})
    return roles


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, completed with what the whole service adds to every operation."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    contract.complete(schema, required_roles=_required_roles())
    app.openapi_schema = schema
    return schema
