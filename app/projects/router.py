from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from sqlalchemy import Row
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader, ReaderAccess, Writer
from app.auth.idempotency import IdempotencyDep, idempotent
from app.auth.lean import lean
from app.core.deps import DbDep, IfMatchDep, IfNoneMatchHeader
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.core.schemas import SLUG_PATTERN
from app.engine.frameworks import RiskTier
from app.engine.stages import Stage
from app.projects import service
from app.projects.models import Project
from app.projects.schemas import (
    ProjectBatch,
    ProjectBatchItemResult,
    ProjectBatchResult,
    ProjectCreate,
    ProjectRead,
    ProjectReplace,
    StageTransitionCreate,
    StageTransitionRead,
)

router = APIRouter(prefix=f"{API_PREFIX}/projects", tags=["projects"])

ProjectKey = Annotated[str, Path(max_length=63, description="The project's key.")]
NewProjectKey = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=63, description="The project's key.")]
Filter = Annotated[str | None, Query(max_length=100)]
Owner = Annotated[
    str | None,
    Query(max_length=320, description="A business or technical owner's email, compared without regard to case."),
]


def _project_response(project: Project | Row[Any], *, status_code: int = 200) -> Response:
    headers = {"ETag": service.project_etag(project)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/projects/{project.key}"
    return json_response(ProjectRead.from_project(project), status_code=status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=ProjectRead,
    summary="Create a project",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_project(body: ProjectCreate, db: DbDep, caller: Writer, idempotency: IdempotencyDep) -> Response:
    """Record a new AI project. It starts in the `idea` stage; 409 if the key is taken."""
    return await idempotent(
        db,
        idempotency,
        service.create_project,
        lambda p: _project_response(p, status_code=201),
        data=body,
        actor=caller,
    )


@router.post(
    ":batch",
    response_model=ProjectBatchResult,
    summary="Create or replace many projects at once",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def upsert_projects(body: ProjectBatch, db: DbDep, caller: Writer, idempotency: IdempotencyDep) -> Response:
    """Up to 1,000 projects upserted by key, as `PUT /projects/{key}` would each: all or nothing (an
    item that cannot be written is a 422 naming it), with a result per item: `created`, `updated`
    or `unchanged` (sent as stored: nothing written, no event). Safe to send again on every run."""

    def render(results: list[tuple[str, str]]) -> Response:
        counts = {
            outcome: sum(1 for _, result in results if result == outcome)
            for outcome in ("created", "updated", "unchanged")
        }
        items = [ProjectBatchItemResult.model_validate({"key": key, "result": result}) for key, result in results]
        return json_response(ProjectBatchResult(items=items, **counts))

    return await idempotent(db, idempotency, service.upsert_projects, render, items=body.items, actor=caller)


@router.get(
    "",
    response_model=Page[ProjectRead],
    summary="List projects",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_projects(
    db: DbDep,
    caller: Reader,
    stage: Stage | None = None,
    department: Filter = None,
    region: Filter = None,
    tag: Filter = None,
    owner: Owner = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the key, name, description or workflow.")
    ] = None,
    platform: Annotated[str | None, Query(max_length=63, description="The platform it runs on.")] = None,
    domain: Filter = None,
    risk_tier: RiskTier | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Projects ordered by key, filtered; follow `next_cursor` for the next page."""
    projects, next_cursor = await db.read(
        service.list_projects,
        stage=stage,
        department=department,
        region=region,
        tag=tag,
        owner=owner,
        q=q,
        platform=platform,
        domain=domain,
        risk_tier=risk_tier,
        limit=limit,
        cursor=cursor,
    )
    page = Page[ProjectRead](items=[ProjectRead.from_project(p) for p in projects], next_cursor=next_cursor)
    return json_response(page)


@router.get(
    "/{key}",
    response_model=ProjectRead,
    summary="Get a project",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404)},
)
@lean
async def get_project(key: ProjectKey, access: ReaderAccess, if_none_match: IfNoneMatchHeader = None) -> Response:
    """A project by key, with its `ETag`; `If-None-Match` answers 304 when it has not changed."""
    project = await access.db.query(service.read_project, key=key)
    tag = service.project_etag(project)
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _project_response(project)


@router.put(
    "/{key}",
    response_model=ProjectRead,
    summary="Create or replace a project",
    responses={
        201: {"description": "Created", "model": ProjectRead},
        **problem_responses(400, 401, 403, 412, 413, 415, 422),
    },
)
async def replace_project(
    key: NewProjectKey, body: ProjectReplace, db: DbDep, caller: Writer, if_match: IfMatchDep
) -> Response:
    """Idempotent upsert by key, for systems that own their project records: 201 when created,
    200 when replaced. Fields left out take their defaults, except `risk_tier` and
    `risk_rationale`, which stay as they are (changing them needs the approver role). `If-Match`
    guards the replacement."""
    project, created = await db.write(service.replace_project, key=key, data=body, if_match=if_match, actor=caller)
    return _project_response(project, status_code=201 if created else 200)


@router.patch(
    "/{key}",
    response_model=ProjectRead,
    summary="Update a project",
    responses=problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
)
async def update_project(
    key: ProjectKey,
    patch: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            description="A JSON merge patch (RFC 7396) of the project's writable fields: "
            "objects merge, `null` clears a field, anything else replaces it.",
        ),
    ],
    db: DbDep,
    caller: Writer,
    if_match: IfMatchDep,
) -> Response:
    """Change some fields of a project. Send `If-Match` with the ETag you read to avoid lost updates.
    Changing `risk_tier` or `risk_rationale` needs the approver role and tells `project.risk_classified`;
    a change of `platform`, `replica_of` or `adjacent_to` re-scores both ends of the relation."""
    project = await db.write(service.patch_project, key=key, patch=patch, if_match=if_match, actor=caller)
    return _project_response(project)


@router.delete(
    "/{key}",
    status_code=204,
    summary="Delete a project",
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_project(key: ProjectKey, db: DbDep, caller: Admin, if_match: IfMatchDep) -> Response:
    """Delete a project with its facts and history (admin). The audit trail keeps what it was."""
    await db.write(service.delete_project, key=key, if_match=if_match, actor=caller)
    return Response(status_code=204)


@router.post(
    "/{key}/stage-transitions",
    status_code=201,
    response_model=StageTransitionRead,
    summary="Move a project to another stage",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def transition_stage(
    key: ProjectKey, body: StageTransitionCreate, db: DbDep, caller: Writer, idempotency: IdempotencyDep
) -> Response:
    """Stages run idea → poc → pilot → production → scaling. A project moves forward one stage at a
    time, back any number of stages with a reason, or to `retired` from anywhere with a reason.
    Anything else is 409."""
    return await idempotent(
        db,
        idempotency,
        service.transition_stage,
        lambda transition: json_response(StageTransitionRead.from_transition(transition), status_code=201),
        key=key,
        to=body.to,
        reason=body.reason,
        actor=caller,
    )


@router.get(
    "/{key}/stage-transitions",
    response_model=Page[StageTransitionRead],
    summary="List a project's stage history",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_stage_transitions(
    key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """The project's stage transitions, oldest first."""
    transitions, next_cursor = await db.read(service.list_transitions, key=key, limit=limit, cursor=cursor)
    page = Page[StageTransitionRead](
        items=[StageTransitionRead.from_transition(t) for t in transitions], next_cursor=next_cursor
    )
    return json_response(page)
