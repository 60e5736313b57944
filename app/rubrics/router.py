from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.engine.frameworks import Framework
from app.governance import service as governance
from app.governance.schemas import CrosswalkRead
from app.readiness import service as readiness
from app.rubrics import service
from app.rubrics.models import Rubric, RubricVersion
from app.rubrics.schemas import (
    MAX_VERSION,
    RescoringRead,
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


@router.get(
    "/{key}/crosswalk",
    response_model=CrosswalkRead,
    summary="A rubric mapped to a governance framework",
    responses=problem_responses(401, 403, 404, 422),
)
async def rubric_crosswalk(
    key: RubricKey,
    db: DbDep,
    caller: Reader,
    framework: Annotated[Framework, Query(description="The framework to file the criteria under.")],
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="A published version; the latest by default.")
    ] = None,
) -> Response:
    """For each identifier of the framework (NIST AI RMF subcategory, ISO/IEC 42001 Annex A control,
    EU AI Act article, ML Test Score test), the rubric's criteria that map to it, with the strength
    of each correspondence and why. References are pointers for a governance team, not findings of
    conformity, and not legal advice; EU AI Act articles other than Art. 4 bind only high-risk AI
    systems, and each such reference says so in its `note`."""
    found = await db.read(governance.crosswalk, key=key, framework=framework, version=version)
    return json_response(CrosswalkRead.model_validate(found, from_attributes=True))


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


@router.get(
    "/{key}/rescoring",
    response_model=RescoringRead,
    summary="Progress of re-scoring against a rubric's latest version",
    responses=problem_responses(401, 403, 404, 422),
)
async def rescoring(key: RubricKey, db: DbDep, caller: Reader) -> Response:
    """How many of the projects the rubric governs are scored against its latest version yet."""
    progress = await db.read(readiness.rescoring_progress, rubric_key=key)
    return json_response(
        RescoringRead(
            rubric=progress.rubric,
            latest_version=progress.latest_version,
            governed=progress.governed,
            current=progress.current,
            pending=progress.pending,
        )
    )
