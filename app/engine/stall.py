"""Stall diagnosis: the playbook's table of successful against stalled teams, read off a project.

| Dimension      | Successful teams               | Stalled teams                    |
|----------------|--------------------------------|----------------------------------|
| Scope          | Narrow, high-value workflow    | Broad, unclear objectives        |
| Success metric | Business KPI (cost, time, ...) | Model accuracy score             |
| Ownership      | Business + engineering joint   | IT-only or vendor-led            |
| Infrastructure | Production-ready from day one  | Separate POC environment         |

plus inactivity: longer in the current stage than its limit, no KPI measurement in 30 days, no
evaluation in 90 days. Each signal points `successful`, `stalled` or `unknown`, with the reason.

Risk: `high` with two or more stalled signals; `medium` with one, or with three or more unknown;
`low` otherwise. A retired project is not stalling: its risk is `low`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.engine.deployment import POC_ONLY_TARGETS, PRIVATE_TARGETS
from app.engine.kpi import BUSINESS_CATEGORIES, KpiCategory
from app.engine.stages import Stage

BUSINESS_ROLES = frozenset({"business"})
ENGINEERING_ROLES = frozenset({"engineering", "data_science"})
MEASUREMENT_QUIET_DAYS = 30
EVALUATION_QUIET_DAYS = 90
# How long a project may stay in a stage before it counts as stalling there; production and
# scaling have no limit. Operators override these (READINESS_STAGE_LIMITS_DAYS).
DEFAULT_STAGE_LIMITS_DAYS = {Stage.idea: 60, Stage.poc: 90, Stage.pilot: 120}
# Measurements and evaluations are expected once a project is past the idea.
EXPECTS_ACTIVITY = frozenset({Stage.poc, Stage.pilot, Stage.production, Stage.scaling})


class Pattern(StrEnum):
    successful = "successful"
    stalled = "stalled"
    unknown = "unknown"


class Risk(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


RISK_ORDER = (Risk.low, Risk.medium, Risk.high)


@dataclass(frozen=True)
class Signal:
    dimension: str
    pattern: Pattern
    reason: str


@dataclass(frozen=True)
class ProjectProfile:
    """What the diagnosis reads about a project."""

    stage: Stage
    stage_entered_at: datetime
    workflow: str | None
    has_business_owner: bool
    has_technical_owner: bool
    vendor_led: bool
    stakeholder_roles: frozenset[str]
    deployment_target: str | None
    same_runtime_as_production: bool | None
    kpi_categories: tuple[KpiCategory, ...]
    last_measured_at: datetime | None
    last_evaluated_at: datetime | None


@dataclass(frozen=True)
class Diagnosis:
    risk: Risk
    signals: tuple[Signal, ...]


def scope(project: ProjectProfile) -> Signal:
    if project.workflow and project.workflow.strip():
        return Signal("scope", Pattern.successful, f"a narrow workflow is named: {project.workflow.strip()!r}")
    return Signal("scope", Pattern.stalled, "no workflow named: broad, unclear objectives")


def success_metric(project: ProjectProfile) -> Signal:
    business = sorted({c.value for c in project.kpi_categories if c in BUSINESS_CATEGORIES})
    if business:
        return Signal("success_metric", Pattern.successful, f"measured by business KPIs ({', '.join(business)})")
    if KpiCategory.model_accuracy in project.kpi_categories:
        return Signal("success_metric", Pattern.stalled, "measured by model accuracy alone, no business KPI")
    if project.kpi_categories:
        others = ", ".join(sorted({c.value for c in project.kpi_categories}))
        return Signal("success_metric", Pattern.stalled, f"no business KPI, only {others}")
    return Signal("success_metric", Pattern.stalled, "no KPI at all")


def ownership(project: ProjectProfile) -> Signal:
    if project.vendor_led:
        return Signal("ownership", Pattern.stalled, "vendor-led")
    business = project.has_business_owner or bool(project.stakeholder_roles & BUSINESS_ROLES)
    engineering = project.has_technical_owner or bool(project.stakeholder_roles & ENGINEERING_ROLES)
    if business and engineering:
        return Signal("ownership", Pattern.successful, "business and engineering own it jointly")
    if not business:
        return Signal("ownership", Pattern.stalled, "IT-only: no business owner or business stakeholder")
    return Signal("ownership", Pattern.unknown, "a business owner, but no technical owner or engineering stakeholder")


def infrastructure(project: ProjectProfile) -> Signal:
    target = project.deployment_target
    if target in POC_ONLY_TARGETS:
        return Signal(
            "infrastructure", Pattern.stalled, f"built on a {target.replace('_', ' ')}, a separate POC environment"
        )
    if project.same_runtime_as_production is False:
        return Signal("infrastructure", Pattern.stalled, "a separate POC environment, not the production runtime")
    if target in PRIVATE_TARGETS and project.same_runtime_as_production:
        return Signal("infrastructure", Pattern.successful, f"production runtime from day one, inside the {target}")
    if target is None or project.same_runtime_as_production is None:
        return Signal("infrastructure", Pattern.unknown, "deployment target or runtime not recorded")
    return Signal(
        "infrastructure", Pattern.unknown, f"production runtime, but on {target}, outside the private perimeter"
    )


def _day(moment: datetime) -> str:
    """Reasons carry dates, not ages, so that they change only when what they say does."""
    return moment.date().isoformat()


def overdue_stage(project: ProjectProfile, now: datetime, limits: dict[Stage, int]) -> str | None:
    limit = limits.get(project.stage)
    if limit is not None and now - project.stage_entered_at > timedelta(days=limit):
        return f"in {project.stage.value} since {_day(project.stage_entered_at)}, over its {limit}-day limit"
    return None


def quiet_from(project: ProjectProfile) -> datetime | None:
    """When the project becomes inactive for want of measurements or evaluations, if nothing happens."""
    return quiet_from_times(
        project.stage, project.stage_entered_at, project.last_measured_at, project.last_evaluated_at
    )


def quiet_from_times(
    stage: Stage, stage_entered_at: datetime, last_measured_at: datetime | None, last_evaluated_at: datetime | None
) -> datetime | None:
    if stage not in EXPECTS_ACTIVITY:
        return None
    measured = last_measured_at or stage_entered_at
    evaluated = last_evaluated_at or stage_entered_at
    return min(measured + timedelta(days=MEASUREMENT_QUIET_DAYS), evaluated + timedelta(days=EVALUATION_QUIET_DAYS))


def inactivity(project: ProjectProfile, now: datetime, limits: dict[Stage, int]) -> Signal:
    reasons = []
    overdue = overdue_stage(project, now, limits)
    if overdue:
        reasons.append(overdue)
    if project.stage in EXPECTS_ACTIVITY:
        if project.last_measured_at is None:
            if now - project.stage_entered_at > timedelta(days=MEASUREMENT_QUIET_DAYS):
                reasons.append("no KPI measurement yet")
        elif now - project.last_measured_at > timedelta(days=MEASUREMENT_QUIET_DAYS):
            reasons.append(f"no KPI measurement since {_day(project.last_measured_at)}")
        if project.last_evaluated_at is None:
            if now - project.stage_entered_at > timedelta(days=EVALUATION_QUIET_DAYS):
                reasons.append("never evaluated")
        elif now - project.last_evaluated_at > timedelta(days=EVALUATION_QUIET_DAYS):
            reasons.append(f"no evaluation since {_day(project.last_evaluated_at)}")
    if reasons:
        return Signal("inactivity", Pattern.stalled, "; ".join(reasons))
    return Signal(
        "inactivity",
        Pattern.successful,
        f"active: in {project.stage.value} since {_day(project.stage_entered_at)}",
    )


def risk(signals: tuple[Signal, ...] | list[Signal]) -> Risk:
    stalled = sum(signal.pattern == Pattern.stalled for signal in signals)
    unknown = sum(signal.pattern == Pattern.unknown for signal in signals)
    if stalled >= 2:
        return Risk.high
    if stalled == 1 or unknown >= 3:
        return Risk.medium
    return Risk.low


def static_signals(project: ProjectProfile) -> tuple[Signal, ...]:
    """The signals that change only when the project's data changes, not with time."""
    return scope(project), success_metric(project), ownership(project), infrastructure(project)


def diagnose(project: ProjectProfile, now: datetime, limits: dict[Stage, int] | None = None) -> Diagnosis:
    signals = (*static_signals(project), inactivity(project, now, limits or DEFAULT_STAGE_LIMITS_DAYS))
    return Diagnosis(Risk.low if project.stage == Stage.retired else risk(signals), signals)


def risk_when(static: tuple[Signal, ...], *, inactive: bool, retired: bool) -> Risk:
    """The risk with the static signals and inactivity one way or the other: what a stored status
    row needs, so that a read can settle inactivity with a timestamp comparison."""
    if retired:
        return Risk.low
    pattern = Pattern.stalled if inactive else Pattern.successful
    return risk((*static, Signal("inactivity", pattern, "")))
