"""Decision requests: asking the steering committee for a go/no-go, and the approvers' queue of
what waits for them. A recorded decision closes the project's open request."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.auth import scope
from app.auth.service import identities_of
from app.core import changes, news
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.identity import Caller, Role
from app.core.pagination import cursor_moment, cursor_uuid, decode_cursor, encode_cursor, keyset_after
from app.decisions.models import DecisionRequest
from app.decisions.schemas import (
    DecisionRequested,
    DecisionRequestRead,
    QueuedReadiness,
    QueuedRequest,
    RequestStatus,
)
from app.projects.models import Project
from app.projects.service import get_project
from app.readiness.models import ProjectReadiness


def _read(request: DecisionRequest, project_key: str) -> DecisionRequestRead:
    return DecisionRequestRead(
        id=request.id,
        project=project_key,
        status=request.status,
        note=request.note,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        closed_at=request.closed_at,
        decision_id=request.decision_id,
        withdrawn_by=request.withdrawn_by,
    )


def _open_of(session: Session, project: Project) -> DecisionRequest | None:
    return session.scalar(
        select(DecisionRequest).where(DecisionRequest.project_id == project.id, DecisionRequest.status == "open")
    )


def request_decision(session: Session, *, key: str, note: str | None, actor: Caller) -> DecisionRequestRead:
    """Ask for a go/no-go on the project (writer); 409 naming the request already open."""
    project = get_project(session, key=key, for_update=True)
    already = _open_of(session, project)
    if already is not None:
        raise Conflict(
            f"Project {key!r} already has an open decision request, {already.id}, from {already.requested_by}; "
            "withdraw it or wait for the decision."
        )
    request = DecisionRequest(
        id=uuid.uuid4(),
        project_id=project.id,
        status="open",
        note=note,
        requested_by=actor.name,
        requested_by_identity=actor.identity,
        requested_at=utcnow(),
    )
    session.add(request)
    changes.record(
        session,
        Cause("decision request", str(request.id)),
        [project.id],
        audit=AuditEntry(actor, "decision_request.create", "project", key, after={"id": str(request.id), "note": note}),
        status="none",
        readiness=False,
    )
    told = DecisionRequested(project=key, request_id=request.id, note=note, requested_by=actor.name)
    news.emit(session, "decision.requested", key, told, project_id=project.id, department=project.department)
    return _read(request, key)


def list_requests(
    session: Session, *, key: str, limit: int, cursor: str | None
) -> tuple[list[DecisionRequestRead], str | None]:
    """The project's requests, newest first."""
    project = get_project(session, key=key)
    columns = [DecisionRequest.requested_at, DecisionRequest.id]
    query = select(DecisionRequest).where(DecisionRequest.project_id == project.id)
    if cursor is not None:
        query = query.where(keyset_after(columns, decode_cursor(cursor, cursor_moment, cursor_uuid), descending=True))
    rows = list(session.scalars(query.order_by(*(column.desc() for column in columns)).limit(limit + 1)))
    next_cursor = _cursor_of(rows[limit - 1]) if len(rows) > limit else None
    return [_read(row, key) for row in rows[:limit]], next_cursor


def _cursor_of(request: DecisionRequest) -> str:
    return encode_cursor([request.requested_at.isoformat(), str(request.id)])


def open_request(session: Session, *, key: str) -> DecisionRequestRead | None:
    """The project's open request, if one is."""
    project = get_project(session, key=key)
    found = _open_of(session, project)
    return _read(found, key) if found is not None else None


def withdraw(session: Session, *, key: str, request_id: uuid.UUID, actor: Caller) -> DecisionRequestRead:
    """Its requester (the same person) or an admin withdraws an open request."""
    project = get_project(session, key=key)
    request = session.scalar(
        select(DecisionRequest)
        .where(DecisionRequest.id == request_id, DecisionRequest.project_id == project.id)
        .with_for_update()
    )
    if request is None:
        raise NotFound(f"Project {key!r} has no decision request {request_id}.")
    if request.requested_by_identity not in identities_of(session, actor) and not actor.role.allows(Role.admin):
        raise Forbidden("Only whoever asked for the decision, or an admin, may withdraw the request.")
    if request.status != "open":
        raise Conflict(f"The request is {request.status}; only an open request can be withdrawn.")
    request.status, request.closed_at, request.withdrawn_by = "withdrawn", utcnow(), actor.name
    changes.record(
        session,
        Cause("decision request", str(request.id)),
        [project.id],
        audit=AuditEntry(actor, "decision_request.withdraw", "project", key, after={"id": str(request.id)}),
        status="none",
        readiness=False,
    )
    return _read(request, key)


def close(session: Session, *, project_id: uuid.UUID, decision_id: uuid.UUID, at: datetime) -> uuid.UUID | None:
    """The project's open request answered by this decision; its id, or None when none was open."""
    closed = session.execute(
        update(DecisionRequest)
        .where(DecisionRequest.project_id == project_id, DecisionRequest.status == "open")
        .values(status="closed", closed_at=at, decision_id=decision_id)
        .returning(DecisionRequest.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    return closed


def _queue_query(status: RequestStatus) -> Select[*tuple[Any, ...]]:
    query = (
        select(
            DecisionRequest,
            Project.key,
            Project.name,
            Project.department,
            Project.stage,
            ProjectReadiness.score,
            ProjectReadiness.level,
            ProjectReadiness.gate_passed,
            ProjectReadiness.blockers,
        )
        .join(Project, Project.id == DecisionRequest.project_id)
        .outerjoin(ProjectReadiness, ProjectReadiness.project_id == Project.id)
        .where(DecisionRequest.status == status)
    )
    return cast(Select[*tuple[Any, ...]], query)


def queue(
    session: Session, *, status: RequestStatus, limit: int, cursor: str | None
) -> tuple[list[QueuedRequest], str | None]:
    """The requests in this status across the projects the caller may see, oldest first, each with
    its project's score, level, gate and blockers as they stand now."""
    columns = [DecisionRequest.requested_at, DecisionRequest.id]
    query = scope.restrict(_queue_query(status), Project.department)
    if cursor is not None:
        query = query.where(keyset_after(columns, decode_cursor(cursor, cursor_moment, cursor_uuid)))
    rows = session.execute(query.order_by(*columns).limit(limit + 1)).all()
    next_cursor = _cursor_of(rows[limit - 1][0]) if len(rows) > limit else None
    return [
        QueuedRequest(
            **_read(row[0], row.key).model_dump(),
            project_name=row.name,
            department=row.department,
            stage=row.stage,
            readiness=QueuedReadiness(
                score=row.score,
                level=row.level,
                gate_passed=row.gate_passed,
                blockers=[criterion for criterion, _ in row.blockers or []],
            ),
        )
        for row in rows[:limit]
    ], next_cursor
