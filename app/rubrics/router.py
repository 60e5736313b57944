from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.rubrics import service
from app.rubrics.models import Rubric, RubricVersion
from app.rubrics.schemas import (
    MAX_VERSION,
    RubricCreate,
    RubricSummary,
    RubricVersionRead,
    RubricVersionSpec,
)

router = APIRouter(prefix=f"{API_PREFIX}/rubrics", tags=["rubrics"])

RubricKey = Annotated[str, Path(max_length=63, description="The rubric's key.")]


def _version_response(rubric: Rubric, version: RubricVersion, *, status_code: int = 200) -> Response:
    headers = {"ETag": f'"{version.id.hex}"'}
    if status_code == 201:
        headers["Location"] = f"{API_PREFIX}/rubrics/{rubric.key}/versions/{version.number}"
    return json_response(service.version_read(rubric, version), status_code=status_code, headers=headers)


@router.get(
    "", response_model=Page[RubricSummary], summary="List rubrics", responses=problem_responses(400, 401, 403, 422)
)
async def list_rubrics(db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Every rubric, with its latest version."""
    rows, next_cursor = await db.read(service.list_rubrics, limit=limit, cursor=cursor)
    items = [
        RubricSummary(
            key=rubric.key,
            name=version.definition["name"],
            description=version.definition.get("description", ""),
            latest_version=version.number,
            published_at=version.published_at,
        )
        for rubric, version in rows
    ]
    return json_response(Page[RubricSummary](items=items, next_cursor=next_cursor))


@router.get(
    "/{key}", response_model=RubricVersionRead, summary="Get a rubric", responses=problem_responses(401, 403, 404, 422)
)
async def get_rubric(key: RubricKey, db: DbDep, caller: Reader) -> Response:
    """The latest version of a rubric: sections, criteria with their checks, and aggregation."""
    rubric, version = await db.read(service.get_version, key=key)
    return _version_response(rubric, version)


@router.get(
    "/{key}/versions/{number}",
    response_model=RubricVersionRead,
    summary="Get a version of a rubric",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_rubric_version(
    key: RubricKey,
    number: Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version number.")],
    db: DbDep,
    caller: Reader,
) -> Response:
    """A published version of a rubric; it never changes."""
    rubric, version = await db.read(service.get_version, key=key, number=number)
    return _version_response(rubric, version)


@router.post(
    "",
    status_code=201,
    response_model=RubricVersionRead,
    summary="Create a rubric",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_rubric(body: RubricCreate, db: DbDep, caller: Admin, idempotency: IdempotencyDep) -> Response:
    """Publish a new rubric as its version 1 (admin). Checks are validated: unknown fields, facts
    that are not dotted names, sections without criteria and the like are 422."""
    return await idempotent(
        db,
        idempotency,
        service.create_rubric,
        lambda made: _version_response(*made, status_code=201),
        data=body,
        actor=caller,
    )


@router.post(
    "/{key}/versions",
    status_code=201,
    response_model=RubricVersionRead,
    summary="Publish a new version of a rubric",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def publish_rubric_version(
    key: RubricKey, body: RubricVersionSpec, db: DbDep, caller: Admin, idempotency: IdempotencyDep
) -> Response:
    """Publish the next version of a rubric (admin). Earlier versions stay as they were, and so do
    the evaluations made against them. Every project the rubric governs is re-scored against the
    new version in the background: the publish returns at once, `GET /rubrics/{key}/rescoring`
    shows the progress, and a read of one project's readiness is never stale meanwhile."""
    return await idempotent(
        db,
        idempotency,
        service.publish_version,
        lambda made: _version_response(*made, status_code=201),
        key=key,
        data=body,
        actor=caller,
    )
