from dataclasses import asdict

from fastapi import APIRouter
from starlette.responses import Response

from app.auth.dependencies import Reader, ReaderAccess
from app.core.deps import DbDep, IfNoneMatchHeader
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.evaluations.schemas import ReadinessChangeRead, ReadinessRead
from app.portfolio.router import stage_limits
from app.projects.router import ProjectKey
from app.readiness import reads, service

router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}", tags=["readiness"])


@router.get(
    "/readiness",
    response_model=ReadinessRead,
    summary="A project's current readiness",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404, 422)},
)
async def get_readiness(key: ProjectKey, access: ReaderAccess, if_none_match: IfNoneMatchHeader = None) -> Response:
    """The project's governing rubric, latest version, scored on its data as it is now: every
    criterion with its status, source, reason and what its check saw; sections, score, level, the
    go-live gate with its blockers, the recommendation; and the stall diagnosis (scope, success
    metric, ownership, infrastructure and inactivity, each pointing to the playbook's successful or
    stalled teams). Nobody has to ask for it: every write keeps it current, and after a write is
    acknowledged this read reflects it. The `ETag` changes exactly when the result does;
    `If-None-Match` answers 304."""
    limits = stage_limits(access.settings)
    shown = await access.db.query(reads.current_view, key=key, limits=limits)
    if shown is None:
        rescored = await access.db.write(service.view, key=key, limits=limits, refresh_stale=True)
        assert rescored is not None
        shown = reads.shown_from_view(rescored)
    if if_none_match_hits(if_none_match, shown.etag):
        return Response(status_code=304, headers={"ETag": shown.etag})
    body = ReadinessRead.model_validate(shown.body)
    return json_response(body, headers={"ETag": shown.etag})


@router.get(
    "/readiness/history",
    response_model=Page[ReadinessChangeRead],
    summary="How a project's readiness changed",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def readiness_history(
    key: ProjectKey,
    db: DbDep,
    caller: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Every change of the project's score, level, gate or blockers (compared as a set of criterion
    and status), newest first, with when and what caused it: the writes (`fact
    ops.rollback_tested_at`, `measurement batch`), a new rubric version, or time (`time: fact
    ops.monitoring_enabled older than 30 days`). Nothing is recorded when nothing changed."""
    found = await db.read(service.history, key=key, limit=limit, cursor=cursor, refresh_stale=False)
    if found is None:
        found = await db.write(service.history, key=key, limit=limit, cursor=cursor, refresh_stale=True)
    assert found is not None
    entries, next_cursor = found
    items = [
        ReadinessChangeRead.model_validate({**asdict(entry), "summary": service.cause_summary(entry.cause)})
        for entry in entries
    ]
    return json_response(Page[ReadinessChangeRead](items=items, next_cursor=next_cursor))
