from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from starlette.responses import Response

from app.auth.dependencies import Approver, Reader
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.db import utcnow
from app.core.deps import DbDep, IfMatchDep, IfNoneMatchHeader
from app.core.errors import Conflict, problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.initiatives import service
from app.initiatives.models import Initiative
from app.initiatives.schemas import InitiativeCreate, InitiativeProgress, InitiativeRead

router = APIRouter(prefix=f"{API_PREFIX}/initiatives", tags=["initiatives"])

InitiativeKey = Annotated[str, Path(max_length=63, description="The initiative's key.")]


def _initiative_response(initiative: Initiative, *, status_code: int = 200) -> Response:
    headers = {"ETag": service.initiative_etag(initiative)}
    if status_code == 201:
        headers["Location"] = f"{API_PREFIX}/initiatives/{initiative.key}"
    return json_response(service.read_model(initiative), status_code=status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=InitiativeRead,
    summary="Create an initiative",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_initiative(
    body: InitiativeCreate, db: DbDep, caller: Approver, idempotency: IdempotencyDep
) -> Response:
    """A programme over the portfolio (approver): a goal (`{"criteria": [...]}`, `{"gate": true}` or
    `{"level": "production_ready"}`) for the projects in a scope (the portfolio filters, e.g.
    `{"department": "claims", "stage": "production"}`) by a target date. Its progress is live;
    `initiative.completed` is told once every project in scope is done, at once if it already is.
    A caller scoped to departments creates initiatives about one of them only (403 otherwise)."""
    return await idempotent(
        db,
        idempotency,
        service.create_initiative,
        lambda made: _initiative_response(made, status_code=201),
        data=body,
        actor=caller,
    )


@router.get(
    "",
    response_model=Page[InitiativeRead],
    summary="List initiatives",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_initiatives(db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Every initiative, by key; `GET /initiatives/{key}/progress` tells how far each has come."""
    initiatives, next_cursor = await db.read(service.list_initiatives, limit=limit, cursor=cursor)
    return json_response(
        Page[InitiativeRead](items=[service.read_model(i) for i in initiatives], next_cursor=next_cursor)
    )


@router.get(
    "/{key}",
    response_model=InitiativeRead,
    summary="Get an initiative",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404)},
)
async def get_initiative(
    key: InitiativeKey, db: DbDep, caller: Reader, if_none_match: IfNoneMatchHeader = None
) -> Response:
    """An initiative by key, with its `ETag`; `If-None-Match` answers 304 when it has not changed."""
    initiative = await db.read(service.get_initiative, key=key)
    tag = service.initiative_etag(initiative)
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _initiative_response(initiative)


@router.patch(
    "/{key}",
    response_model=InitiativeRead,
    summary="Update an initiative",
    responses=problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
)
async def update_initiative(
    key: InitiativeKey,
    patch: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            description="A JSON merge patch (RFC 7396) of the initiative's writable fields: objects merge, "
            "`null` clears a field, anything else replaces it.",
        ),
    ],
    db: DbDep,
    caller: Approver,
    if_match: IfMatchDep,
) -> Response:
    """Change some fields of an initiative (approver). A new goal, scope or start recomputes the
    burn-up, and a new goal or scope may tell `initiative.completed` and `initiative.overdue`
    again; so may a moved target date `initiative.overdue`. Send `If-Match` with the ETag you read."""
    initiative = await db.write(service.patch_initiative, key=key, patch=patch, if_match=if_match, actor=caller)
    return _initiative_response(initiative)


@router.delete(
    "/{key}",
    status_code=204,
    summary="Delete an initiative",
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_initiative(key: InitiativeKey, db: DbDep, caller: Approver, if_match: IfMatchDep) -> Response:
    """Delete an initiative and its burn-up (approver). The audit trail keeps what it was."""
    await db.write(service.delete_initiative, key=key, if_match=if_match, actor=caller)
    return Response(status_code=204)


@router.get(
    "/{key}/progress",
    response_model=InitiativeProgress,
    summary="Read an initiative's progress",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def initiative_progress(
    key: InitiativeKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Projects in scope and done, live (within seconds of a write, as readiness); those remaining,
    a page at a time, each with what it still misses; the weekly burn-up since `starts_at` from the
    readiness history, and from which week it is exact; whether it is overdue. A caller scoped to
    departments sees its departments only, in every figure."""
    now = utcnow()
    found = await db.read(service.progress_of, key=key, limit=limit, cursor=cursor, now=now)
    # Finished weeks not kept yet (a new initiative, a new week) are computed once, in a write; a
    # change of the initiative in between makes it twice.
    for _ in range(2):
        if found is not None:
            break
        await db.write(service.fill_weeks, key=key, now=now)
        found = await db.read(service.progress_of, key=key, limit=limit, cursor=cursor, now=now)
    if found is None:
        raise Conflict("The initiative changed while its progress was read; read it again.")
    return json_response(found)
