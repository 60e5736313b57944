import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader, ReaderAccess, Writer
from app.auth.idempotency import IdempotencyDep, idempotent
from app.auth.lean import lean
from app.core.deps import DbDep, IfNoneMatchHeader
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, JSON_MEDIA_TYPE, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.core.yaml_documents import AS_YAML
from app.projects.router import ProjectKey
from app.readiness import evaluations, preview, reads
from app.readiness.document import cause_summary
from app.readiness.schemas import (
    EvaluationCreate,
    EvaluationRead,
    ReadinessChangeRead,
    ReadinessRead,
    RubricPreview,
)
from app.rubrics.router import RubricKey
from app.rubrics.schemas import RescoringRead, RubricVersionSpec

router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}", tags=["readiness"])
evaluations_router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}", tags=["evaluations"])
rescoring_router = APIRouter(prefix=f"{API_PREFIX}/rubrics", tags=["rubrics"])


@router.get(
    "/readiness",
    response_model=ReadinessRead,
    summary="A project's current readiness",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404, 422)},
)
@lean
async def get_readiness(key: ProjectKey, access: ReaderAccess, if_none_match: IfNoneMatchHeader = None) -> Response:
    """The project's governing rubric, latest version, scored on its data as it is now: every
    criterion with its status, source, reason and what its check saw; sections, score, level, the
    go-live gate with its blockers, the recommendation; and the stall diagnosis (scope, success
    metric, ownership, infrastructure and inactivity, each pointing to the playbook's successful or
    stalled teams). Nobody has to ask for it: every write keeps it current, and after a write is
    acknowledged this read reflects it. The `ETag` changes exactly when the result does;
    `If-None-Match` answers 304."""
    limits = access.settings.stage_limits
    view = await access.db.query(reads.current_view, key=key, limits=limits)
    if view is None:
        view = await access.db.write(reads.view, key=key, limits=limits, refresh_stale=True)
        assert view is not None
    if if_none_match_hits(if_none_match, view.etag):
        return Response(status_code=304, headers={"ETag": view.etag})
    return Response(reads.body_of(view), headers={"ETag": view.etag}, media_type=JSON_MEDIA_TYPE)


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
    found = await db.read(reads.history, key=key, limit=limit, cursor=cursor, refresh_stale=False)
    if found is None:
        found = await db.write(reads.history, key=key, limit=limit, cursor=cursor, refresh_stale=True)
    assert found is not None
    entries, next_cursor = found
    items = [
        ReadinessChangeRead.model_validate({**asdict(entry), "summary": cause_summary(entry.cause)})
        for entry in entries
    ]
    return json_response(Page[ReadinessChangeRead](items=items, next_cursor=next_cursor))


EVALUATION_DESCRIPTION = """A snapshot of the project's current readiness (or, with `rubric` or
`rubric_version`, of another rubric or version as an additional view), stored as it was and never
changed. Answers given are stored as the project's attestations first (gate criteria need more than
the writer role), so nothing attested is lost between evaluations.

A criterion with a check is decided by the check where the data it reads
exists; otherwise the attested answer counts, and an unanswered criterion is not met. Criteria that
apply from a later stage are not applicable, except go-live gate criteria, which are always
evaluated; an attested `not_applicable` does not clear a gate criterion, only an exemption does.
Section scores are the criterion-weighted mean (met 1, partial 0.5); the score is 0–100 by the
rubric's aggregation. Levels: `pilot_ready` from 50, `production_ready` from 75 with the gate
passed, `scale_ready` when also in production or scaling with the scaling section at 75 or more."""


@evaluations_router.post(
    "/evaluations",
    status_code=201,
    response_model=EvaluationRead,
    summary="Evaluate a project's readiness",
    description=EVALUATION_DESCRIPTION,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def create_evaluation(
    key: ProjectKey, body: EvaluationCreate, db: DbDep, caller: Writer, idempotency: IdempotencyDep
) -> Response:
    def created(evaluation: EvaluationRead) -> Response:
        location = f"{API_PREFIX}/projects/{key}/evaluations/{evaluation.id}"
        return json_response(evaluation, status_code=201, headers={"Location": location})

    return await idempotent(
        db,
        idempotency,
        evaluations.evaluate_project,
        created,
        key=key,
        rubric_key=body.rubric,
        rubric_version=body.rubric_version,
        evaluator=body.evaluator,
        answers=body.answers,
        actor=caller,
        store=True,
    )


@evaluations_router.post(
    "/evaluations:preview",
    response_model=EvaluationRead,
    summary="Preview an evaluation without storing it",
    description="The same computation as creating an evaluation; nothing is stored.\n\n" + EVALUATION_DESCRIPTION,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def preview_evaluation(key: ProjectKey, body: EvaluationCreate, db: DbDep, caller: Reader) -> Response:
    evaluation = await db.read(
        evaluations.evaluate_project,
        key=key,
        rubric_key=body.rubric,
        rubric_version=body.rubric_version,
        evaluator=body.evaluator,
        answers=body.answers,
        actor=caller,
        store=False,
    )
    return json_response(evaluation)


@evaluations_router.get(
    "/evaluations",
    response_model=Page[EvaluationRead],
    summary="List a project's evaluations",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_evaluations(
    key: ProjectKey,
    db: DbDep,
    caller: Reader,
    rubric: Annotated[str | None, Query(max_length=63, description="Only those against this rubric.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The project's evaluations, newest first."""
    found, next_cursor = await db.read(
        evaluations.list_evaluations, key=key, rubric_key=rubric, limit=limit, cursor=cursor
    )
    page = Page[EvaluationRead](items=found, next_cursor=next_cursor)
    return json_response(page)


@evaluations_router.get(
    "/evaluations/{evaluation_id}",
    response_model=EvaluationRead,
    summary="Get an evaluation",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_evaluation(key: ProjectKey, evaluation_id: uuid.UUID, db: DbDep, caller: Reader) -> Response:
    """A stored evaluation, as it was computed; it never changes."""
    return json_response(await db.read(evaluations.get_evaluation, key=key, evaluation_id=evaluation_id))


@rescoring_router.get(
    "/{key}/rescoring",
    response_model=RescoringRead,
    summary="Progress of re-scoring against a rubric's latest version",
    responses=problem_responses(401, 403, 404, 422),
)
async def rescoring(key: RubricKey, db: DbDep, caller: Reader) -> Response:
    """How many of the projects the rubric governs are scored against its latest version yet."""
    progress = await db.read(reads.rescoring_progress, rubric_key=key)
    return json_response(
        RescoringRead(
            rubric=progress.rubric,
            latest_version=progress.latest_version,
            governed=progress.governed,
            current=progress.current,
            pending=progress.pending,
        )
    )


@rescoring_router.post(
    "/{key}/versions:preview",
    response_model=RubricPreview,
    summary="Preview what publishing a version of a rubric would do",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=AS_YAML,
)
async def preview_rubric_version(key: RubricKey, body: RubricVersionSpec, db: DbDep, caller: Admin) -> Response:
    """What publishing this version (JSON or YAML, as `POST /rubrics/{key}/versions` takes it) would
    do, stored nowhere (admin): every project the rubric governs scored now against the latest
    version (`before`) and against this one (`after`), by the same engine as re-scoring; projects
    per level on each side, and each project whose score, level or gate would change. A version
    that could not be published is 422, as publishing it would be."""
    return json_response(await db.read(preview.preview, key=key, data=body))
