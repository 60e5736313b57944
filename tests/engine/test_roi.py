from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import BenefitCategory, KpiValue, ProjectCosts, compute_roi, improvement

EUR = ProjectCosts(Decimal(120000), Decimal(4000), "EUR")


def kpi(key: str = "handling-cost", **overrides: object) -> KpiValue:
    fields: dict[str, object] = {
        "key": key,
        "category": KpiCategory.cost,
        "direction": Direction.decrease,
        "baseline": 40.0,
        "target": 25.0,
        "latest": 34.0,
        "value_per_unit": Decimal(1000),
        "currency": "EUR",
    }
    fields.update(overrides)
    return KpiValue(**fields)  # type: ignore[arg-type]


def test_improvement_follows_the_direction() -> None:
    assert improvement(Direction.decrease, 40, 34) == 6
    assert improvement(Direction.increase, 40, 34) == -6
    assert improvement(Direction.increase, 0.1, 0.3) == Decimal("0.2")


def test_the_claims_triage_example() -> None:
    report = compute_roi(
        [
            kpi(),
            kpi(
                "triage-time",
                category=KpiCategory.time,
                baseline=30.0,
                target=10.0,
                latest=20.0,
                value_per_unit=Decimal(250),
            ),
        ],
        EUR,
        12,
    )

    assert report.realized.monthly_benefit == 8500
    assert report.realized.by_category[BenefitCategory.cost_reduction] == 6000
    assert report.realized.by_category[BenefitCategory.time_savings] == 2500
    assert report.realized.total_cost == 168000
    assert report.realized.net == -66000
    assert report.projected.monthly_benefit == 20000
    assert report.projected.payback_months == Decimal("7.5")
    assert report.currency == "EUR"


def test_kpis_without_money_data_or_currency_match_contribute_nothing_and_say_why() -> None:
    report = compute_roi(
        [
            kpi("a", value_per_unit=None),
            kpi("b", baseline=None),
            kpi("c", latest=None, target=None),
            kpi("d", currency="USD"),
            kpi("e", latest=None),
        ],
        EUR,
        12,
    )
    reasons = {b.key: b.excluded_reason for b in report.per_kpi}

    assert reasons["a"] == "no value_per_unit"
    assert reasons["b"] == "no baseline"
    assert reasons["c"] == "no measurement and no target"
    assert "USD" in str(reasons["d"])
    assert reasons["e"] is None
    assert report.realized.monthly_benefit == 0
    assert report.projected.monthly_benefit == 15000


def test_nothing_spent_means_no_roi_percentage_and_immediate_payback() -> None:
    report = compute_roi([kpi()], ProjectCosts(None, None, "EUR"), 12)

    assert report.projected.total_cost == 0
    assert report.projected.roi_pct is None
    assert report.projected.payback_months == 0


def test_no_payback_when_running_costs_eat_the_benefit() -> None:
    report = compute_roi([kpi(latest=39.0)], EUR, 12)

    assert report.realized.payback_months is None


def test_without_project_currency_the_first_priced_kpi_sets_it() -> None:
    report = compute_roi([kpi("b", currency="USD"), kpi("a", currency="GBP")], ProjectCosts(None, None, None), 6)

    assert report.currency == "GBP"


money = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
reading = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@given(
    build=money,
    run=money,
    horizon=st.integers(min_value=1, max_value=120),
    readings=st.lists(st.tuples(reading, reading, st.sampled_from(list(Direction)), money), max_size=6),
)
def test_roi_arithmetic_holds_together(
    build: Decimal, run: Decimal, horizon: int, readings: list[tuple[float, float, Direction, Decimal]]
) -> None:
    kpis = [
        kpi(f"k{i}", baseline=b, latest=v, target=None, direction=d, value_per_unit=p)
        for i, (b, v, d, p) in enumerate(readings)
    ]
    outlook = compute_roi(kpis, ProjectCosts(build, run, "EUR"), horizon).realized

    assert outlook.monthly_benefit == sum(outlook.by_category.values())
    assert outlook.total_benefit == outlook.monthly_benefit * horizon
    assert outlook.total_cost == build + run * horizon
    assert outlook.net == outlook.total_benefit - outlook.total_cost
    if outlook.total_cost > 0:
        assert outlook.roi_pct == outlook.net / outlook.total_cost * 100
    if outlook.payback_months is not None:
        # After the payback period the cumulative margin has paid for the build.
        assert (outlook.monthly_benefit - run) * outlook.payback_months == pytest.approx(build, abs=Decimal("0.01"))
    else:
        assert outlook.monthly_benefit <= run
