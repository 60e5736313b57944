"""ROI beyond accuracy (the playbook, §4): what a project's KPIs are worth per month, realized from
the latest measurements and projected from the targets, against what the project costs.

All money is Decimal. KPI values are converted through their shortest decimal representation, so
that 40.1 is 40.1 and not 40.099999…. Nothing is rounded here; the API rounds money to cents,
percentages and months to two decimals (half-even).
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.engine.kpi import Direction, KpiCategory


class BenefitCategory(StrEnum):
    cost_reduction = "cost_reduction"
    time_savings = "time_savings"
    revenue = "revenue"
    risk_mitigation = "risk_mitigation"
    other = "other"


BENEFIT_OF = {
    KpiCategory.cost: BenefitCategory.cost_reduction,
    KpiCategory.time: BenefitCategory.time_savings,
    KpiCategory.revenue: BenefitCategory.revenue,
    KpiCategory.risk: BenefitCategory.risk_mitigation,
}


@dataclass(frozen=True)
class KpiValue:
    key: str
    category: KpiCategory
    direction: Direction
    baseline: float | None
    target: float | None
    latest: float | None
    value_per_unit: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class ProjectCosts:
    build_cost: Decimal | None
    run_cost_per_month: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class KpiBenefit:
    key: str
    category: BenefitCategory
    realized_monthly: Decimal | None
    projected_monthly: Decimal | None
    excluded_reason: str | None


@dataclass(frozen=True)
class Outlook:
    monthly_benefit: Decimal
    by_category: dict[BenefitCategory, Decimal]
    total_benefit: Decimal
    total_cost: Decimal
    net: Decimal
    roi_pct: Decimal | None
    payback_months: Decimal | None


@dataclass(frozen=True)
class RoiReport:
    currency: str | None
    horizon_months: int
    realized: Outlook
    projected: Outlook
    per_kpi: list[KpiBenefit]


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def improvement(direction: Direction, baseline: float, value: float) -> Decimal:
    """How far `value` is better than `baseline`: up for `increase`, down for `decrease`."""
    delta = _decimal(value) - _decimal(baseline)
    return delta if direction == Direction.increase else -delta


def monthly_benefit(kpi: KpiValue, value: float | None) -> Decimal | None:
    if kpi.value_per_unit is None or kpi.baseline is None or value is None:
        return None
    return improvement(kpi.direction, kpi.baseline, value) * kpi.value_per_unit


def project_currency(costs: ProjectCosts, kpis: list[KpiValue]) -> str | None:
    """The project's own currency: its costs', else that of its first priced KPI."""
    if costs.currency:
        return costs.currency
    return next((k.currency for k in sorted(kpis, key=lambda k: k.key) if k.value_per_unit and k.currency), None)


def _exclusion(kpi: KpiValue, currency: str | None) -> str | None:
    if kpi.value_per_unit is None:
        return "no value_per_unit"
    if kpi.baseline is None:
        return "no baseline"
    if kpi.currency and currency and kpi.currency != currency:
        return f"in {kpi.currency}, not the project's {currency}: listed, not summed"
    return None


def outlook(
    benefits: list[Decimal | None], categories: list[BenefitCategory], costs: ProjectCosts, horizon: int
) -> Outlook:
    by_category = {category: Decimal(0) for category in BenefitCategory}
    for benefit, category in zip(benefits, categories, strict=True):
        if benefit is not None:
            by_category[category] += benefit
    monthly = sum(by_category.values(), Decimal(0))
    build = costs.build_cost or Decimal(0)
    run = costs.run_cost_per_month or Decimal(0)
    total_benefit = monthly * horizon
    total_cost = build + run * horizon
    net = total_benefit - total_cost
    roi_pct = net / total_cost * 100 if total_cost > 0 else None
    margin = monthly - run
    payback = build / margin if margin > 0 else None
    return Outlook(monthly, by_category, total_benefit, total_cost, net, roi_pct, payback)


def compute_roi(kpis: list[KpiValue], costs: ProjectCosts, horizon_months: int) -> RoiReport:
    """Realized (latest measurements) and projected (targets) benefit, cost and return over the horizon.

    A KPI's monthly benefit is its improvement over the baseline, in its direction, times the money
    one unit of improvement is worth per month. KPIs without that value, without a baseline, without
    data, or in another currency than the project's contribute nothing and say why.
    """
    currency = project_currency(costs, kpis)
    per_kpi: list[KpiBenefit] = []
    for kpi in sorted(kpis, key=lambda k: k.key):
        category = BENEFIT_OF.get(kpi.category, BenefitCategory.other)
        reason = _exclusion(kpi, currency)
        realized = None if reason else monthly_benefit(kpi, kpi.latest)
        projected = None if reason else monthly_benefit(kpi, kpi.target)
        if reason is None and realized is None and projected is None:
            reason = "no measurement and no target"
        per_kpi.append(KpiBenefit(kpi.key, category, realized, projected, reason))
    categories = [benefit.category for benefit in per_kpi]
    return RoiReport(
        currency=currency,
        horizon_months=horizon_months,
        realized=outlook([b.realized_monthly for b in per_kpi], categories, costs, horizon_months),
        projected=outlook([b.projected_monthly for b in per_kpi], categories, costs, horizon_months),
        per_kpi=per_kpi,
    )
