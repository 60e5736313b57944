from fastapi import APIRouter
from starlette.responses import Response

from app.auth.dependencies import Approver, Reader
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.decisions import service
from app.decisions.schemas import DecisionCreate, DecisionRead
from app.projects.router import ProjectKey

router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}", tags=["evaluations"])


@router.post(
    "/decisions",
    status_code=201,
    response_model=DecisionRead,
    summary="Record a go/no-go decision",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429),
)
async def create_decision(
    key: ProjectKey, body: DecisionCreate, db: DbDep, caller: Approver, idempotency: IdempotencyDep
) -> Response:
    """The steering committee's call (approver). The decider is the caller; `on_behalf_of` says for
    whom, and `decided_by` in the body is 422. A `go` must reference the project's latest evaluation
    against its governing rubric (409 otherwise), and the project's gate must pass at the moment of
    the decision (409), unless an admin gives an `override_reason`, which is recorded. Four eyes: the
    caller who attested a gate criterion that the go relies on cannot record it (409). A `go` opens
    production once: a project that moves back out of production needs a new evaluation and decision
    to re-enter. An evaluation of another project is 422."""
    return await idempotent(
        db,
        idempotency,
        service.record_decision,
        lambda decision: json_response(DecisionRead.model_validate(decision), status_code=201),
        key=key,
        data=body,
        actor=caller,
    )


@router.get(
    "/decisions",
    response_model=Page[DecisionRead],
    summary="List a project's decisions",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_decisions(
    key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Decisions, newest first."""
    decisions, next_cursor = await db.read(service.list_decisions, key=key, limit=limit, cursor=cursor)
    return json_response(
        Page[DecisionRead](items=[DecisionRead.model_validate(d) for d in decisions], next_cursor=next_cursor)
    )
