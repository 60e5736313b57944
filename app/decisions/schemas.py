import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from app.core.schemas import CallerOnly, ReadModel, WriteModel
from app.engine.scoring import Level
from app.engine.stages import Stage
from app.evidence.schemas import EvidenceIds


class DecisionCreate(WriteModel):
    evaluation_id: uuid.UUID
    decision: Literal["go", "no_go"]
    on_behalf_of: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description='For whom the caller decides, e.g. "Steering committee"; the decider is the caller.',
    )
    decided_by: CallerOnly
    rationale: str | None = Field(default=None, max_length=4000)
    override_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Admins only: why to go although the evaluation's gate did not pass. Recorded.",
    )
    evidence_ids: EvidenceIds = []


class DecisionRead(ReadModel):
    id: uuid.UUID
    evaluation_id: uuid.UUID
    decision: Literal["go", "no_go"]
    decided_by: str = Field(description="Who decided: the authenticated caller.")
    on_behalf_of: str | None
    rationale: str | None
    override_reason: str | None
    recorded_by: str
    decided_at: datetime
    evidence_ids: list[uuid.UUID] = Field(description="The evidence it cites.")

    @field_validator("evidence_ids", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


RequestStatus = Literal["open", "closed", "withdrawn"]


class DecisionRequestCreate(WriteModel):
    note: str | None = Field(default=None, max_length=2000, description="What the committee should look at.")
    requested_by: CallerOnly


class DecisionRequestRead(ReadModel):
    id: uuid.UUID
    project: str
    status: RequestStatus = Field(description="`open` until a decision answers it (`closed`) or it is `withdrawn`.")
    note: str | None
    requested_by: str = Field(description="Who asked: the authenticated caller.")
    requested_at: datetime
    closed_at: datetime | None
    decision_id: uuid.UUID | None = Field(description="The decision that answered it.")
    withdrawn_by: str | None


class QueuedReadiness(ReadModel):
    score: float | None
    level: Level | None
    gate_passed: bool | None
    blockers: list[str] = Field(description="The keys of the gate criteria that block go-live now.")


class QueuedRequest(DecisionRequestRead):
    """A request in the approvers' queue, with where its project stands now."""

    project_name: str
    department: str | None
    stage: Stage
    readiness: QueuedReadiness


class DecisionRequested(BaseModel):
    """Somebody asked the steering committee for a go/no-go decision on a project."""

    project: str
    request_id: uuid.UUID
    note: str | None
    requested_by: str


# What the reminders tell.


class DecisionDue(BaseModel):
    """A project's planned go/no-go decision is seven days away or nearer (told at once when the
    date is set inside that window), and none has been recorded since."""

    project: str
    decision_date: date
    days_left: int = Field(description="Whole days from today (in READINESS_TIMEZONE) to the date.")


class DecisionOverdue(BaseModel):
    """A project's planned go/no-go date has passed (from 00:00 the day after, in
    READINESS_TIMEZONE) and no decision was recorded since it was due."""

    project: str
    decision_date: date
    last_decision_at: datetime | None = Field(description="The project's latest decision before, if any.")
