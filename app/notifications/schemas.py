"""The notification channel resource, its deliveries, and a digest sent on request."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import EmailStr, Field, field_validator, model_validator

from app.core.schemas import ReadModel, WriteModel
from app.events.schemas import EventTypePattern, check_patterns


class ChannelKind(StrEnum):
    email = "email"
    slack = "slack"
    teams = "teams"
    mattermost = "mattermost"
    google_chat = "google_chat"


CHAT_KINDS = frozenset(kind for kind in ChannelKind if kind is not ChannelKind.email)
Digest = Literal["weekly", "monthly"]
Address = Annotated[EmailStr, Field(max_length=320)]
Department = Annotated[str, Field(min_length=1, max_length=100)]
OWNERS = "owners"

TO_DESCRIPTION = (
    "Email only: a list of addresses, or `owners` for each project's business and technical owner "
    "(as the project has them when the event is written)."
)
URL_DESCRIPTION = (
    "Chat only: the incoming webhook's URL; https, to a destination READINESS_WEBHOOK_ALLOWED_DESTINATIONS allows."
)


class ChannelFields(WriteModel):
    name: str = Field(min_length=1, max_length=200)
    kind: ChannelKind
    to: list[Address] | Literal["owners"] | None = Field(default=None, description=TO_DESCRIPTION)
    url: str | None = Field(default=None, max_length=2000, description=URL_DESCRIPTION)
    event_types: list[EventTypePattern] = Field(
        default_factory=list,
        max_length=50,
        description="Which events are told, as on webhooks (`readiness.*`); empty: none (a digest-only channel).",
    )
    departments: list[Department] | None = Field(
        default=None, max_length=100, description="Only projects of these departments; null for all."
    )
    digest: Digest | None = Field(
        default=None,
        description="Email only: a digest every Monday at 08:00 (weekly) or on the 1st at 08:00 (monthly), "
        "READINESS_TIMEZONE.",
    )
    steering_report: bool = Field(
        default=False,
        description="Email to fixed addresses with a digest only: the steering report of the period just ended, "
        "as a PDF attachment, on the digest's schedule.",
    )
    enabled: bool = True

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, patterns: list[str]) -> list[str]:
        return check_patterns(patterns) if patterns else []

    @model_validator(mode="after")
    def _fits_its_kind(self) -> "ChannelFields":
        check_kind(self.kind, self.to, self.url, self.digest, self.steering_report)
        return self


def check_kind(
    kind: ChannelKind, to: list[str] | str | None, url: str | None, digest: str | None, steering_report: bool
) -> None:
    """The fields each kind takes; raises ValueError naming what does not fit."""
    if kind is ChannelKind.email:
        if not to:
            raise ValueError("an email channel needs `to`: a list of addresses, or `owners`")
        if url is not None:
            raise ValueError("an email channel takes `to`, not `url`")
        if steering_report and (digest is None or to == OWNERS):
            raise ValueError("the steering report goes with a digest to fixed addresses")
        return
    if not url:
        raise ValueError(f"a {kind.value} channel needs `url`: its incoming webhook")
    if to is not None:
        raise ValueError(f"a {kind.value} channel takes `url`, not `to`")
    if digest is not None or steering_report:
        raise ValueError("digests and the steering report are sent by email channels")


class ChannelCreate(ChannelFields):
    pass


class ChannelUpdate(WriteModel):
    """A merge patch: the fields given replace the channel's. Its kind does not change."""

    read_only_fields = frozenset({"id", "kind", "created_at", "updated_at", "digest_period"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    to: list[Address] | Literal["owners"] | None = None
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[EventTypePattern] | None = Field(default=None, max_length=50)
    departments: list[Department] | None = Field(default=None, max_length=100)
    digest: Digest | None = None
    steering_report: bool | None = None
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, patterns: list[str] | None) -> list[str] | None:
        return check_patterns(patterns) if patterns else patterns


class ChannelRead(ReadModel):
    id: uuid.UUID
    name: str
    kind: ChannelKind
    to: list[str] | Literal["owners"] | None
    url: str | None
    event_types: list[str]
    departments: list[str] | None
    digest: Digest | None
    steering_report: bool
    digest_period: str | None = Field(description="The last digest period sent, e.g. `2026-W50` or `2026-12`.")
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ChannelAttemptRead(ReadModel):
    number: int
    attempted_at: datetime
    outcome: Literal["succeeded", "failed", "rejected", "refused", "timeout", "error"]
    response_status: int | None = Field(description="The chat service's HTTP status, or the relay's SMTP reply code.")
    response_body: str | None = Field(description="The first 64 KiB of the answer.")
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None


class ChannelDeliveryRead(ReadModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    kind: Literal["event", "digest", "test"]
    event_type: str | None
    subject: str = Field(description="The project key the news is about (the channel's id for a test).")
    recipient: str | None = Field(description="The email address; null for a chat room.")
    title: str = Field(description="The message's subject line, or its first line in a chat.")
    state: Literal["pending", "succeeded", "failed"]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[ChannelAttemptRead]


class DigestSent(ReadModel):
    """What `:digest` put in the channel's queue: one message per recipient with something to report."""

    channel_id: uuid.UUID
    deliveries: list[ChannelDeliveryRead]
    recipients_with_nothing: int = Field(description="Recipients left out: nothing to report to them.")


class TestSent(ReadModel):
    """What `:test` put in the channel's queue: one message to the room, or one per address."""

    channel_id: uuid.UUID
    deliveries: list[ChannelDeliveryRead]
