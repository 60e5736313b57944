import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

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
