import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictInt

from app.core.schemas import ReadModel, Slug, UTCTimestamp, WriteModel
from app.engine.scoring import Level, Source, Status
from app.engine.stages import Stage
from app.portfolio.schemas import StallRead
from app.rubrics.schemas import MAX_VERSION, CriterionKey

AnsweredStatus = Literal["met", "partial", "not_met", "not_applicable"]


class AnswerSpec(WriteModel):
    criterion: CriterionKey
    status: AnsweredStatus
    evidence_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s]+$")
    note: str | None = Field(default=None, max_length=2000)


class EvaluationCreate(WriteModel):
    rubric: Slug | None = Field(default=None, description="Default: the rubric that governs the project.")
    rubric_version: StrictInt | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="Default: the latest version."
    )
    evaluator: str | None = Field(default=None, max_length=200, description="Who or what asked for it.")
    answers: list[AnswerSpec] = Field(
        default_factory=list,
        max_length=500,
        description="Attested answers; they count where a criterion has no check, or its check has no data.",
    )


class CriterionResultRead(ReadModel):
    key: str
    section: str
    title: str
    gate: bool
    status: Status
    source: Source = Field(description="What decided the status: its check, an attested answer, nothing, ...")
    reason: str = Field(description="Why, naming what the check saw.")
    observed: dict[str, Any] = Field(description="The data the check read, as it was.")
    evidence_url: str | None


class SectionScoreRead(ReadModel):
    key: str
    title: str
    score: float | None = Field(description="0–100; null when nothing in the section counts yet.")


class BlockerRead(ReadModel):
    criterion: str
    title: str
    status: Status
    reason: str


class GateRead(ReadModel):
    passed: bool = Field(description="Every gate criterion is met or exempt.")
    blockers: list[BlockerRead]


class EvaluationRead(ReadModel):
    id: uuid.UUID | None = Field(description="Null for a preview, which is not stored.")
    project: str
    rubric: str
    rubric_version: int
    evaluator: str | None
    stage: Stage = Field(description="The project's stage when it was evaluated.")
    evaluated_at: datetime
    score: float = Field(description="0–100, by the rubric's aggregation.")
    level: Level
    weakest_section: str | None
    gate: GateRead
    recommendation: Literal["go", "no_go"]
    sections: list[SectionScoreRead]
    criteria: list[CriterionResultRead]


class ChangeRead(ReadModel):
    previous_evaluation_id: uuid.UUID
    previous_score: float
    score_delta: float
    previous_level: Level
    newly_met: list[str] = Field(description="Criteria met now that were not before.")
    no_longer_met: list[str] = Field(description="Criteria met before that are not now.")


class ReadinessRead(ReadModel):
    project: str
    rubric: str
    stage: Stage
    latest: EvaluationRead | None = Field(description="The latest evaluation against the governing rubric.")
    change: ChangeRead | None = Field(description="Since the evaluation before it.")
    stall: StallRead = Field(description="The playbook's stall diagnosis, as of now.")


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


class DecisionCreate(WriteModel):
    evaluation_id: uuid.UUID
    decision: Literal["go", "no_go"]
    decided_by: str = Field(min_length=1, max_length=200)
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
    decided_by: str
    rationale: str | None
    override_reason: str | None
    recorded_by: str
    decided_at: datetime
