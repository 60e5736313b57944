"""Liveness, readiness and metrics: what Kubernetes and Prometheus read."""

from typing import cast

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Connection
from starlette.responses import Response

from app.auth.dependencies import authenticate, bearer
from app.core.db import is_database_unavailable
from app.core.deps import DbDep, SettingsDep
from app.core.errors import problem_response, problem_responses
from app.core.http import json_response
from app.core.metrics import Metrics
from app.core.migrations import SchemaState, schema_state
from app.health.schemas import Health, Liveness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Liveness, summary="Liveness")
async def healthz() -> Response:
    """The process is alive and serving. Reads nothing else."""
    return json_response(Liveness(status="ok"))


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness",
    responses=problem_responses(503),
)
async def readyz(request: Request, db: DbDep) -> Response:
    """Ready when the database answers and its schema is not behind this code. A newer schema
    (a later release migrated it during a rolling upgrade) still counts as ready: migrations only add."""
    scripts = cast(ScriptDirectory, request.app.state.scripts)

    def probe(connection: Connection) -> SchemaState:
        return schema_state(connection, scripts)

    try:
        state = await db.probe(probe)
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        return problem_response(
            503, "database-unavailable", "The database is unreachable.", headers={"Retry-After": "5"}
        )
    if state in (SchemaState.behind, SchemaState.missing):
        return problem_response(
            503,
            "schema-behind",
            f"The database schema is {state.value}; run `readiness migrate`.",
            headers={"Retry-After": "5"},
        )
    return json_response(Health(status="ok", schema_state=state.value))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """Request counts and latency by route template and status, and database pool use."""
    if not settings.metrics_are_public:
        await authenticate(request, await bearer(request))
    registry = cast(Metrics, request.app.state.metrics).registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
