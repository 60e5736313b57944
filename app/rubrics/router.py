from typing import Annotated

from fastapi import APIRouter, Header, Path
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.yaml_documents import AS_YAML, YAML_MEDIA_TYPE, document_of, wants_yaml
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


def _version_response(
    rubric: Rubric, version: RubricVersion, *, status_code: int = 200, as_yaml: bool = False
) -> Response:
    read = service.version_read(rubric, version)
    if as_yaml:
        # Another representation of the same version: its own entity tag.
        headers = {"ETag": f'"{version.id.hex}-yaml"', "Vary": "Accept"}
        # Which rubric and version first, for a reader of the file; then its content.
        shown = read.model_dump(mode="json")
        first = {name: shown.pop(name) for name in ("key", "version", "published_at", "published_by")}
        return Response(document_of({**first, **shown}), headers=headers, media_type=YAML_MEDIA_TYPE)
    headers = {"ETag": f'"{version.id.hex}"', "Vary": "Accept"}
    if status_code == 201:
        headers["Location"] = f"{API_PREFIX}/rubrics/{rubric.key}/versions/{version.number}"
    return json_response(read, status_code=status_code, headers=headers)


Accept = Annotated[str | None, Header(include_in_schema=False)]
YAML_ANSWER = "JSON, or YAML with `Accept: application/yaml`"


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
    "/{key}",
    response_model=RubricVersionRead,
    summary="Get a rubric",
    responses={200: {"description": YAML_ANSWER}, **problem_responses(401, 403, 404, 422)},
    openapi_extra=AS_YAML,
)
async def get_rubric(key: RubricKey, db: DbDep, caller: Reader, accept: Accept = None) -> Response:
    """The latest version of a rubric: sections, criteria with their checks, and aggregation. With
    `Accept: application/yaml`, the same as YAML, to keep in git and post back as the next version."""
    rubric, version = await db.read(service.get_version, key=key)
    return _version_response(rubric, version, as_yaml=wants_yaml(accept))


@router.get(
    "/{key}/versions/{number}",
    response_model=RubricVersionRead,
    summary="Get a version of a rubric",
    responses={200: {"description": YAML_ANSWER}, **problem_responses(401, 403, 404, 422)},
    openapi_extra=AS_YAML,
)
async def get_rubric_version(
    key: RubricKey,
    number: Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version number.")],
    db: DbDep,
    caller: Reader,
    accept: Accept = None,
) -> Response:
    """A published version of a rubric; it never changes. YAML with `Accept: application/yaml`."""
    rubric, version = await db.read(service.get_version, key=key, number=number)
    return _version_response(rubric, version, as_yaml=wants_yaml(accept))


@router.post(
    "",
    status_code=201,
    response_model=RubricVersionRead,
    summary="Create a rubric",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
    openapi_extra=AS_YAML,
)
async def create_rubric(body: RubricCreate, db: DbDep, caller: Admin, idempotency: IdempotencyDep) -> Response:
    """Publish a new rubric as its version 1 (admin), as JSON or YAML (`Content-Type:
    application/yaml`; a YAML that does not parse is 422 naming the line). Checks are validated:
    unknown fields, facts that are not dotted names, sections without criteria and the like are
    422. The read-only fields of a version as read (`version`, `published_*`) are ignored."""
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
    openapi_extra=AS_YAML,
)
async def publish_rubric_version(
    key: RubricKey, body: RubricVersionSpec, db: DbDep, caller: Admin, idempotency: IdempotencyDep
) -> Response:
    """Publish the next version of a rubric (admin), as JSON or YAML (`Content-Type:
    application/yaml`; a YAML that does not parse is 422 naming the line). A version as read, YAML
    or JSON, is taken as it is: its read-only fields (`key`, `version`, `published_*`) are ignored.
    Earlier versions stay as they were, and so do the evaluations made against them. Every project
    the rubric governs is re-scored against the new version in the background: the publish returns
    at once, `GET /rubrics/{key}/rescoring` shows the progress, and a read of one project's
    readiness is never stale meanwhile. `POST /rubrics/{key}/versions:preview` tells beforehand
    what it would change."""
    return await idempotent(
        db,
        idempotency,
        service.publish_version,
        lambda made: _version_response(*made, status_code=201),
        key=key,
        data=body,
        actor=caller,
    )
