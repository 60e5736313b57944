import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from app.attestations.schemas import AnsweredStatus
from app.core.schemas import CallerOnly, ReadModel, Slug, WriteModel
from app.engine.scoring import Level, Source, Status
from app.engine.stages import Stage
from app.engine.stall import Pattern, Risk
from app.evidence.schemas import EvidenceIds
from app.rubrics.schemas import MAX_VERSION, CriterionKey


class SignalRead(ReadModel):
    dimension: str = Field(description="scope, success_metric, ownership, infrastructure or inactivity.")
    pattern: Pattern = Field(description="Which way it points: the playbook's successful or stalled teams.")
    reason: str


class StallRead(ReadModel):
    risk: Risk = Field(
        description="`high` with two or more stalled signals; `medium` with one, or three or more unknown; "
        "`low` otherwise (and for retired projects)."
    )
    signals: list[SignalRead]


class AnswerSpec(WriteModel):
    criterion: CriterionKey
    status: AnsweredStatus
    evidence_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s]+$")
    evidence_ids: EvidenceIds = []
    note: str | None = Field(default=None, max_length=2000)
    attested_by: CallerOnly


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


class CriterionAttestationRead(ReadModel):
    status: AnsweredStatus
    evidence_url: str | None
    evidence_ids: list[uuid.UUID] = Field(default_factory=list, description="The evidence it cites.")
    note: str | None
    attested_by: str | None
    attested_at: datetime | None
    expires_at: datetime | None


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
    attestation: CriterionAttestationRead | None = Field(
        default=None, description="The attestation that decided the status, when one did."
    )


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


class ReadinessRead(ReadModel):
    """A project's current readiness: its governing rubric's latest version scored on its data as
    it is now."""

    project: str
    stage: Stage
    rubric: str
    rubric_version: int
    computed_at: datetime = Field(
        description="When this result was computed; it stays current until data or time change it."
    )
    changes_at: datetime | None = Field(
        description="The earliest moment the result could change with time alone (a fact ageing out, an "
        "attestation or exemption expiring); null when nothing would."
    )
    score: float = Field(description="0–100, by the rubric's aggregation.")
    level: Level
    weakest_section: str | None
    gate: GateRead
    recommendation: Literal["go", "no_go"]
    sections: list[SectionScoreRead]
    criteria: list[CriterionResultRead]
    stall: StallRead = Field(description="The playbook's stall diagnosis, as of now.")


class HistoryBlockerRead(ReadModel):
    criterion: str
    status: Status


class HistoryStateRead(ReadModel):
    score: float
    level: Level
    gate_passed: bool
    blockers: list[HistoryBlockerRead]


class CauseRead(ReadModel):
    kind: str = Field(description="fact, measurement, kpi, project, stage, attestation, exemption, rubric, time, ...")
    name: str = Field(description="What of that kind: `ops.rollback_tested_at`, `batch`, `ai-production-readiness v2`.")


class ReadinessChangeRead(ReadModel):
    changed_at: datetime
    rubric: str
    rubric_version: int
    score: float
    level: Level
    gate_passed: bool
    blockers: list[HistoryBlockerRead]
    previous: HistoryStateRead | None = Field(description="Null for the project's first readiness.")
    cause: list[CauseRead] = Field(description="The distinct writes (or the passing of time) that caused the change.")
    summary: str = Field(description="The cause in words: `fact ops.rollback_tested_at`, `time: ...`.")


# What the `readiness.changed` event carries.


class Cause(BaseModel):
    kind: str = Field(examples=["fact"])
    name: str = Field(examples=["ops.rollback_tested_at"])


class ReadinessState(BaseModel):
    score: float
    level: str
    gate_passed: bool
    blockers: list[str] = Field(description="The keys of the criteria that block the go-live gate.")


class ReadinessChanged(BaseModel):
    """A project's score, level, gate or blockers changed; `before` is null for its first readiness."""

    project: str
    rubric: str
    rubric_version: int
    before: ReadinessState | None
    after: ReadinessState
    cause: list[Cause]
    summary: str = Field(description="The cause in a sentence.", examples=["fact security.review_completed"])


# What `POST /rubrics/{key}/versions:preview` answers.


class LevelCounts(ReadModel):
    not_ready: int = 0
    pilot_ready: int = 0
    production_ready: int = 0
    scale_ready: int = 0


class PreviewStanding(ReadModel):
    score: float
    level: Level
    gate_passed: bool


class PreviewChange(ReadModel):
    project: str = Field(description="The project's key.")
    name: str
    department: str | None
    before: PreviewStanding
    after: PreviewStanding


class RubricPreview(ReadModel):
    rubric: str
    from_version: int = Field(description="The latest version: what `before` is scored against.")
    to_version: int = Field(description="The number publishing the posted version would give it.")
    evaluated_at: datetime = Field(description="The moment both sides are scored at.")
    projects: int = Field(description="Projects the rubric governs.")
    before: LevelCounts = Field(description="Projects per level against the latest version, scored now.")
    after: LevelCounts = Field(description="Projects per level against the posted version, scored now.")
    changes: list[PreviewChange] = Field(description="Every project whose score, level or gate would change, by key.")
