"""The audit trail: one event per mutation, written in the mutation's own transaction."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.core.changes import Change
from app.core.logging import client_request_id_var, request_id_var
from app.core.pagination import keyset_page


def record_changes(session: Session, written: list[Change]) -> None:
    """The epilogue's audit step: one event for each write that asked for one."""
    for change in written:
        entry = change.audit
        if entry is not None:
            session.add(
                AuditEvent(
                    actor_key_id=entry.actor.key_id,
                    actor_name=entry.actor.name,
                    actor_identity=entry.actor.identity,
                    action=entry.action,
                    entity_type=entry.entity_type,
                    entity_key=entry.entity_key,
                    before=entry.before,
                    after=entry.after,
                    request_id=request_id_var.get(),
                    client_request_id=client_request_id_var.get(),
                )
            )


def list_events(
    session: Session,
    *,
    entity_type: str | None,
    entity_key: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEvent], str | None]:
    """Newest first."""
    query = select(AuditEvent)
    filters = {
        AuditEvent.entity_type: entity_type,
        AuditEvent.entity_key: entity_key,
        AuditEvent.actor_name: actor,
        AuditEvent.action: action,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    return keyset_page(
        session, query, [AuditEvent.occurred_at, AuditEvent.id], limit=limit, cursor=cursor, descending=True
    )
