import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.core.schemas import CallerOnly, ReadModel, WriteModel


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
