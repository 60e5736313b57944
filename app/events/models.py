"""The outbox of events, the webhook subscriptions, and their deliveries with every attempt."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, SerialId, UTCDateTime, new_id, utcnow


class Event(Base):
    """One event, written in the transaction of the change it tells of. `position` follows commit
    order (writers serialise on a lock just before inserting), so a reader following positions
    never skips an event committed late."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_occurred_at", "occurred_at"),
        Index("ix_event_subject_position", "subject", "position"),
    )

    position: Mapped[int] = mapped_column(SerialId, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=new_id)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    # No foreign key: the events of a deleted project outlive it.
    project_id: Mapped[uuid.UUID | None]
    department: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The project's business and technical owners' emails when the event was written: whom an
    # `owners` notification channel tells.
    owners: Mapped[list[str] | None] = mapped_column(JSONDocument)
    # The CloudEvents document as the exact bytes that are sent and signed.
    body: Mapped[str] = mapped_column(Text)


class EventFeed(Base):
    """How far retention has deleted the outbox: a cursor before it may have missed events."""

    __tablename__ = "event_feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    purged_through: Mapped[int] = mapped_column(BigInteger, default=0)


class Webhook(Base):
    __tablename__ = "webhook"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSONDocument)
    departments: Mapped[list[str] | None] = mapped_column(JSONDocument)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    # During a rotation's overlap both secrets sign, so that receivers can switch at their pace.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last outbox position considered for this subscription: it receives events after it.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One event to one subscription, retried until it succeeds or its retry window ends."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_order", "webhook_id", "ordering_key", "event_position"),
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event_position: Mapped[int] = mapped_column(BigInteger, ForeignKey("event.position", ondelete="CASCADE"))
    # Deliveries with the same key go out in position order: the event's subject.
    ordering_key: Mapped[str] = mapped_column(String(200))
    # pending (due at next_attempt_at; taken while leased_until is ahead), succeeded, failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attempt(Base):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery_id", "delivery_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"))
    number: Mapped[int]
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # succeeded, failed (retried), rejected (a 4xx that ends the delivery), refused (SSRF), timeout, error
    outcome: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
