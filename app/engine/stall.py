"""Stall diagnosis: the playbook's table of successful against stalled teams, read off a project.

| Dimension      | Successful teams               | Stalled teams                    |
|----------------|--------------------------------|----------------------------------|
| Scope          | Narrow, high-value workflow    | Broad, unclear objectives        |
| Success metric | Business KPI (cost, time, ...) | Model accuracy score             |
| Ownership      | Business + engineering joint   | IT-only or vendor-led            |
| Infrastructure | Production-ready from day one  | Separate POC environment         |

plus inactivity: longer in the current stage than its limit, no KPI measurement in 30 days, no
evaluation in 90 days; and focus, from the playbook's section 5 ("resist the temptation to jump to
entirely new use cases before the first one is stable"): a project that starts (idea or poc) in a
department whose deployment is not yet stable, unless it replicates a validated use case or expands
a stable one. Each signal points `successful`, `stalled` or `unknown`, with the reason; focus is
there only when it points `stalled`.

Risk: `high` with two or more stalled signals; `medium` with one, or with three or more unknown;
`low` otherwise. A retired project is not stalling: its risk is `low`.
"""

from collections.abc import Mapping
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
# Focus: what makes a deployment stable (the criteria of the playbook's "Stabilize the first
# production deployment and document runbooks" and "Train operations and support teams", and 30
# days in production), and the stages in which a project starts something new.
STABLE_AFTER_DAYS = 30
FOCUS_CRITERIA = {
    "scaling.runbooks_documented": "runbooks not documented",
    "scaling.support_trained": "operations and support not trained",
}
UNMET_STATUSES = frozenset({"partial", "not_met"})
STARTING = frozenset({Stage.idea, Stage.poc})
FOCUS_ADVICE = "resist the temptation to jump to entirely new use cases before the first one is stable"


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
class Deployment:
    """A project in production or scaling as the focus signal reads it: since when it has been
    there without leaving, and which of `FOCUS_CRITERIA` its current readiness leaves unmet."""

    key: str
    since: datetime
    unmet: tuple[str, ...] = ()

    @property
    def stable_from(self) -> datetime | None:
        """When it becomes stable with time alone; None while a criterion is unmet."""
        return None if self.unmet else self.since + timedelta(days=STABLE_AFTER_DAYS)

    def stable(self, now: datetime) -> bool:
        return not self.unmet and now >= self.since + timedelta(days=STABLE_AFTER_DAYS)


def unmet_criteria(statuses: Mapping[str, str] | None) -> tuple[str, ...]:
    """Which of `FOCUS_CRITERIA` a readiness result's statuses by criterion leave partial or not met."""
    if not statuses:
        return ()
    return tuple(key for key in FOCUS_CRITERIA if statuses.get(key) in UNMET_STATUSES)


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
    # For focus: the other deployments of the project's department; whether it replicates a
    # project in production or scaling; the deployment it is adjacent to, if that one is deployed.
    department_deployments: tuple[Deployment, ...] = ()
    replicates: bool = False
    expands: Deployment | None = None


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


def _unstable(project: ProjectProfile, now: datetime) -> list[Deployment]:
    """The department's deployments that are not stable yet, if focus applies to the project."""
    if project.stage not in STARTING or project.replicates:
        return []
    if project.expands is not None and project.expands.stable(now):
        return []
    return [deployment for deployment in project.department_deployments if not deployment.stable(now)]


def _not_stable_yet(deployment: Deployment) -> str:
    settled = _day(deployment.since + timedelta(days=STABLE_AFTER_DAYS))
    unmet = "".join(f", {FOCUS_CRITERIA[key]}" for key in deployment.unmet)
    since = _day(deployment.since)
    return f"{deployment.key} in production since {since} ({STABLE_AFTER_DAYS} days on {settled}){unmet}"


def unstable_deployments(project: ProjectProfile, now: datetime) -> tuple[str, ...]:
    """The keys of the deployments the focus signal names; empty when it is not there."""
    return tuple(deployment.key for deployment in _unstable(project, now))


def focus(project: ProjectProfile, now: datetime) -> Signal | None:
    """A project starting (idea or poc) while its department's deployment is not stable: in
    production under 30 days, or its runbooks or support training unmet. Not for a replica of a
    project in production, nor for a project adjacent to a stable deployment."""
    unstable = _unstable(project, now)
    if not unstable:
        return None
    named = "; ".join(_not_stable_yet(deployment) for deployment in unstable)
    return Signal("focus", Pattern.stalled, f"{FOCUS_ADVICE}: {named}")


def focus_ends(project: ProjectProfile, now: datetime) -> datetime | None:
    """When the focus signal ends with time alone; None when it is not there, or when only a write
    (or a deployment's readiness meeting its criteria) can end it."""
    unstable = _unstable(project, now)
    if not unstable:
        return None
    moments = []
    if project.expands is not None and project.expands.stable_from is not None:
        moments.append(project.expands.stable_from)
    settled = [deployment.stable_from for deployment in unstable]
    if all(moment is not None for moment in settled):
        moments.append(max(moment for moment in settled if moment is not None))
    return min(moments) if moments else None


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


def stored_signals(project: ProjectProfile, now: datetime) -> tuple[Signal, ...]:
    """What a status row keeps: the static signals, and focus as it stands at `now` (time alone
    ends it at `focus_ends`)."""
    found = focus(project, now)
    return (*static_signals(project), found) if found is not None else static_signals(project)


def diagnose(project: ProjectProfile, now: datetime, limits: dict[Stage, int] | None = None) -> Diagnosis:
    signals = (*stored_signals(project, now), inactivity(project, now, limits or DEFAULT_STAGE_LIMITS_DAYS))
    return Diagnosis(Risk.low if project.stage == Stage.retired else risk(signals), signals)


def risk_when(static: tuple[Signal, ...], *, inactive: bool, retired: bool) -> Risk:
    """The risk with the static signals and inactivity one way or the other: what a stored status
    row needs, so that a read can settle inactivity with a timestamp comparison."""
    if retired:
        return Risk.low
    pattern = Pattern.stalled if inactive else Pattern.successful
    return risk((*static, Signal("inactivity", pattern, "")))
