from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer, WithJsonSchema

from app.core.schemas import SIGNED_MONEY_JSON_SCHEMA, ReadModel
from app.engine.scoring import Level
from app.engine.stages import Stage
from app.engine.stall import Pattern, Risk

Money = Annotated[
    Decimal,
    PlainSerializer(lambda v: float(round(v, 2)), return_type=float, when_used="json"),
    WithJsonSchema(SIGNED_MONEY_JSON_SCHEMA),
]


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


class PortfolioRow(ReadModel):
    key: str
    name: str
    department: str | None
    region: str | None
    business_owner_email: str | None = Field(description="Lower-cased, as the owner filter compares it.")
    technical_owner_email: str | None = Field(description="Lower-cased, as the owner filter compares it.")
    stage: Stage
    days_in_stage: int
    score: float | None = Field(description="The current readiness score against the governing rubric.")
    level: Level | None
    gate_passed: bool | None
    evaluated_at: datetime | None = Field(description="When the latest evaluation (a snapshot) was recorded.")
    risk: Risk
    realized_monthly_benefit: Money | None
    projected_monthly_benefit: Money | None
    currency: str | None


class StalledRow(ReadModel):
    key: str
    name: str
    department: str | None
    stage: Stage
    days_in_stage: int
    risk: Risk
    signals: list[SignalRead]


class ConversionRead(ReadModel):
    entered_poc: int = Field(description="Projects that ever entered poc.")
    reached_production: int = Field(description="Projects that ever reached production.")
    rate: float | None = Field(description="reached_production ÷ entered_poc.")


class BenefitRead(ReadModel):
    realized: dict[str, float] = Field(description="Monthly benefit from the latest measurements, by currency.")
    projected: dict[str, float] = Field(description="Monthly benefit at the targets, by currency.")


class SummaryStats(ReadModel):
    projects: int
    by_stage: dict[str, int]
    mean_score: float | None
    median_score: float | None
    go_live_ready: int = Field(description="Projects whose current go-live gate passes.")
    stalled: int = Field(description="Projects at medium or high stall risk (retired ones excluded).")
    poc_to_production: ConversionRead
    median_days_in_stage: dict[str, float | None] = Field(
        description="Median length of the completed stays in each stage, from the transition history."
    )
    monthly_benefit: BenefitRead


class SummaryGroup(SummaryStats):
    group: str | None


class SummaryRead(ReadModel):
    group_by: str | None
    groups: list[SummaryGroup]
    overall: SummaryStats
