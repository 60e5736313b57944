"""Notification channels: their resource, a test message, the delivery log, and digests."""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.destinations import AllowList, DestinationRefused, check_url
from app.core.errors import FieldError, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.engine.stages import Stage
from app.events.models import Event
from app.notifications import digests, messages, schemas
from app.notifications.models import Channel, ChannelAttempt, ChannelDelivery
from app.notifications.queue import DELIVERY_TABLE, Composing, delivery_row
from app.notifications.schemas import OWNERS, ChannelKind


class Destinations:
    """What the operator allows chat URLs (as webhooks) to reach."""

    def __init__(self, allowed: AllowList, allow_http: bool) -> None:
        self.allowed = allowed
        self.allow_http = allow_http

    def check(self, url: str) -> None:
        try:
            check_url(url, self.allowed, allow_http=self.allow_http)
        except DestinationRefused as refused:
            raise Unprocessable(
                "The chat URL is not an allowed destination (the webhook destination rules apply).",
                errors=[FieldError(field="body.url", message=refused.reason)],
            ) from refused


def to_of(channel: Channel) -> list[str] | str | None:
    return OWNERS if channel.to_owners else channel.to_addresses


def read(channel: Channel) -> schemas.ChannelRead:
    return schemas.ChannelRead.model_validate(
        {
            **{column: getattr(channel, column) for column in schemas.ChannelRead.model_fields if column != "to"},
            "to": to_of(channel),
        }
    )


def _audit_view(channel: Channel) -> dict[str, Any]:
    return read(channel).model_dump(mode="json", exclude={"id", "created_at", "updated_at", "digest_period"})


def _set_to(channel: Channel, to: list[str] | str | None) -> None:
    channel.to_owners = to == OWNERS
    channel.to_addresses = None if to is None or to == OWNERS else [str(address).lower() for address in to]


def _current_period(channel: Channel, now: datetime, zone: ZoneInfo) -> str | None:
    if channel.digest is None:
        return None
    return digests.period_key(channel.digest, digests.period_start(channel.digest, now, zone))


def create_channel(
    session: Session, *, data: schemas.ChannelCreate, destinations: Destinations, zone: ZoneInfo, actor: Caller
) -> Channel:
    if data.url is not None:
        destinations.check(data.url)
    now = utcnow()
    channel = Channel(
        name=data.name,
        kind=data.kind.value,
        url=data.url,
        event_types=data.event_types,
        departments=data.departments,
        digest=data.digest,
        steering_report=data.steering_report,
        enabled=data.enabled,
        # Events from now on; and the first digest at the next period's start, not at once.
        cursor=session.scalar(select(func.coalesce(func.max(Event.position), 0))),
        created_at=now,
        updated_at=now,
    )
    _set_to(channel, data.to)
    channel.digest_period = _current_period(channel, now, zone)
    session.add(channel)
    session.flush()
    changes.record(
        session,
        Cause("channel", str(channel.id)),
        audit=AuditEntry(actor, "channel.create", "channel", str(channel.id), after=_audit_view(channel)),
        status="none",
        readiness=False,
    )
    return channel


def get_channel(session: Session, *, channel_id: uuid.UUID) -> Channel:
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"No channel with id {channel_id}.")
    return channel


def list_channels(session: Session, *, limit: int, cursor: str | None) -> tuple[list[Channel], str | None]:
    return keyset_page(session, select(Channel), [Channel.created_at, Channel.id], limit=limit, cursor=cursor)


def update_channel(
    session: Session,
    *,
    channel_id: uuid.UUID,
    data: schemas.ChannelUpdate,
    destinations: Destinations,
    zone: ZoneInfo,
    actor: Caller,
) -> Channel:
    channel = get_channel(session, channel_id=channel_id)
    before = _audit_view(channel)
    given = data.model_dump(exclude_unset=True)
    for required in ("name", "event_types", "enabled", "steering_report"):
        if required in given and given[required] is None:
            raise Unprocessable(
                f"{required} cannot be null.", errors=[FieldError(field=f"body.{required}", message="may not be null")]
            )
    merged = {
        "to": to_of(channel),
        "url": channel.url,
        "digest": channel.digest,
        "steering_report": channel.steering_report,
        **{name: given[name] for name in ("to", "url", "digest", "steering_report") if name in given},
    }
    try:
        schemas.check_kind(ChannelKind(channel.kind), **merged)
    except ValueError as error:
        raise Unprocessable(
            "The channel's fields do not fit its kind.", errors=[FieldError(field="body", message=str(error))]
        ) from error
    if given.get("url") is not None:
        destinations.check(given["url"])
    if "to" in given:
        _set_to(channel, data.to)
    for name in ("name", "url", "event_types", "departments", "digest", "steering_report", "enabled"):
        if name in given:
            setattr(channel, name, given[name])
    if "digest" in given:
        channel.digest_period = _current_period(channel, utcnow(), zone)
    channel.version += 1
    channel.updated_at = utcnow()
    changes.record(
        session,
        Cause("channel", str(channel.id)),
        audit=AuditEntry(
            actor, "channel.update", "channel", str(channel.id), before=before, after=_audit_view(channel)
        ),
        status="none",
        readiness=False,
    )
    return channel


def delete_channel(session: Session, *, channel_id: uuid.UUID, actor: Caller) -> None:
    channel = get_channel(session, channel_id=channel_id)
    before = _audit_view(channel)
    session.delete(channel)
    changes.record(
        session,
        Cause("channel", str(channel_id)),
        audit=AuditEntry(actor, "channel.delete", "channel", str(channel_id), before=before),
        status="none",
        readiness=False,
    )


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[schemas.ChannelDeliveryRead]:
    if not rows:
        return []
    session.connection().execute(DELIVERY_TABLE.insert(), rows)
    return _read(
        session, list(session.scalars(select(ChannelDelivery).where(ChannelDelivery.id.in_([r["id"] for r in rows]))))
    )


def test_send(session: Session, *, channel_id: uuid.UUID, composing: Composing) -> list[schemas.ChannelDeliveryRead]:
    """A test message to the channel's room, or to each of its fixed addresses; an `owners`
    channel has no one to test until a project's news names its owners (422)."""
    channel = get_channel(session, channel_id=channel_id)
    if channel.to_owners:
        raise Unprocessable(
            "An owners channel mails each project's owners: there is no fixed address to test. "
            "Send a digest (`:digest`) to see what its owners would receive."
        )
    message = messages.test_message(channel.name, composing.public_url)
    recipients = (channel.to_addresses or []) if ChannelKind(channel.kind) is ChannelKind.email else [""]
    now = utcnow()
    rows = [
        delivery_row(
            channel, kind="test", subject=str(channel.id), recipient=r, message=message, composing=composing, at=now
        )
        for r in recipients
    ]
    return _insert(session, rows)


def enqueue_digest(
    session: Session,
    channel: Channel,
    *,
    composing: Composing,
    now: datetime,
    zone: ZoneInfo,
    limits: Mapping[Stage, int],
    label: str,
    attachments: list[tuple[str, bytes]] | None = None,
) -> schemas.DigestSent:
    """One digest message per recipient with something to report (and, with the steering report
    attached, to every fixed address)."""
    news = digests.gather(session, departments=channel.departments, now=now, zone=zone, limits=limits)
    mail = digests.per_recipient(channel, news)
    if attachments:
        mail = {address: mail.get(address, []) for address in channel.to_addresses or []}
    rows = []
    for recipient, projects in sorted(mail.items()):
        message = digests.message(channel, projects, public_url=composing.public_url, label=label)
        if not projects:
            message = messages.Message(
                f"Steering report ({label})", ["The steering report of the period just ended is attached."], None
            )
        rows.append(
            delivery_row(
                channel,
                kind="digest",
                subject=f"digest {channel.id}",
                recipient=recipient,
                message=message,
                composing=composing,
                at=now,
                attachments=attachments,
            )
        )
    everyone = digests.all_recipients(channel, news)
    return schemas.DigestSent(
        channel_id=channel.id, deliveries=_insert(session, rows), recipients_with_nothing=len(everyone - set(mail))
    )


def send_digest(
    session: Session,
    *,
    channel_id: uuid.UUID,
    composing: Composing,
    zone: ZoneInfo,
    limits: Mapping[Stage, int],
) -> schemas.DigestSent:
    """A digest now, for any email channel, scheduled or not, over the channel's departments
    whatever its event types."""
    channel = get_channel(session, channel_id=channel_id)
    if ChannelKind(channel.kind) is not ChannelKind.email:
        raise Unprocessable("Digests are sent by email channels; this one posts to a chat.")
    return enqueue_digest(
        session, channel, composing=composing, now=utcnow(), zone=zone, limits=limits, label=channel.digest or "current"
    )


def send_scheduled_digests(
    session: Session, *, composing: Composing, zone: ZoneInfo, limits: Mapping[Stage, int], retention_days: int
) -> int:
    """Each channel whose digest period has begun since it last sent: its digest, once. The row is
    locked and others' skipped, and the period stored in the same transaction as the deliveries,
    so that replicas and restarts send each period once. Returns the channels that sent."""
    now = utcnow()
    query = select(Channel).where(Channel.digest.is_not(None), Channel.enabled.is_(True))
    sent = 0
    for channel in session.scalars(query.with_for_update(skip_locked=True)):
        assert channel.digest is not None
        start = digests.period_start(channel.digest, now, zone)
        key = digests.period_key(channel.digest, start)
        if channel.digest_period == key:
            continue
        channel.digest_period = key
        attachments = None
        if channel.steering_report:
            first, last = digests.period_before(channel.digest, start)
            pdf = digests.report_pdf(session, first, last, channel.departments)
            attachments = [(f"steering-report-{first.isoformat()}-{last.isoformat()}.pdf", pdf)] if pdf else None
        enqueue_digest(
            session,
            channel,
            composing=composing,
            now=now,
            zone=zone,
            limits=limits,
            label=channel.digest,
            attachments=attachments,
        )
        sent += 1
    # Deliveries of no event outlive nothing else: they go after the events' retention.
    cutoff = now - timedelta(days=retention_days)
    session.execute(
        delete(ChannelDelivery).where(ChannelDelivery.event_position.is_(None), ChannelDelivery.created_at < cutoff)
    )
    return sent


def _read(session: Session, deliveries: list[ChannelDelivery]) -> list[schemas.ChannelDeliveryRead]:
    attempts: dict[uuid.UUID, list[ChannelAttempt]] = {}
    if deliveries:
        for attempt in session.scalars(
            select(ChannelAttempt)
            .where(ChannelAttempt.delivery_id.in_([d.id for d in deliveries]))
            .order_by(ChannelAttempt.number)
        ):
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        schemas.ChannelDeliveryRead(
            id=d.id,
            channel_id=d.channel_id,
            kind=d.kind,
            event_type=d.event_type,
            subject=d.subject,
            recipient=d.recipient or None,
            title=d.title,
            state=d.state,
            next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
            created_at=d.created_at,
            finished_at=d.finished_at,
            attempts=[schemas.ChannelAttemptRead.model_validate(a) for a in attempts.get(d.id, [])],
        )
        for d in deliveries
    ]


def list_deliveries(
    session: Session, *, channel_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[schemas.ChannelDeliveryRead], str | None]:
    """Newest first, each with every attempt."""
    get_channel(session, channel_id=channel_id)
    rows, next_cursor = keyset_page(
        session,
        select(ChannelDelivery).where(ChannelDelivery.channel_id == channel_id),
        [ChannelDelivery.created_at, ChannelDelivery.id],
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return _read(session, rows), next_cursor
