"""The steering committee's report for a period."""

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ReportModel(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)


class Period(ReportModel):
    from_date: date = Field(alias="from", description="The first day, in `timezone`.")
    to_date: date = Field(alias="to", description="The last day, in `timezone`, included.")
    timezone: str = Field(description="READINESS_TIMEZONE: where the days begin and end.")
    starts_at: datetime
    ends_at: datetime = Field(description="00:00 the day after `to`; figures stop at `as_of` when that is earlier.")
    as_of: datetime = Field(description="The period's end, or now while the period is still running.")


class StageMovement(ReportModel):
    stage: str
    at_start: int = Field(description="Projects in this stage when the period began.")
    at_end: int = Field(description="Projects in this stage at its end.")
    entered: int = Field(description="Moves into this stage during the period (stage transitions).")


class Funnel(ReportModel):
    stages: list[StageMovement]
    new_projects: int = Field(description="Projects recorded during the period.")
    entered_production: int


class DecisionTaken(ReportModel):
    id: uuid.UUID
    project: str
    name: str
    decision: str = Field(description="go or no_go")
    decided_at: datetime
    decided_by: str
    on_behalf_of: str | None
    rationale: str | None
    override_reason: str | None


class DecisionWaiting(ReportModel):
    project: str
    name: str
    decision_date: date
    overdue: bool = Field(description="The date passed without a decision.")


class ReadinessMove(ReportModel):
    project: str
    name: str
    score_before: float
    level_before: str
    score_after: float
    level_after: str


class StalledProject(ReportModel):
    project: str
    name: str
    stage: str
    reasons: list[str]


class Benefit(ReportModel):
    currency: str
    realized_monthly: float = Field(description="From the latest measurements at the period's end.")
    projected_monthly: float = Field(description="From the KPIs' targets.")


class TopBlocker(ReportModel):
    criterion: str
    title: str
    projects: int = Field(description="Live projects whose go-live gate it blocked at the period's end.")


class SteeringReport(ReportModel):
    """For the period: movement through the funnel, decisions taken (with rationale and by whom),
    decisions due and waiting, readiness up and down, stalled projects and why, realized against
    projected benefit per currency, and the top blockers. Computed from the service's history
    (stage transitions, readiness history, decisions, measurements), so that it is right for past
    periods too; `approximations` says where it could not be."""

    period: Period
    generated_at: datetime
    projects: int = Field(description="Projects in the report (those existing at the period's end).")
    funnel: Funnel
    decisions: list[DecisionTaken]
    decisions_waiting: list[DecisionWaiting]
    readiness_up: list[ReadinessMove]
    readiness_down: list[ReadinessMove]
    stalled: list[StalledProject]
    benefit: list[Benefit]
    top_blockers: list[TopBlocker]
    approximations: list[str]
