"""The feed of events, and the webhook subscriptions that have them delivered."""

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.destinations import AllowList, DestinationRefused, check_url
from app.core.errors import BadRequest, FieldError, Gone, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.events import outbox, schemas
from app.events.models import Attempt, Delivery, Event, EventFeed, Webhook

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class Destinations:
    """What the operator allows webhooks to reach."""

    allowed: AllowList
    allow_http: bool

    def check(self, url: str) -> None:
        try:
            check_url(url, self.allowed, allow_http=self.allow_http)
        except DestinationRefused as refused:
            raise Unprocessable(
                "The webhook URL is not an allowed destination.",
                errors=[FieldError(field="body.url", message=refused.reason)],
            ) from refused


def new_secret() -> str:
    """`whsec_` and standard base64, as the Standard Webhooks libraries read it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _type_filter(patterns: list[str]) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    for pattern in patterns:
        if pattern == "*":
            return Event.type.not_like("webhook.%")
        if pattern.endswith(".*"):
            conditions.append(Event.type.like(pattern[:-1] + "%"))
        else:
            conditions.append(Event.type == pattern)
    return or_(*conditions) if conditions else false()


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 19:
        raise BadRequest("The cursor is not valid; use the next_cursor of a previous page.")
    return int(cursor)


def feed(
    session: Session, *, after: int | None, types: list[str] | None, project: str | None, limit: int
) -> tuple[list[str], str]:
    """Event bodies after the position `after` (from the oldest kept when None), in commit order,
    and the cursor to continue from. 410 when retention deleted events after that position."""
    purged_through = session.scalar(select(EventFeed.purged_through)) or 0
    if after is None:
        after = purged_through
    elif after < purged_through:
        raise Gone(
            "Events after this cursor were deleted by retention; start again without a cursor.",
        )
    # Read first, so that every event up to it is committed and visible to the query below (positions
    # follow commit order): a page that ends early lets the cursor skip what this reader may not see.
    head = session.scalar(select(func.max(Event.position))) or after
    query = select(Event.position, Event.body).where(
        Event.position > after, Event.position <= head, Event.type.not_like("webhook.%")
    )
    if types:
        query = query.where(_type_filter(types))
    if project is not None:
        query = query.where(Event.subject == project, Event.project_id.is_not(None))
    visible = scope.visible(Event.department)
    if visible is not None:
        # Events of no project are everyone's (a rubric published), but for those about the whole
        # portfolio (an initiative's news), which only unscoped readers follow.
        everyone = Event.project_id.is_(None) & ~or_(*(Event.type.like(f"{kind}.%") for kind in schemas.PORTFOLIO_WIDE))
        query = query.where(or_(everyone, visible))
    rows = session.execute(query.order_by(Event.position).limit(limit)).all()
    next_position = rows[-1].position if len(rows) == limit else max(head, after)
    return [row.body for row in rows], str(next_position)


def purge(session: Session, *, older_than: datetime) -> int:
    """Delete events (and their deliveries) past retention; returns how many."""
    last = session.scalar(select(func.max(Event.position)).where(Event.occurred_at < older_than))
    if last is None:
        return 0
    deleted = session.query(Event).filter(Event.position <= last).delete(synchronize_session=False)
    state = session.get(EventFeed, 1)
    if state is None:
        session.add(EventFeed(id=1, purged_through=last))
    else:
        state.purged_through = max(state.purged_through, last)
    return deleted


def _audit_view(webhook: Webhook) -> dict[str, object]:
    return {
        "url": webhook.url,
        "event_types": webhook.event_types,
        "departments": webhook.departments,
        "enabled": webhook.enabled,
    }


def create_webhook(
    session: Session, *, data: schemas.WebhookCreate, destinations: Destinations, actor: Caller
) -> Webhook:
    destinations.check(data.url)
    now = utcnow()
    webhook = Webhook(
        url=data.url,
        description=data.description,
        event_types=data.event_types,
        departments=data.departments,
        enabled=data.enabled,
        secret=new_secret(),
        # Events created after the subscription; older ones only by redelivery.
        cursor=session.scalar(select(func.coalesce(func.max(Event.position), 0))),
        created_at=now,
        updated_at=now,
    )
    session.add(webhook)
    session.flush()
    changes.record(
        session,
        Cause("webhook", str(webhook.id)),
        audit=AuditEntry(actor, "webhook.create", "webhook", str(webhook.id), after=_audit_view(webhook)),
        status="none",
        readiness=False,
    )
    return webhook


def get_webhook(session: Session, *, webhook_id: uuid.UUID) -> Webhook:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"No webhook with id {webhook_id}.")
    return webhook


def list_webhooks(session: Session, *, limit: int, cursor: str | None) -> tuple[list[Webhook], str | None]:
    return keyset_page(session, select(Webhook), [Webhook.created_at, Webhook.id], limit=limit, cursor=cursor)


def update_webhook(
    session: Session,
    *,
    webhook_id: uuid.UUID,
    data: schemas.WebhookUpdate,
    destinations: Destinations,
    actor: Caller,
) -> Webhook:
    webhook = get_webhook(session, webhook_id=webhook_id)
    before = _audit_view(webhook)
    given = data.model_dump(exclude_unset=True)
    for required in ("url", "event_types", "enabled"):
        if required in given and given[required] is None:
            raise Unprocessable(
                f"{required} cannot be null.", errors=[FieldError(field=f"body.{required}", message="may not be null")]
            )
    if "url" in given:
        destinations.check(given["url"])
    for name, value in given.items():
        setattr(webhook, name, value)
    if given.get("enabled"):
        # Enabled again by an admin: its failures start counting afresh.
        webhook.disabled_reason, webhook.failing_since = None, None
    webhook.version += 1
    webhook.updated_at = utcnow()
    changes.record(
        session,
        Cause("webhook", str(webhook.id)),
        audit=AuditEntry(
            actor, "webhook.update", "webhook", str(webhook.id), before=before, after=_audit_view(webhook)
        ),
        status="none",
        readiness=False,
    )
    return webhook


def delete_webhook(session: Session, *, webhook_id: uuid.UUID, actor: Caller) -> None:
    webhook = get_webhook(session, webhook_id=webhook_id)
    before = _audit_view(webhook)
    session.delete(webhook)
    changes.record(
        session,
        Cause("webhook", str(webhook_id)),
        audit=AuditEntry(actor, "webhook.delete", "webhook", str(webhook_id), before=before),
        status="none",
        readiness=False,
    )


def rotate_secret(session: Session, *, webhook_id: uuid.UUID, overlap_seconds: int, actor: Caller) -> Webhook:
    webhook = get_webhook(session, webhook_id=webhook_id)
    now = utcnow()
    overlap_until = now + timedelta(seconds=overlap_seconds) if overlap_seconds else None
    webhook.previous_secret = webhook.secret if overlap_until else None
    webhook.previous_secret_expires_at = overlap_until
    webhook.secret = new_secret()
    webhook.version += 1
    webhook.updated_at = now
    changes.record(
        session,
        Cause("webhook", str(webhook.id)),
        audit=AuditEntry(
            actor,
            "webhook.rotate_secret",
            "webhook",
            str(webhook.id),
            after={"overlap_until": overlap_until.isoformat() if overlap_until else None},
        ),
        status="none",
        readiness=False,
    )
    return webhook


def ping(session: Session, *, webhook_id: uuid.UUID) -> Delivery:
    """A `webhook.ping` event for this subscription alone, delivered like any other."""
    webhook = get_webhook(session, webhook_id=webhook_id)
    now = utcnow()
    event_id = uuid.uuid4()
    data = schemas.Ping(webhook_id=webhook.id, message="A test event sent on request.")
    event = Event(
        id=event_id,
        type=schemas.PING,
        subject=str(webhook.id),
        occurred_at=now,
        body=outbox.envelope(event_id, schemas.PING, str(webhook.id), now, data),
    )
    session.add(event)
    session.flush()
    delivery = Delivery(
        webhook_id=webhook.id,
        event_position=event.position,
        ordering_key=f"ping:{webhook.id}",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


def redeliver(session: Session, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    original = _delivery(session, webhook_id, delivery_id)
    now = utcnow()
    again = Delivery(
        webhook_id=webhook_id,
        event_position=original.event_position,
        ordering_key=original.ordering_key,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(again)
    session.flush()
    return again


def _delivery(session: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id:
        raise NotFound(f"No delivery {delivery_id} of webhook {webhook_id}.")
    return delivery


def _read(session: Session, deliveries: list[Delivery]) -> list[schemas.DeliveryRead]:
    if not deliveries:
        return []
    events = {
        row.position: row
        for row in session.execute(
            select(Event.position, Event.id, Event.type, Event.subject).where(
                Event.position.in_({d.event_position for d in deliveries})
            )
        )
    }
    attempts: dict[uuid.UUID, list[Attempt]] = {}
    for attempt in session.scalars(
        select(Attempt).where(Attempt.delivery_id.in_([d.id for d in deliveries])).order_by(Attempt.number)
    ):
        attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        schemas.DeliveryRead(
            id=d.id,
            webhook_id=d.webhook_id,
            event_id=events[d.event_position].id,
            event_type=events[d.event_position].type,
            subject=events[d.event_position].subject,
            state=d.state,
            next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
            created_at=d.created_at,
            finished_at=d.finished_at,
            attempts=[schemas.AttemptRead.model_validate(a) for a in attempts.get(d.id, [])],
        )
        for d in deliveries
    ]


def list_deliveries(
    session: Session, *, webhook_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[schemas.DeliveryRead], str | None]:
    """Newest first, each with every attempt."""
    get_webhook(session, webhook_id=webhook_id)
    rows, next_cursor = keyset_page(
        session,
        select(Delivery).where(Delivery.webhook_id == webhook_id),
        [Delivery.created_at, Delivery.id],
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return _read(session, rows), next_cursor


def get_delivery(session: Session, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> schemas.DeliveryRead:
    return _read(session, [_delivery(session, webhook_id, delivery_id)])[0]
