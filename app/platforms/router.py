from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.deps import DbDep, IfMatchDep, IfNoneMatchHeader
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.platforms import service
from app.platforms.models import Platform
from app.platforms.schemas import PlatformCreate, PlatformRead

router = APIRouter(prefix=f"{API_PREFIX}/platforms", tags=["platforms"])

PlatformKey = Annotated[str, Path(max_length=63, description="The platform's key.")]


def _platform_response(platform: Platform, *, status_code: int = 200) -> Response:
    headers = {"ETag": service.platform_etag(platform)}
    if status_code == 201:
        headers["Location"] = f"{API_PREFIX}/platforms/{platform.key}"
    return json_response(PlatformRead.from_platform(platform), status_code=status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=PlatformRead,
    summary="Create a platform",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_platform(body: PlatformCreate, db: DbDep, caller: Admin, idempotency: IdempotencyDep) -> Response:
    """Record shared infrastructure that projects run on (admin); 409 if the key is taken. A
    project names it in `platform`, and reads its `deployment` where it has none of its own."""
    return await idempotent(
        db,
        idempotency,
        service.create_platform,
        lambda platform: _platform_response(platform, status_code=201),
        data=body,
        actor=caller,
    )


@router.get(
    "", response_model=Page[PlatformRead], summary="List platforms", responses=problem_responses(400, 401, 403, 422)
)
async def list_platforms(db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Platforms ordered by key; the projects on each are in `GET /portfolio/scaling` and `GET
    /projects?platform=`."""
    platforms, next_cursor = await db.read(service.list_platforms, limit=limit, cursor=cursor)
    page = Page[PlatformRead](items=[PlatformRead.from_platform(p) for p in platforms], next_cursor=next_cursor)
    return json_response(page)


@router.get(
    "/{key}",
    response_model=PlatformRead,
    summary="Get a platform",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404)},
)
async def get_platform(
    key: PlatformKey, db: DbDep, caller: Reader, if_none_match: IfNoneMatchHeader = None
) -> Response:
    """A platform by key, with its `ETag`."""
    platform = await db.read(service.get_platform, key=key)
    tag = service.platform_etag(platform)
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _platform_response(platform)


@router.patch(
    "/{key}",
    response_model=PlatformRead,
    summary="Update a platform",
    responses=problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
)
async def update_platform(
    key: PlatformKey,
    patch: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            description="A JSON merge patch (RFC 7396) of the platform's writable fields.",
        ),
    ],
    db: DbDep,
    caller: Admin,
    if_match: IfMatchDep,
) -> Response:
    """Change some fields of a platform (admin). A change of its `deployment` re-scores every
    project on it, as projects without deployment facts of their own read the platform's."""
    platform = await db.write(service.patch_platform, key=key, patch=patch, if_match=if_match, actor=caller)
    return _platform_response(platform)


@router.delete(
    "/{key}",
    status_code=204,
    summary="Delete a platform",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_platform(key: PlatformKey, db: DbDep, caller: Admin, if_match: IfMatchDep) -> Response:
    """Delete a platform (admin); 409 while a project runs on it."""
    await db.write(service.delete_platform, key=key, if_match=if_match, actor=caller)
    return Response(status_code=204)
