import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.auth.dependencies import Approver, Reader, Writer
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.decisions import requests, service
from app.decisions.schemas import (
    DecisionCreate,
    DecisionRead,
    DecisionRequestCreate,
    DecisionRequestRead,
    QueuedRequest,
    RequestStatus,
)
from app.projects.router import ProjectKey

router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}", tags=["evaluations"])
requests_router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}/decision-requests", tags=["decision requests"])
queue_router = APIRouter(prefix=f"{API_PREFIX}/decision-requests", tags=["decision requests"])


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


@requests_router.post(
    "",
    status_code=201,
    response_model=DecisionRequestRead,
    summary="Ask for a go/no-go decision",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def request_decision(
    key: ProjectKey, body: DecisionRequestCreate, db: DbDep, caller: Writer, idempotency: IdempotencyDep
) -> Response:
    """Put the project in the steering committee's queue (writer), with a note on what to look at.
    At most one request is open per project (409 naming it). A recorded decision closes it; its
    requester or an admin may withdraw it. Tells `decision.requested`."""
    return await idempotent(
        db,
        idempotency,
        requests.request_decision,
        lambda made: json_response(
            made, status_code=201, headers={"Location": f"{API_PREFIX}/projects/{key}/decision-requests/{made.id}"}
        ),
        key=key,
        note=body.note,
        actor=caller,
    )


@requests_router.get(
    "",
    response_model=Page[DecisionRequestRead],
    summary="List a project's decision requests",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_decision_requests(
    key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Newest first, whatever their status."""
    found, next_cursor = await db.read(requests.list_requests, key=key, limit=limit, cursor=cursor)
    return json_response(Page[DecisionRequestRead](items=found, next_cursor=next_cursor))


@requests_router.post(
    "/{request_id}:withdraw",
    response_model=DecisionRequestRead,
    summary="Withdraw a decision request",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def withdraw_decision_request(
    key: ProjectKey, request_id: uuid.UUID, db: DbDep, caller: Writer, idempotency: IdempotencyDep
) -> Response:
    """An open request withdrawn by whoever asked for it (the same person) or an admin; 409 once it
    is closed or withdrawn."""
    return await idempotent(
        db, idempotency, requests.withdraw, json_response, key=key, request_id=request_id, actor=caller
    )


@queue_router.get(
    "",
    response_model=Page[QueuedRequest],
    summary="The approvers' queue",
    responses=problem_responses(400, 401, 403, 422),
)
async def decision_queue(
    db: DbDep,
    caller: Reader,
    status: Annotated[RequestStatus, Query(description="Which requests: `open` (the default) waits.")] = "open",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Decision requests of the projects the caller may see, oldest first: what waits for the
    steering committee, each with its project's score, level, gate and blockers as they stand now."""
    found, next_cursor = await db.read(requests.queue, status=status, limit=limit, cursor=cursor)
    return json_response(Page[QueuedRequest](items=found, next_cursor=next_cursor))
