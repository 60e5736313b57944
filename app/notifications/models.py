"""Notification channels, and their deliveries to people with every attempt."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, UTCDateTime, new_id, utcnow


class Channel(Base):
    """Where news goes for people: an email list (or each project's owners), or a chat room's
    incoming webhook."""

    __tablename__ = "channel"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    # email, slack, teams, mattermost, google_chat
    kind: Mapped[str] = mapped_column(String(16))
    # Email: fixed addresses, or the project's owners (`to_owners`).
    to_addresses: Mapped[list[str] | None] = mapped_column(JSONDocument)
    to_owners: Mapped[bool] = mapped_column(default=False)
    # Chat: the incoming webhook's URL.
    url: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSONDocument)
    departments: Mapped[list[str] | None] = mapped_column(JSONDocument)
    # weekly or monthly; and whether the steering report goes with it as a PDF.
    digest: Mapped[str | None] = mapped_column(String(8))
    steering_report: Mapped[bool] = mapped_column(default=False)
    # The last digest period sent ("2026-W50", "2026-12"): once per period, across replicas.
    digest_period: Mapped[str | None] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(default=True)
    # The last outbox position considered: the channel tells the events after it.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelDelivery(Base):
    """One message to one recipient of a channel: an event's news, a digest or a test. An event is
    delivered once per channel and recipient (the unique index), retried until it succeeds or its
    retry window ends."""

    __tablename__ = "channel_delivery"
    __table_args__ = (
        Index("ix_channel_delivery_order", "channel_id", "ordering_key", "position"),
        Index("ix_channel_delivery_due", "state", "next_attempt_at"),
        Index("ix_channel_delivery_channel_created", "channel_id", "created_at"),
        Index("uq_channel_delivery_event", "channel_id", "event_position", "recipient", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    # event, digest or test
    kind: Mapped[str] = mapped_column(String(8))
    event_position: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("event.position", ondelete="CASCADE"))
    event_type: Mapped[str | None] = mapped_column(String(64))
    # The project key (or what else the news is about).
    subject: Mapped[str] = mapped_column(String(200))
    # An email address; empty for a chat room.
    recipient: Mapped[str] = mapped_column(String(320))
    # A recipient's deliveries of one project go out in order: the subject and the recipient.
    ordering_key: Mapped[str] = mapped_column(String(600))
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    # What is sent, exactly: the email (RFC 5322) or the chat message's JSON.
    message: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChannelAttempt(Base):
    __tablename__ = "channel_attempt"
    __table_args__ = (Index("ix_channel_attempt_delivery_id", "delivery_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channel_delivery.id", ondelete="CASCADE"))
    number: Mapped[int]
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # succeeded, failed (retried), rejected (refused for good), refused (destination), timeout, error
    outcome: Mapped[str] = mapped_column(String(16))
    # The HTTP status, or the SMTP reply code.
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
