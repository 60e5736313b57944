"""Attestations (what only people can tell about a criterion) and exemptions (a criterion set aside
until a date): the inputs people give to readiness."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attestations.models import Attestation, Exemption
from app.attestations.schemas import AttestationPut, ExemptionCreate
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import new_id, utcnow
from app.core.errors import FieldError, Forbidden, NotFound, Unprocessable
from app.core.identity import Caller, Role
from app.core.pagination import keyset_page
from app.core.preconditions import IfMatch, etag
from app.engine import scoring
from app.evidence import service as evidence
from app.projects.models import Project
from app.projects.service import get_project
from app.rubrics import service as rubrics

# Who may attest a go-live gate criterion, through the attestations resource or an evaluation's
# answers alike: the steering committee, not the systems that post state.
GATE_ATTESTER = Role.approver


def governing_rubric(session: Session, project: Project) -> scoring.Rubric:
    return rubrics.to_engine(*rubrics.get_version(session, key=project.rubric))


def criterion_of(rubric: scoring.Rubric, key: str) -> scoring.Criterion | None:
    return next((criterion for criterion in rubric.criteria if criterion.key == key), None)


def require_attester(actor: Caller, criterion: scoring.Criterion) -> None:
    if criterion.gate and not actor.role.allows(GATE_ATTESTER):
        raise Forbidden(
            f"{criterion.key} is a go-live gate criterion; attesting it needs the {GATE_ATTESTER.value} role."
        )


def attestation_etag(attestation: Attestation) -> str:
    return etag(attestation.id, attestation.version)


def _attestation_snapshot(attestation: Attestation) -> dict[str, Any]:
    return {
        "status": attestation.status,
        "evidence_url": attestation.evidence_url,
        "evidence_ids": attestation.evidence_ids or [],
        "note": attestation.note,
        "expires_at": attestation.expires_at.isoformat() if attestation.expires_at else None,
        "attested_by": attestation.attested_by,
    }


def record_attestation(
    session: Session,
    project: Project,
    criterion: str,
    given: scoring.Answer,
    existing: Attestation | None,
    actor: Caller,
    now: datetime,
    *,
    field: str = "body.evidence_ids",
) -> tuple[Attestation, bool]:
    """Store what a person attests, citing the evidence given (`field` names it in a refusal)."""
    rule = criterion_of(governing_rubric(session, project), criterion)
    if rule is not None and rule.evidence_required and given.status in ("met", "partial") and not given.evidence_ids:
        raise Unprocessable(
            f"{criterion} requires evidence: a {given.status} attestation of it must cite evidence the service "
            f"holds (evidence_ids); upload it with POST /projects/{project.key}/evidence first.",
            errors=[FieldError(field=field, message="required for a met or partial attestation of this criterion")],
        )
    cited = [uuid.UUID(evidence_id) for evidence_id in given.evidence_ids]
    evidence.check_cited(session, project, cited, field)
    if existing is None:
        existing = session.scalar(
            select(Attestation).where(Attestation.project_id == project.id, Attestation.criterion == criterion)
        )
    before = _attestation_snapshot(existing) if existing else None
    attestation = existing or Attestation(project_id=project.id, criterion=criterion)
    attestation.status, attestation.evidence_url, attestation.note = given.status, given.evidence_url, given.note
    attestation.expires_at, attestation.attested_by, attestation.attested_at = given.expires_at, actor.name, now
    attestation.attested_by_identity = actor.identity
    attestation.evidence_ids = list(given.evidence_ids)
    if existing is None:
        attestation.id = new_id()
        session.add(attestation)
    evidence.cite(session, project, cited_by="attestation", cited_by_id=attestation.id, evidence_ids=cited)
    changes.record(
        session,
        Cause("attestation", criterion),
        [project.id],
        audit=AuditEntry(
            actor,
            "attestation.put",
            "attestation",
            f"{project.key}/{criterion}",
            before=before,
            after=_attestation_snapshot(attestation),
        ),
        status="none",
    )
    return attestation, existing is None


def _attested_criterion(session: Session, project: Project, criterion: str) -> scoring.Criterion:
    found = criterion_of(governing_rubric(session, project), criterion)
    if found is None:
        raise NotFound(f"{criterion!r} is not a criterion of the project's rubric {project.rubric!r}.")
    return found


def put_attestation(
    session: Session, *, key: str, criterion: str, data: AttestationPut, if_match: IfMatch | None, actor: Caller
) -> tuple[Attestation, bool]:
    """Attest a criterion of the project's governing rubric; returns it and whether it was created."""
    project = get_project(session, key=key)
    require_attester(actor, _attested_criterion(session, project, criterion))
    now = utcnow()
    if data.expires_at is not None and data.expires_at <= now:
        raise Unprocessable(
            "An attestation must expire in the future, if at all.",
            errors=[FieldError(field="body.expires_at", message="must be in the future")],
        )
    existing = session.scalar(
        select(Attestation).where(Attestation.project_id == project.id, Attestation.criterion == criterion)
    )
    if if_match is not None:
        if_match.check(attestation_etag(existing) if existing else None)
    given = scoring.Answer(
        data.status,
        data.evidence_url,
        data.note,
        expires_at=data.expires_at,
        evidence_ids=tuple(str(evidence_id) for evidence_id in dict.fromkeys(data.evidence_ids)),
    )
    return record_attestation(session, project, criterion, given, existing, actor, now)


def get_attestation(session: Session, *, key: str, criterion: str) -> Attestation:
    project = get_project(session, key=key)
    attestation = session.scalar(
        select(Attestation).where(Attestation.project_id == project.id, Attestation.criterion == criterion)
    )
    if attestation is None:
        raise NotFound(f"Project {key!r} has no attestation of {criterion!r}.")
    return attestation


def list_attestations(
    session: Session, *, key: str, limit: int, cursor: str | None
) -> tuple[list[Attestation], str | None]:
    project = get_project(session, key=key)
    query = select(Attestation).where(Attestation.project_id == project.id)
    return keyset_page(session, query, [Attestation.criterion], limit=limit, cursor=cursor)


def delete_attestation(session: Session, *, key: str, criterion: str, if_match: IfMatch | None, actor: Caller) -> None:
    attestation = get_attestation(session, key=key, criterion=criterion)
    project = get_project(session, key=key)
    found = criterion_of(governing_rubric(session, project), criterion)
    if found is not None:
        require_attester(actor, found)
    if if_match is not None:
        if_match.check(attestation_etag(attestation))
    before = _attestation_snapshot(attestation)
    evidence.cite(session, project, cited_by="attestation", cited_by_id=attestation.id, evidence_ids=())
    session.delete(attestation)
    changes.record(
        session,
        Cause("attestation", criterion),
        [project.id],
        audit=AuditEntry(actor, "attestation.delete", "attestation", f"{key}/{criterion}", before=before),
        status="none",
    )


def create_exemption(session: Session, *, key: str, data: ExemptionCreate, actor: Caller) -> Exemption:
    project = get_project(session, key=key)
    if criterion_of(governing_rubric(session, project), data.criterion) is None:
        raise Unprocessable(
            f"{data.criterion!r} is not a criterion of the project's rubric {project.rubric!r}.",
            errors=[FieldError(field="body.criterion", message="not a criterion of the governing rubric")],
        )
    if data.expires_at <= utcnow():
        raise Unprocessable(
            "An exemption must expire in the future.",
            errors=[FieldError(field="body.expires_at", message="must be in the future")],
        )
    exemption = Exemption(
        project_id=project.id,
        criterion=data.criterion,
        justification=data.justification,
        expires_at=data.expires_at,
        created_by=actor.name,
    )
    session.add(exemption)
    session.flush()
    changes.record(
        session,
        Cause("exemption", data.criterion),
        [project.id],
        audit=AuditEntry(
            actor,
            "exemption.create",
            "project",
            key,
            after={
                "id": str(exemption.id),
                "criterion": data.criterion,
                "justification": data.justification,
                "expires_at": data.expires_at.isoformat(),
            },
        ),
        status="none",
    )
    return exemption


def list_exemptions(
    session: Session, *, key: str, limit: int, cursor: str | None
) -> tuple[list[Exemption], str | None]:
    project = get_project(session, key=key)
    query = select(Exemption).where(Exemption.project_id == project.id)
    return keyset_page(
        session, query, [Exemption.created_at, Exemption.id], limit=limit, cursor=cursor, descending=True
    )


def delete_exemption(session: Session, *, key: str, exemption_id: uuid.UUID, actor: Caller) -> None:
    project = get_project(session, key=key)
    exemption = session.scalar(
        select(Exemption).where(Exemption.id == exemption_id, Exemption.project_id == project.id)
    )
    if exemption is None:
        raise NotFound(f"Project {key!r} has no exemption {exemption_id}.")
    before = {"criterion": exemption.criterion, "justification": exemption.justification}
    session.delete(exemption)
    changes.record(
        session,
        Cause("exemption", exemption.criterion),
        [project.id],
        audit=AuditEntry(actor, "exemption.delete", "project", key, before=before),
        status="none",
    )
