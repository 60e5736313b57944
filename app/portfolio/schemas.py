from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from app.core.schemas import SIGNED_MONEY_JSON_SCHEMA, ReadModel
from app.engine.scoring import Level
from app.engine.stages import Stage
from app.engine.stall import Risk
from app.readiness.schemas import SignalRead

Money = Annotated[
    Decimal,
    PlainSerializer(lambda v: float(round(v, 2)), return_type=float, when_used="json"),
    WithJsonSchema(SIGNED_MONEY_JSON_SCHEMA),
]


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


class TrendPoint(ReadModel):
    start: datetime = Field(description="The bucket's first moment: a Monday, or the first of a month, 00:00 UTC.")
    end: datetime = Field(description="The next bucket's start: the bucket runs up to it, not including it.")
    as_of: datetime = Field(description="The moment the figures describe: `end`, or now for the current bucket.")
    projects: int = Field(description="Projects that existed at `as_of`.")
    by_stage: dict[str, int] = Field(description="Projects in each stage at `as_of`, from the stage transitions.")
    entered_production: int = Field(description="Moves into production during the bucket.")
    mean_score: float | None = Field(
        description="Mean of each scored project's latest score at `as_of`, from the readiness history."
    )
    go_live_ready: int = Field(description="Projects whose latest readiness at `as_of` passed the go-live gate.")
    stalled: int = Field(
        description="Projects over their stage's time limit at `as_of`: an approximation, see `approximations`."
    )
    realized_monthly_benefit: dict[str, float] = Field(
        description="Monthly benefit by currency from each KPI's latest measurement at `as_of`."
    )


class TrendGroup(ReadModel):
    group: str | None = Field(description="The department or region (current), or the stage at the time.")
    points: list[TrendPoint]


class TrendRead(ReadModel):
    interval: Literal["week", "month"]
    group_by: str | None
    approximations: list[str] = Field(
        description="How figures that need history the service does not keep were approximated."
    )
    overall: list[TrendPoint] = Field(description="One point per bucket, oldest first; the last may be partial.")
    groups: list[TrendGroup] = Field(description="The same per group, when `group_by` is given.")


# What the `project.stall_risk_changed` event carries.


class StallRiskChanged(BaseModel):
    """A project's stall risk (low, medium, high) changed, with the signals behind it now."""

    project: str
    before: str
    after: str
    signals: list[dict[str, Any]]
    cause: str = Field(description="`write` or `time`.")


# The scaling view: the playbook's section 5 across the portfolio.


class Replica(ReadModel):
    key: str
    name: str
    department: str | None
    region: str | None
    stage: Stage
    platform: str | None
    same_platform: bool = Field(description="It runs on its origin's platform (both have one, the same).")


class Expansion(ReadModel):
    key: str
    name: str
    department: str | None
    region: str | None
    stage: Stage
    domain: str | None


class UseCase(ReadModel):
    """A validated use case (in production or scaling), with its replicas and adjacent expansions."""

    key: str
    name: str
    department: str | None
    region: str | None
    stage: Stage
    platform: str | None
    domain: str | None
    replicas: list[Replica] = Field(description="Projects whose `replica_of` names it, by key.")
    adjacent: list[Expansion] = Field(description="Projects of its domain whose `adjacent_to` names it, by key.")


class Place(ReadModel):
    """A department and region where a use case or one of its replicas runs: a column of the grid."""

    department: str | None
    region: str | None


class PlatformUse(ReadModel):
    platform: str
    name: str
    projects: int = Field(description="Projects on the platform.")
    in_production: int = Field(description="Of those, in production or scaling.")


class FocusWarning(ReadModel):
    key: str
    name: str
    department: str | None
    stage: Stage
    unstable: list[str] = Field(description="The deployments of its department that are not stable yet.")
    reason: str = Field(description="The focus signal's reason, in the playbook's words.")


class ScalingRead(ReadModel):
    use_cases: list[UseCase] = Field(description="A page of the validated use cases, by key.")
    next_cursor: str | None = Field(description="The next page of use cases; the other figures do not page.")
    places: list[Place] = Field(
        description="Every department and region where the page's use cases and their replicas run: the grid's "
        "columns, in order."
    )
    platforms: list[PlatformUse] = Field(description="Projects per platform, by platform key.")
    focus: list[FocusWarning] = Field(
        description="Projects starting something new while their department's deployment is not stable, by "
        "department and key: the first 500."
    )
    focus_total: int = Field(description="How many projects carry the focus signal.")
