"""The channels' deliveries in the database, worked by the webhook dispatcher beside webhooks: the
outbox's events fanned out to the channels that want them, one delivery per event, channel and
recipient, each holding the exact message it sends; leased in runs per channel, recipient and
project (`app.events.deliveries.lease_runs`), retried with the webhooks' backoff for 24 hours, and
each attempt recorded. A recipient the relay refused is retried alone: the others have deliveries
of their own."""

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, exists, func, insert, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.storage import update_rows
from app.events import storage
from app.events.deliveries import DEFAULT_LEASE, RETRY_WINDOW, QueueTable, lease_runs, retry_delay
from app.events.models import Event
from app.events.schemas import PING, type_matches
from app.notifications import formats, messages
from app.notifications.models import Channel, ChannelAttempt, ChannelDelivery
from app.notifications.schemas import ChannelKind
from app.projects.models import Project

CHANNEL_QUEUE = QueueTable(ChannelDelivery, ChannelDelivery.channel_id, Channel, ChannelDelivery.position)
DELIVERY_TABLE: Table = ChannelDelivery.__table__  # type: ignore[assignment]
ATTEMPT_TABLE: Table = ChannelAttempt.__table__  # type: ignore[assignment]
FAN_OUT_BATCH = 500


@dataclass(frozen=True)
class Composing:
    """What a message needs of the installation: where its links lead, who sends its mail."""

    public_url: str
    sender: str


@dataclass(frozen=True)
class ChannelClaimed:
    delivery_id: uuid.UUID
    attempt: int
    channel_id: uuid.UUID
    kind: ChannelKind
    url: str | None
    recipient: str
    message: str
    ordering_key: str
    delivery_created_at: datetime
    event_at: datetime

    @property
    def run_key(self) -> tuple[uuid.UUID, str]:
        return self.channel_id, self.ordering_key


@dataclass(frozen=True)
class ChannelOutcome:
    claimed: ChannelClaimed
    outcome: str
    attempted_at: datetime
    duration_ms: int
    response_status: int | None = None
    response_body: str | None = None
    error: str | None = None

    @property
    def retried(self) -> bool:
        return self.outcome in {"failed", "refused", "timeout", "error"}


def ordering_key(subject: str, recipient: str) -> str:
    return f"{subject} {recipient}"


def delivery_row(
    channel: Channel,
    *,
    kind: str,
    subject: str,
    recipient: str,
    message: messages.Message,
    composing: Composing,
    at: datetime,
    event: Any = None,
    attachments: list[tuple[str, bytes]] | None = None,
) -> dict[str, Any]:
    """A delivery as inserted: the message, composed once, in the channel's format."""
    channel_kind = ChannelKind(channel.kind)
    if channel_kind is ChannelKind.email:
        body = formats.email(message, sender=composing.sender, recipient=recipient, attachments=attachments)
    else:
        body = formats.chat(channel_kind, message)
    return {
        "id": uuid.uuid4(),
        "channel_id": channel.id,
        "kind": kind,
        "event_position": event.position if event is not None else None,
        "event_type": event.type if event is not None else None,
        "subject": subject,
        "recipient": recipient,
        "ordering_key": ordering_key(subject, recipient),
        "position": event.position if event is not None else 0,
        "message": body,
        "title": message.title[:300],
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def _message_of(event: Any, names: dict[str, str], composing: Composing) -> messages.Message:
    data = json.loads(event.body).get("data") or {}
    if event.project_id is None:
        if event.type == "rubric.published":
            return messages.of_rubric(data, composing.public_url)
        if event.type.startswith("initiative."):
            return messages.of_initiative(event.type, data, composing.public_url)
        project = messages.Project(event.subject, event.subject, f"{composing.public_url}/ui/")
    else:
        shown: dict[str, Any] = data["project"] if isinstance(data.get("project"), dict) else {}
        name = names.get(event.subject) or shown.get("name") or event.subject
        project = messages.Project(event.subject, name, messages.project_link(composing.public_url, event.subject))
    return messages.of_event(event.type, data, project)


def _recipients(channel: Channel, event: Any) -> list[str]:
    if ChannelKind(channel.kind) is not ChannelKind.email:
        return [""]
    if channel.to_owners:
        return list(event.owners or [])
    return list(channel.to_addresses or [])


def _wants(channel: Channel, event: Any) -> bool:
    if not channel.enabled or event.type == PING or event.type.startswith("webhook."):
        return False
    if not any(type_matches(pattern, event.type) for pattern in channel.event_types):
        return False
    return channel.departments is None or event.department in channel.departments


def fan_out(session: Session, *, composing: Composing, limit: int = FAN_OUT_BATCH) -> int:
    """Turn events after each channel's cursor into its deliveries, one per recipient, each message
    composed now; returns how many. A disabled channel's cursor moves on: it tells nothing of what
    happened while it was off."""
    channels = list(session.scalars(storage.skipping_locked(session, select(Channel))))
    if not channels:
        return 0
    start = min(channel.cursor for channel in channels)
    events = session.execute(
        select(
            Event.position,
            Event.type,
            Event.subject,
            Event.project_id,
            Event.department,
            Event.owners,
            Event.occurred_at,
            Event.body,
        )
        .where(Event.position > start)
        .order_by(Event.position)
        .limit(limit)
    ).all()
    if not events:
        return 0
    subjects = {event.subject for event in events if event.project_id is not None}
    names = dict(session.execute(select(Project.key, Project.name).where(Project.key.in_(subjects))).all())
    composed: dict[int, messages.Message] = {}
    rows = []
    for channel in channels:
        for event in events:
            if event.position <= channel.cursor or not _wants(channel, event):
                continue
            if event.position not in composed:
                composed[event.position] = _message_of(event, names, composing)
            for recipient in _recipients(channel, event):
                rows.append(
                    delivery_row(
                        channel,
                        kind="event",
                        subject=event.subject,
                        recipient=recipient,
                        message=composed[event.position],
                        composing=composing,
                        at=event.occurred_at,
                        event=event,
                    )
                )
        channel.cursor = max(channel.cursor, events[-1].position)
    if rows:
        session.connection().execute(insert(DELIVERY_TABLE), rows)
    return len(rows)


def work_due(session: Session) -> bool:
    """Whether events wait to become deliveries, or a delivery is due."""
    now = utcnow()
    newest, oldest_cursor, due = session.execute(
        select(
            select(func.max(Event.position)).scalar_subquery(),
            select(func.min(Channel.cursor)).scalar_subquery(),
            exists().where(
                ChannelDelivery.state == "pending",
                ChannelDelivery.next_attempt_at <= now,
                (ChannelDelivery.leased_until.is_(None)) | (ChannelDelivery.leased_until < now),
            ),
        )
    ).one()
    return bool(due) or (oldest_cursor is not None and newest is not None and newest > oldest_cursor)


def claim(session: Session, *, limit: int, lease: timedelta = DEFAULT_LEASE) -> list[ChannelClaimed]:
    ids = lease_runs(session, CHANNEL_QUEUE, limit=limit, lease=lease)
    if not ids:
        return []
    rows = session.execute(
        select(ChannelDelivery, Channel.kind, Channel.url)
        .join(Channel, Channel.id == ChannelDelivery.channel_id)
        .where(ChannelDelivery.id.in_(ids))
        .order_by(ChannelDelivery.position, ChannelDelivery.created_at)
    ).all()
    return [
        ChannelClaimed(
            delivery_id=delivery.id,
            attempt=delivery.attempts + 1,
            channel_id=delivery.channel_id,
            kind=ChannelKind(kind),
            url=url,
            recipient=delivery.recipient,
            message=delivery.message,
            ordering_key=delivery.ordering_key,
            delivery_created_at=delivery.created_at,
            event_at=delivery.created_at,
        )
        for delivery, kind, url in rows
    ]


def record(
    session: Session,
    outcomes: Sequence[ChannelOutcome],
    released: Sequence[ChannelClaimed],
    rng: random.Random,
) -> None:
    """Store each attempt and what follows from it (a retry with backoff within the 24-hour window,
    or the delivery's end), and give back the leases of deliveries left unsent behind a failure."""
    now = utcnow()
    connection = session.connection()
    if released:
        update_rows(connection, DELIVERY_TABLE, "id", [{"id": c.delivery_id, "leased_until": None} for c in released])
    attempts, deliveries = [], []
    for outcome in outcomes:
        claimed = outcome.claimed
        next_attempt_at = None
        if outcome.outcome == "succeeded":
            state = "succeeded"
        elif outcome.retried and now - claimed.delivery_created_at < RETRY_WINDOW:
            state = "pending"
            next_attempt_at = now + retry_delay(claimed.attempt, rng)
        else:
            state = "failed"
        attempts.append(
            {
                "id": uuid.uuid4(),
                "delivery_id": claimed.delivery_id,
                "number": claimed.attempt,
                "attempted_at": outcome.attempted_at,
                "outcome": outcome.outcome,
                "response_status": outcome.response_status,
                "response_body": outcome.response_body,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "next_attempt_at": next_attempt_at,
            }
        )
        deliveries.append(
            {
                "id": claimed.delivery_id,
                "state": state,
                "next_attempt_at": next_attempt_at or now,
                "finished_at": None if state == "pending" else now,
                "attempts": claimed.attempt,
                "leased_until": None,
            }
        )
    if attempts:
        connection.execute(insert(ATTEMPT_TABLE), attempts)
        update_rows(connection, DELIVERY_TABLE, "id", deliveries)
