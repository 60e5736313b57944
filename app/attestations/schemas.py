import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.core.schemas import CallerOnly, ReadModel, UTCTimestamp, WriteModel
from app.evidence.schemas import EvidenceIds
from app.rubrics.schemas import CriterionKey

AnsweredStatus = Literal["met", "partial", "not_met", "not_applicable"]


class AttestationPut(WriteModel):
    status: AnsweredStatus
    evidence_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s]+$")
    evidence_ids: EvidenceIds = []
    note: str | None = Field(default=None, max_length=2000)
    expires_at: UTCTimestamp | None = Field(default=None, description="After this moment it no longer counts.")
    attested_by: CallerOnly


class AttestationRead(ReadModel):
    criterion: str
    status: AnsweredStatus
    evidence_url: str | None
    evidence_ids: list[uuid.UUID] = Field(description="The evidence it cites.")
    note: str | None
    expires_at: datetime | None
    active: bool = Field(description="False once expired: it no longer counts.")
    attested_by: str = Field(description="Who attested: the caller, never a name from the body.")
    attested_at: datetime


class ExemptionCreate(WriteModel):
    criterion: CriterionKey
    justification: str = Field(min_length=1, max_length=2000)
    expires_at: UTCTimestamp


class ExemptionRead(ReadModel):
    id: uuid.UUID
    criterion: str
    justification: str
    expires_at: datetime
    active: bool
    created_by: str
    created_at: datetime
