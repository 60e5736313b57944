"""Running a check over a project's snapshot: what it finds, why, and when time alone would change it.

Every answer carries a reason that names what the check saw, and the values it saw. Reasons state
absolute dates ("rollback tested 2026-06-01, limit 180 days"), never ages, so that an answer
changes only when what the check saw does. What would change it with time alone (a fact ageing
past its limit, a stay in a stage reaching its length) is returned as a deadline.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.engine.checks import (
    FUTURE_TOLERANCE,
    AdjacentInDomainCheck,
    AllOfCheck,
    AnyOfCheck,
    Check,
    CheckResult,
    CheckStatus,
    Deadline,
    FactCheck,
    FactCondition,
    FactObservation,
    FactsCheck,
    FieldCheck,
    KpiCoverageCheck,
    KpiExistsCheck,
    KpiSnapshot,
    ProjectSnapshot,
    RelatedProject,
    ReplicasOnPlatformCheck,
    RoiCheck,
    StageDurationCheck,
    StakeholderRolesCheck,
)
from app.engine.kpi import KpiCategory
from app.engine.roi import KpiValue, compute_roi
from app.engine.stages import Stage


def run_check(check: Check, project: ProjectSnapshot, now: datetime) -> CheckResult:
    match check:
        case FieldCheck():
            return _field(check, project)
        case StakeholderRolesCheck():
            return _stakeholder_roles(check, project)
        case FactCheck():
            return _fact(check, project, now)
        case FactsCheck():
            return _facts(check, project, now)
        case KpiExistsCheck():
            return _kpi_exists(check, project)
        case KpiCoverageCheck():
            return _kpi_coverage(check, project, now)
        case RoiCheck():
            return _roi(check, project)
        case StageDurationCheck():
            return _stage_duration(check, project, now)
        case ReplicasOnPlatformCheck():
            return _replicas_on_platform(project)
        case AdjacentInDomainCheck():
            return _adjacent_in_domain(project)
        case AllOfCheck():
            return _all_of(check, project, now)
        case AnyOfCheck():
            return _any_of(check, project, now)


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(str(v) for v in value.values() if v is not None)
    return str(value)


def _field(check: FieldCheck, project: ProjectSnapshot) -> CheckResult:
    value = project.fields.get(check.field)
    observed = {check.field: value}
    if value is None or value == "":
        status = CheckStatus.not_met if check.op == "present" else CheckStatus(check.when_missing)
        return CheckResult(status, f"{check.field} is not set", observed)
    seen = f"{check.field} is {_shown(value)}"
    match check.op:
        case "present":
            return CheckResult(CheckStatus.met, seen, observed)
        case "is_true":
            return CheckResult(CheckStatus.met if value is True else CheckStatus.not_met, seen, observed)
        case "in":
            if str(value) in check.values:
                return CheckResult(CheckStatus.met, f"{seen}, one of {', '.join(check.values)}", observed)
            return CheckResult(CheckStatus.not_met, f"{seen}, not one of {', '.join(check.values)}", observed)
        case "at_most":
            assert check.at_most is not None
            if value <= check.at_most:
                return CheckResult(CheckStatus.met, f"{seen}, at most {check.at_most:g}", observed)
            if check.partial_at_most is not None and value <= check.partial_at_most:
                return CheckResult(
                    CheckStatus.partial,
                    f"{seen}: more than {check.at_most:g}, at most {check.partial_at_most:g}",
                    observed,
                )
            return CheckResult(
                CheckStatus.not_met, f"{seen}, more than {check.partial_at_most or check.at_most:g}", observed
            )


def _stakeholder_roles(check: StakeholderRolesCheck, project: ProjectSnapshot) -> CheckResult:
    present = [role for role in check.roles if role in project.stakeholder_roles]
    missing = [role for role in check.roles if role not in project.stakeholder_roles]
    observed = {"roles": sorted(project.stakeholder_roles)}
    summary = f"{len(present)} of {len(check.roles)} roles ({', '.join(present) or 'none'})"
    if not missing:
        return CheckResult(CheckStatus.met, f"stakeholders include {summary}", observed)
    detail = f"stakeholders include {summary}; missing {', '.join(missing)}"
    status = CheckStatus.partial if len(present) >= check.partial_at_least else CheckStatus.not_met
    return CheckResult(status, detail, observed)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def later(moment: datetime, days: float) -> datetime:
    """`moment` plus `days`, or the last representable moment for a limit past it."""
    try:
        return moment + timedelta(days=days)
    except OverflowError:
        return datetime.max.replace(tzinfo=moment.tzinfo)


def _observation(
    project: ProjectSnapshot, name: str, max_age_days: int | None, now: datetime, deadlines: list[Deadline]
) -> FactObservation | None:
    """The fact, unless it is older than `max_age_days`; while it counts, when it stops counting."""
    observation = project.facts.get(name)
    if observation is None or max_age_days is None:
        return observation
    expires = later(observation.observed_at, max_age_days)
    if now > expires:
        return None
    deadlines.append(Deadline(expires, f"fact {name} older than {max_age_days} days"))
    return observation


def _satisfies(
    condition: FactCondition, observation: FactObservation, now: datetime, deadlines: list[Deadline]
) -> tuple[bool, str]:
    value = observation.value
    match condition.op:
        case "is_true":
            return value is True, f"{condition.fact} = {str(value).lower() if isinstance(value, bool) else value}"
        case "non_empty":
            empty = value is False or value == "" or value is None
            return not empty, f"{condition.fact} {'is empty' if empty else 'is set'}"
        case "at_least":
            assert condition.value is not None
            number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
            ok = number is not None and number >= condition.value
            return ok, f"{condition.fact} = {value} ({'≥' if ok else 'not ≥'} {condition.value:g})"
        case "within_days":
            assert condition.value is not None
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                return False, f"{condition.fact} = {value!r} is not a timestamp"
            if moment.tzinfo is None:
                return False, f"{condition.fact} = {value!r} has no offset"
            if moment > now + FUTURE_TOLERANCE:
                # Something that has not happened yet cannot have happened within N days.
                deadlines.append(Deadline(moment - FUTURE_TOLERANCE, f"fact {condition.fact} no longer in the future"))
                return False, f"{condition.fact} = {_day(moment)} is in the future"
            limit = later(moment, condition.value)
            ok = now <= limit
            if ok:
                deadlines.append(Deadline(limit, f"fact {condition.fact} older than {condition.value:g} days"))
            bound = "until" if ok else "expired"
            return ok, f"{condition.fact} = {_day(moment)} (limit {condition.value:g} days, {bound} {_day(limit)})"


def _fact(check: FactCheck, project: ProjectSnapshot, now: datetime) -> CheckResult:
    primary = FactCondition(check.fact, check.op, check.value)
    deadlines: list[Deadline] = []
    observation = _observation(project, check.fact, check.max_age_days, now, deadlines)
    observed: dict[str, Any] = {check.fact: observation.value if observation else None}
    if observation is None:
        return CheckResult(
            CheckStatus.no_data, f"no fact {check.fact} posted" + _age_note(check.max_age_days), observed
        )
    ok, seen = _satisfies(primary, observation, now, deadlines)
    if not ok:
        return CheckResult(CheckStatus.not_met, seen, observed, tuple(deadlines))
    shortfalls = []
    for condition in check.also:
        extra = _observation(project, condition.fact, check.max_age_days, now, deadlines)
        observed[condition.fact] = extra.value if extra else None
        extra_ok, extra_seen = (
            _satisfies(condition, extra, now, deadlines) if extra else (False, f"no fact {condition.fact}")
        )
        if not extra_ok:
            shortfalls.append(extra_seen)
    if shortfalls:
        return CheckResult(CheckStatus.partial, f"{seen}, but {'; '.join(shortfalls)}", observed, tuple(deadlines))
    return CheckResult(CheckStatus.met, seen, observed, tuple(deadlines))


def _age_note(max_age_days: int | None) -> str:
    return f" in the last {max_age_days} days" if max_age_days is not None else ""


def _facts(check: FactsCheck, project: ProjectSnapshot, now: datetime) -> CheckResult:
    seen: list[str] = []
    observed: dict[str, Any] = {}
    deadlines: list[Deadline] = []
    satisfied = present = 0
    for condition in check.conditions:
        observation = _observation(project, condition.fact, check.max_age_days, now, deadlines)
        observed[condition.fact] = observation.value if observation else None
        if observation is None:
            seen.append(f"no fact {condition.fact}")
            continue
        present += 1
        ok, description = _satisfies(condition, observation, now, deadlines)
        satisfied += ok
        seen.append(description)
    reason = "; ".join(seen) + _age_note(check.max_age_days)
    if present == 0:
        return CheckResult(CheckStatus.no_data, reason, observed, tuple(deadlines))
    if satisfied == len(check.conditions):
        return CheckResult(CheckStatus.met, reason, observed, tuple(deadlines))
    status = CheckStatus.partial if satisfied >= check.partial_at_least else CheckStatus.not_met
    return CheckResult(status, reason, observed, tuple(deadlines))


def _unmet_requirements(kpi: KpiSnapshot, require: tuple[str, ...]) -> list[str]:
    have = {
        "baseline": kpi.baseline is not None,
        "target": kpi.target is not None,
        "target_date": kpi.target_date is not None,
        "value_per_unit": kpi.value_per_unit is not None,
        "measurement": kpi.latest_measured_at is not None,
    }
    return [name for name in require if not have[name]]


def _categories(categories: tuple[KpiCategory, ...]) -> str:
    return "/".join(category.value for category in categories)


def _kpi_exists(check: KpiExistsCheck, project: ProjectSnapshot) -> CheckResult:
    candidates = [kpi for kpi in project.kpis if kpi.category in check.categories]
    observed = {"kpis": [kpi.key for kpi in candidates]}
    wanted = f"a {_categories(check.categories)} KPI" + (f" with {', '.join(check.require)}" if check.require else "")
    for kpi in candidates:
        if not _unmet_requirements(kpi, check.require):
            return CheckResult(CheckStatus.met, f"{wanted}: {kpi.key}", observed)
    if not candidates:
        others = ", ".join(f"{kpi.key} ({kpi.category.value})" for kpi in project.kpis) or "none"
        return CheckResult(CheckStatus.not_met, f"no {_categories(check.categories)} KPI; KPIs: {others}", observed)
    gaps = "; ".join(f"{kpi.key} lacks {', '.join(_unmet_requirements(kpi, check.require))}" for kpi in candidates)
    return CheckResult(CheckStatus.not_met, f"no {wanted[2:]}: {gaps}", observed)


def _kpi_coverage(check: KpiCoverageCheck, project: ProjectSnapshot, now: datetime) -> CheckResult:
    candidates = [kpi for kpi in project.kpis if kpi.category in check.categories]
    if not candidates:
        return CheckResult(CheckStatus.not_met, f"no {_categories(check.categories)} KPI", {"kpis": []})
    shortfalls: dict[str, list[str]] = {}
    deadlines: list[Deadline] = []
    for kpi in candidates:
        gaps = _unmet_requirements(kpi, check.require)
        if check.measured_within_days is not None:
            if kpi.latest_measured_at is not None and now <= later(kpi.latest_measured_at, check.measured_within_days):
                deadlines.append(
                    Deadline(
                        later(kpi.latest_measured_at, check.measured_within_days),
                        f"KPI {kpi.key} not measured for {check.measured_within_days} days",
                    )
                )
            else:
                last = f", last {_day(kpi.latest_measured_at)}" if kpi.latest_measured_at else ""
                gaps.append(f"a measurement in the last {check.measured_within_days} days{last}")
        if gaps:
            shortfalls[kpi.key] = gaps
    covered = len(candidates) - len(shortfalls)
    observed = {"kpis": [kpi.key for kpi in candidates], "short": sorted(shortfalls)}
    summary = f"{covered} of {len(candidates)} {_categories(check.categories)} KPIs qualify"
    if not shortfalls:
        return CheckResult(CheckStatus.met, summary, observed, tuple(deadlines))
    detail = summary + ": " + "; ".join(f"{key} lacks {', '.join(gaps)}" for key, gaps in sorted(shortfalls.items()))
    return CheckResult(CheckStatus.partial if covered else CheckStatus.not_met, detail, observed, tuple(deadlines))


def _roi(check: RoiCheck, project: ProjectSnapshot) -> CheckResult:
    values = [
        KpiValue(k.key, k.category, k.direction, k.baseline, k.target, k.latest_value, k.value_per_unit, k.currency)
        for k in project.kpis
    ]
    report = compute_roi(values, project.costs, check.horizon_months)
    outlook = report.projected if check.basis == "projected" else report.realized
    priced = [b for b in report.per_kpi if b.excluded_reason is None]
    label = f"{check.basis} {check.horizon_months}-month ROI"
    if outlook.roi_pct is None or not priced:
        cause = "no costs recorded" if outlook.roi_pct is None else "no KPI with a value_per_unit"
        return CheckResult(CheckStatus.no_data, f"{label} cannot be computed: {cause}", {"roi_pct": None})
    pct = round(outlook.roi_pct, 2)
    observed = {"roi_pct": float(pct), "currency": report.currency}
    if outlook.roi_pct > Decimal(repr(check.above_pct)):
        return CheckResult(CheckStatus.met, f"{label} is {pct}%", observed)
    return CheckResult(CheckStatus.not_met, f"{label} is {pct}%, not above {check.above_pct:g}%", observed)


def stretch_start(history: tuple[tuple[Stage, datetime], ...], stages: tuple[Stage, ...]) -> datetime | None:
    """When the project's current uninterrupted stay in these stages began; None when it is outside them."""
    since = None
    for stage, entered_at in history:
        if stage not in stages:
            since = None
        elif since is None:
            since = entered_at
    return since


def _stage_duration(check: StageDurationCheck, project: ProjectSnapshot, now: datetime) -> CheckResult:
    stages = ", ".join(stage.value for stage in check.stages)
    since = stretch_start(project.stage_history, check.stages) if project.stage in check.stages else None
    if since is None:
        return CheckResult(
            CheckStatus.not_met, f"stage is {project.stage.value}, not {stages}", {"stage": project.stage.value}
        )
    observed = {"stage": project.stage.value, "since": since.isoformat()}
    enough = later(since, check.at_least_days)
    if now >= enough:
        return CheckResult(
            CheckStatus.met, f"in {stages} since {_day(since)}, at least {check.at_least_days} days", observed
        )
    return CheckResult(
        CheckStatus.not_met,
        f"in {stages} since {_day(since)}; {check.at_least_days} days on {_day(enough)}",
        observed,
        (Deadline(enough, f"{check.at_least_days} days in {stages}"),),
    )


def _where(related: RelatedProject) -> str:
    place = ", ".join(part for part in (related.department, related.region) if part)
    return f"{related.key} ({place})" if place else related.key


def _replicas_on_platform(project: ProjectSnapshot) -> CheckResult:
    replicas = project.replicas
    observed: dict[str, Any] = {
        "platform": project.platform,
        "replicas": [
            {"key": r.key, "department": r.department, "region": r.region, "platform": r.platform} for r in replicas
        ],
    }
    if not replicas:
        return CheckResult(CheckStatus.no_data, "no project replicates it", observed)
    if project.platform is None:
        return CheckResult(
            CheckStatus.no_data,
            f"it runs on no platform to compare its {len(replicas)} replicas with",
            observed,
        )
    same = [r for r in replicas if r.platform == project.platform]
    elsewhere = [r for r in replicas if r.platform != project.platform]
    summary = f"{len(same)} of {len(replicas)} replicas run on its platform {project.platform}"
    if not elsewhere:
        return CheckResult(CheckStatus.met, f"{summary}: {', '.join(_where(r) for r in same)}", observed)
    apart = "; ".join(f"{_where(r)} runs on {r.platform or 'no platform'}" for r in elsewhere)
    if same:
        together = ", ".join(_where(r) for r in same)
        return CheckResult(CheckStatus.partial, f"{summary} ({together}); {apart}", observed)
    return CheckResult(CheckStatus.not_met, f"{summary}; {apart}", observed)


def _adjacent_in_domain(project: ProjectSnapshot) -> CheckResult:
    domain = project.domain
    adjacent = [r for r in project.adjacent if domain is not None and r.domain == domain]
    observed = {"domain": domain, "adjacent": [r.key for r in adjacent]}
    if domain is None:
        return CheckResult(CheckStatus.no_data, "no domain set", observed)
    if not adjacent:
        return CheckResult(CheckStatus.no_data, f"no project adjacent to it in domain {domain}", observed)
    keys = ", ".join(r.key for r in adjacent)
    return CheckResult(CheckStatus.met, f"adjacent use cases in domain {domain}: {keys}", observed)


def _all_of(check: AllOfCheck, project: ProjectSnapshot, now: datetime) -> CheckResult:
    results = [run_check(sub, project, now) for sub in check.checks]
    reason = "; ".join(result.reason for result in results)
    observed = {key: value for result in results for key, value in result.observed.items()}
    deadlines = tuple(deadline for result in results for deadline in result.deadlines)
    if all(result.status == CheckStatus.no_data for result in results):
        return CheckResult(CheckStatus.no_data, reason, observed, deadlines)
    met = sum(result.status == CheckStatus.met for result in results)
    if met == len(results):
        return CheckResult(CheckStatus.met, reason, observed, deadlines)
    status = CheckStatus.partial if met >= check.partial_at_least else CheckStatus.not_met
    return CheckResult(status, reason, observed, deadlines)


def _any_of(check: AnyOfCheck, project: ProjectSnapshot, now: datetime) -> CheckResult:
    results = [run_check(sub, project, now) for sub in check.checks]
    observed = {key: value for result in results for key, value in result.observed.items()}
    deadlines = tuple(deadline for result in results for deadline in result.deadlines)
    reason = "; ".join(result.reason for result in results)
    for status in (CheckStatus.met, CheckStatus.partial, CheckStatus.not_met):
        if any(result.status == status for result in results):
            return CheckResult(status, reason, observed, deadlines)
    return CheckResult(CheckStatus.no_data, reason, observed, deadlines)
