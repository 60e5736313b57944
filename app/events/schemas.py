"""What events carry, and the webhook subscription resource."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator

from app.core.schemas import ReadModel, WriteModel
from app.decisions.schemas import DecisionDue, DecisionOverdue, DecisionRequested
from app.initiatives.schemas import InitiativeCompleted, InitiativeOverdue
from app.kpis.schemas import KpiStatusChanged
from app.portfolio.schemas import StallRiskChanged
from app.projects.schemas import RiskClassified
from app.readiness.schemas import ReadinessChanged

EVENT_TYPES = (
    "project.created",
    "project.updated",
    "project.deleted",
    "project.stage_changed",
    "readiness.changed",
    "evaluation.recorded",
    "decision.recorded",
    "decision.requested",
    "rubric.published",
    "kpi.status_changed",
    "project.stall_risk_changed",
    "decision.due",
    "decision.overdue",
    "project.risk_classified",
    "initiative.completed",
    "initiative.overdue",
)
PING = "webhook.ping"
# Kinds of event about the portfolio as a whole, not one project: the feed shows them to unscoped
# readers only, and a subscription filtered by department receives none.
PORTFOLIO_WIDE = ("initiative",)
TYPE_PATTERN = r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$"

EventTypePattern = Annotated[
    str,
    Field(
        pattern=TYPE_PATTERN,
        max_length=64,
        description="An event type, `kind.*` for every event of a kind, or `*` for all.",
        examples=["readiness.*"],
    ),
]


def type_matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def check_patterns(patterns: list[str]) -> list[str]:
    unknown = [p for p in patterns if not any(type_matches(p, t) for t in EVENT_TYPES)]
    if unknown:
        raise ValueError(f"no event type matches {', '.join(unknown)}; the types are {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(patterns))


class ProjectChanged(BaseModel):
    """`project.created`, `project.updated` and `project.deleted`: the project as the API shows it
    after the change (before it, for a deletion); for an update, also before it."""

    project: dict[str, Any]
    before: dict[str, Any] | None = None


class StageChanged(BaseModel):
    project: str
    from_stage: str = Field(alias="from")
    to_stage: str = Field(alias="to")
    reason: str | None


class EvaluationRecorded(BaseModel):
    project: str
    evaluation_id: uuid.UUID
    rubric: str = Field(examples=["ai-production-readiness/v1"])
    score: float
    level: str
    gate_passed: bool


class DecisionRecorded(BaseModel):
    project: str
    decision_id: uuid.UUID
    decision: str
    evaluation_id: uuid.UUID
    override_reason: str | None
    gate_blockers: list[str] | None


class RubricPublished(BaseModel):
    rubric: str
    version: int
    criteria: int


class Ping(BaseModel):
    webhook_id: uuid.UUID
    message: str


EVENT_DATA: dict[str, type[BaseModel]] = {
    "project.created": ProjectChanged,
    "project.updated": ProjectChanged,
    "project.deleted": ProjectChanged,
    "project.stage_changed": StageChanged,
    "readiness.changed": ReadinessChanged,
    "evaluation.recorded": EvaluationRecorded,
    "decision.recorded": DecisionRecorded,
    "decision.requested": DecisionRequested,
    "rubric.published": RubricPublished,
    "kpi.status_changed": KpiStatusChanged,
    "project.stall_risk_changed": StallRiskChanged,
    "decision.due": DecisionDue,
    "decision.overdue": DecisionOverdue,
    "project.risk_classified": RiskClassified,
    "initiative.completed": InitiativeCompleted,
    "initiative.overdue": InitiativeOverdue,
    PING: Ping,
}


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 document in structured mode (`application/cloudevents+json`)."""

    specversion: Literal["1.0"]
    id: uuid.UUID = Field(description="Also the `webhook-id` header: the same on every retry.")
    source: str = Field(examples=["urn:ai-readiness:production"])
    type: str
    subject: str = Field(
        description="The project key; the rubric key for `rubric.published`, the initiative key for `initiative.*`."
    )
    time: datetime
    datacontenttype: Literal["application/json"]
    data: dict[str, Any]


def _envelope_of(event_type: str, data: type[BaseModel]) -> type[CloudEvent]:
    name = "".join(part.title() for part in event_type.replace("_", ".").split(".")) + "Event"
    return create_model(
        name,
        __base__=CloudEvent,
        __doc__=f"The `{event_type}` event. {data.__doc__ or ''}".strip(),
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        data=(data, ...),
    )


EVENT_ENVELOPES: dict[str, type[CloudEvent]] = {
    event_type: _envelope_of(event_type, data) for event_type, data in EVENT_DATA.items()
}


class EventPage(BaseModel):
    items: list[CloudEvent]
    next_cursor: str = Field(description="Where to continue from; always present, also on the last page.")


class WebhookFields(WriteModel):
    url: str = Field(
        max_length=2000,
        description="Where events are POSTed: https, to a destination READINESS_WEBHOOK_ALLOWED_DESTINATIONS allows.",
        examples=["https://hooks.example.internal/readiness"],
    )
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventTypePattern] = Field(min_length=1, max_length=50)
    departments: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=100, description="Only events of projects of these departments; null for all."
    )
    enabled: bool = True

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, patterns: list[str]) -> list[str]:
        return check_patterns(patterns)


class WebhookCreate(WebhookFields):
    pass


class WebhookUpdate(WriteModel):
    """A merge patch: the fields given replace the subscription's."""

    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventTypePattern] | None = Field(default=None, min_length=1, max_length=50)
    departments: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(default=None, max_length=100)
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, patterns: list[str] | None) -> list[str] | None:
        return None if patterns is None else check_patterns(patterns)


class WebhookRead(ReadModel):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    departments: list[str] | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="While a rotated-out secret still signs, until when."
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="The signing secret (`whsec_` and base64), for the Standard Webhooks libraries. Shown once."
    )


class SecretRotation(WriteModel):
    overlap_seconds: int = Field(
        default=86_400, ge=0, le=7 * 86_400, description="How long the old secret keeps signing beside the new one."
    )


class AttemptRead(ReadModel):
    number: int
    attempted_at: datetime
    outcome: Literal["succeeded", "failed", "rejected", "refused", "timeout", "error"]
    response_status: int | None
    response_body: str | None = Field(description="The first 64 KiB of the receiver's answer.")
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None


class DeliveryRead(BaseModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    subject: str
    state: Literal["pending", "succeeded", "failed"]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptRead]
