from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.engine.kpi import (
    Direction,
    KpiCategory,
    KpiStatus,
    Schedule,
    expected_progress,
    is_business_kpi,
    progress,
    status,
    target_is_in_direction,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
START = datetime(2026, 1, 1, tzinfo=UTC)
HALF_WAY = Schedule(START, date(2026, 12, 31))  # 2026-07-02 is about half way


@given(baseline=finite, target=finite)
def test_progress_is_zero_at_the_baseline_and_one_at_the_target(baseline: float, target: float) -> None:
    assume(abs(target - baseline) > 1e-6)

    assert progress(baseline, target, baseline) == 0
    assert progress(baseline, target, target) == pytest.approx(1)


@given(baseline=finite, target=finite, fraction=st.floats(min_value=-2, max_value=3))
def test_progress_is_linear_in_either_direction(baseline: float, target: float, fraction: float) -> None:
    assume(abs(target - baseline) > 1e-3)
    value = baseline + fraction * (target - baseline)

    assert progress(baseline, target, value) == pytest.approx(fraction, abs=1e-6)


@pytest.mark.parametrize(("baseline", "target", "value"), [(None, 25, 30), (40, None, 30), (40, 25, None), (5, 5, 5)])
def test_progress_needs_a_baseline_a_distinct_target_and_a_value(
    baseline: float | None, target: float | None, value: float | None
) -> None:
    assert progress(baseline, target, value) is None


def test_a_decreasing_kpi_progresses_as_it_falls() -> None:
    assert progress(40, 25, 34) == pytest.approx(0.4)
    assert progress(40, 25, 44) == pytest.approx(-4 / 15)


def test_targets_must_lie_in_the_kpis_direction() -> None:
    assert target_is_in_direction(Direction.decrease, 40, 25)
    assert not target_is_in_direction(Direction.decrease, 40, 45)
    assert target_is_in_direction(Direction.increase, 0.8, 0.9)
    assert not target_is_in_direction(Direction.increase, 0.8, 0.8)


def test_business_kpis_are_cost_time_revenue_and_risk() -> None:
    assert {c for c in KpiCategory if is_business_kpi(c)} == {
        KpiCategory.cost,
        KpiCategory.time,
        KpiCategory.revenue,
        KpiCategory.risk,
    }


def test_expected_progress_runs_from_zero_at_start_to_one_at_the_target_date() -> None:
    assert expected_progress(HALF_WAY, START) == 0
    assert expected_progress(HALF_WAY, START - timedelta(days=3)) == 0
    assert expected_progress(HALF_WAY, datetime(2026, 7, 2, 12, tzinfo=UTC)) == pytest.approx(0.5, abs=0.01)
    assert expected_progress(HALF_WAY, datetime(2027, 3, 1, tzinfo=UTC)) == 1
    assert expected_progress(Schedule(START, None), datetime(2030, 1, 1, tzinfo=UTC)) == 0


def test_a_target_date_before_the_start_expects_everything() -> None:
    assert expected_progress(Schedule(START, date(2025, 12, 1)), START) == 1


MIDYEAR = datetime(2026, 7, 2, 11, tzinfo=UTC)  # just under half way


@pytest.mark.parametrize(
    ("current", "expected_status"),
    [
        (None, KpiStatus.no_data),
        (1.2, KpiStatus.on_track),
        (0.5, KpiStatus.on_track),
        (0.49, KpiStatus.at_risk),
        (0.26, KpiStatus.at_risk),
        (0.24, KpiStatus.off_track),
        (-0.1, KpiStatus.off_track),
    ],
)
def test_status_compares_progress_with_the_time_elapsed(current: float | None, expected_status: KpiStatus) -> None:
    assert status(current, HALF_WAY, MIDYEAR) == expected_status


def test_early_on_a_kpi_at_its_baseline_is_at_risk_and_one_going_backwards_is_off_track() -> None:
    early = datetime(2026, 2, 1, tzinfo=UTC)

    assert status(0.0, HALF_WAY, early) == KpiStatus.at_risk
    assert status(-0.01, HALF_WAY, early) == KpiStatus.off_track
    assert status(0.0, HALF_WAY, START) == KpiStatus.on_track


def test_past_the_target_date_only_reaching_the_target_is_on_track() -> None:
    late = datetime(2027, 2, 1, tzinfo=UTC)

    assert status(1.0, HALF_WAY, late) == KpiStatus.on_track
    assert status(0.8, HALF_WAY, late) == KpiStatus.at_risk
    assert status(0.7, HALF_WAY, late) == KpiStatus.off_track


def test_without_a_target_date_any_move_towards_the_target_is_on_track() -> None:
    undated = Schedule(START, None)

    assert status(0.0, undated, MIDYEAR) == KpiStatus.on_track
    assert status(-0.2, undated, MIDYEAR) == KpiStatus.off_track


@given(current=st.floats(min_value=-5, max_value=5), days=st.integers(min_value=0, max_value=800))
def test_status_never_improves_as_progress_falls(current: float, days: int) -> None:
    now = START + timedelta(days=days)
    order = [KpiStatus.off_track, KpiStatus.at_risk, KpiStatus.on_track]

    assert order.index(status(current - 0.1, HALF_WAY, now)) <= order.index(status(current, HALF_WAY, now))
