import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from app.attestations import service
from app.attestations.models import Attestation, Exemption
from app.attestations.schemas import AttestationPut, AttestationRead, ExemptionCreate, ExemptionRead
from app.auth.dependencies import Admin, Reader, Writer
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.db import utcnow
from app.core.deps import DbDep, IfMatchDep, IfNoneMatchHeader
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.projects.router import ProjectKey
from app.rubrics.schemas import CRITERION_PATTERN

CriterionPath = Annotated[
    str, Path(pattern=CRITERION_PATTERN, max_length=120, description="A criterion key, e.g. go_live.rollback_tested.")
]


router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}", tags=["evaluations"])


def _exemption_read(exemption: Exemption) -> ExemptionRead:
    return ExemptionRead(
        id=exemption.id,
        criterion=exemption.criterion,
        justification=exemption.justification,
        expires_at=exemption.expires_at,
        active=exemption.expires_at > utcnow(),
        created_by=exemption.created_by,
        created_at=exemption.created_at,
    )


@router.post(
    "/exemptions",
    status_code=201,
    response_model=ExemptionRead,
    summary="Exempt a project from a criterion",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def create_exemption(
    key: ProjectKey, body: ExemptionCreate, db: DbDep, caller: Admin, idempotency: IdempotencyDep
) -> Response:
    """Until it expires, the criterion is left out of the score and does not block the gate (admin).
    The project's readiness reflects it at once, and again when it expires."""
    return await idempotent(
        db,
        idempotency,
        service.create_exemption,
        lambda exemption: json_response(_exemption_read(exemption), status_code=201),
        key=key,
        data=body,
        actor=caller,
    )


@router.get(
    "/exemptions",
    response_model=Page[ExemptionRead],
    summary="List a project's exemptions",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_exemptions(
    key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Exemptions, newest first, expired ones included (`active` tells)."""
    exemptions, next_cursor = await db.read(service.list_exemptions, key=key, limit=limit, cursor=cursor)
    return json_response(Page[ExemptionRead](items=[_exemption_read(e) for e in exemptions], next_cursor=next_cursor))


@router.delete(
    "/exemptions/{exemption_id}",
    status_code=204,
    summary="Withdraw an exemption",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_exemption(key: ProjectKey, exemption_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """The criterion counts again at once (admin)."""
    await db.write(service.delete_exemption, key=key, exemption_id=exemption_id, actor=caller)
    return Response(status_code=204)


def _attestation_read(attestation: Attestation) -> AttestationRead:
    return AttestationRead(
        criterion=attestation.criterion,
        status=attestation.status,
        evidence_url=attestation.evidence_url,
        evidence_ids=[uuid.UUID(evidence_id) for evidence_id in attestation.evidence_ids or []],
        note=attestation.note,
        expires_at=attestation.expires_at,
        active=attestation.expires_at is None or attestation.expires_at > utcnow(),
        attested_by=attestation.attested_by,
        attested_at=attestation.attested_at,
    )


def _attestation_response(attestation: Attestation, status_code: int = 200) -> Response:
    return json_response(
        _attestation_read(attestation),
        status_code=status_code,
        headers={"ETag": service.attestation_etag(attestation)},
    )


@router.put(
    "/attestations/{criterion}",
    response_model=AttestationRead,
    summary="Attest a criterion",
    responses={
        201: {"model": AttestationRead, "description": "Created"},
        **problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
    },
)
async def put_attestation(
    key: ProjectKey, criterion: CriterionPath, body: AttestationPut, db: DbDep, caller: Writer, if_match: IfMatchDep
) -> Response:
    """What only people can tell about a criterion of the project's governing rubric: its status,
    evidence and note, until `expires_at` if given. The attester is the caller. A criterion with a
    check is decided by the check where its data exists; otherwise the attestation counts. The
    project's readiness reflects it at once; the audit trail keeps every version.

    """
    attestation, created = await db.write(
        service.put_attestation, key=key, criterion=criterion, data=body, if_match=if_match, actor=caller
    )
    return _attestation_response(attestation, 201 if created else 200)


@router.get(
    "/attestations",
    response_model=Page[AttestationRead],
    summary="List a project's attestations",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_attestations(
    key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """By criterion key; expired ones are listed too (`active` tells)."""
    attestations, next_cursor = await db.read(service.list_attestations, key=key, limit=limit, cursor=cursor)
    return json_response(
        Page[AttestationRead](items=[_attestation_read(a) for a in attestations], next_cursor=next_cursor)
    )


@router.get(
    "/attestations/{criterion}",
    response_model=AttestationRead,
    summary="Get an attestation",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404, 422)},
)
async def get_attestation(
    key: ProjectKey, criterion: CriterionPath, db: DbDep, caller: Reader, if_none_match: IfNoneMatchHeader = None
) -> Response:
    """The attestation of one criterion, with its `ETag`."""
    attestation = await db.read(service.get_attestation, key=key, criterion=criterion)
    tag = service.attestation_etag(attestation)
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _attestation_response(attestation)


@router.delete(
    "/attestations/{criterion}",
    status_code=204,
    summary="Withdraw an attestation",
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def delete_attestation(
    key: ProjectKey, criterion: CriterionPath, db: DbDep, caller: Writer, if_match: IfMatchDep
) -> Response:
    """The criterion is judged without it at once. Gate criteria need the same role as attesting them."""
    await db.write(service.delete_attestation, key=key, criterion=criterion, if_match=if_match, actor=caller)
    return Response(status_code=204)
