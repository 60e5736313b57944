"""Business KPIs: how far a KPI has come from its baseline towards its target, and whether that
is on track for its target date.

The playbook, §4: model accuracy is necessary but not sufficient; executives care about cost
reduction, time savings, revenue generation and risk mitigation.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum


class KpiCategory(StrEnum):
    cost = "cost"
    time = "time"
    revenue = "revenue"
    risk = "risk"
    quality = "quality"
    adoption = "adoption"
    model_accuracy = "model_accuracy"


BUSINESS_CATEGORIES = frozenset({KpiCategory.cost, KpiCategory.time, KpiCategory.revenue, KpiCategory.risk})


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"


class KpiStatus(StrEnum):
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"
    no_data = "no_data"


# How far behind the expected progress a KPI may be and still count as at risk, not off track.
AT_RISK_MARGIN = 0.25


def is_business_kpi(category: KpiCategory) -> bool:
    return category in BUSINESS_CATEGORIES


def target_is_in_direction(direction: Direction, baseline: float, target: float) -> bool:
    return target > baseline if direction == Direction.increase else target < baseline


def progress(baseline: float | None, target: float | None, value: float | None) -> float | None:
    """(value − baseline) / (target − baseline): 0 at the baseline, 1 at the target, in either direction.

    It exceeds 1 past the target and is negative when the KPI moved away from it.
    """
    if baseline is None or target is None or value is None or target == baseline:
        return None
    return (value - baseline) / (target - baseline)


@dataclass(frozen=True)
class Schedule:
    """When the KPI started towards its target, and when the target is due."""

    started_at: datetime
    target_date: date | None


def expected_progress(schedule: Schedule, now: datetime) -> float:
    """The share of the time from start to the target date that has passed, from 0 to 1.

    Without a target date nothing is expected yet, so the expectation stays 0.
    """
    if schedule.target_date is None:
        return 0.0
    due = datetime.combine(schedule.target_date, time.max, tzinfo=schedule.started_at.tzinfo)
    span = (due - schedule.started_at).total_seconds()
    if span <= 0:
        return 1.0
    return min(1.0, max(0.0, (now - schedule.started_at).total_seconds() / span))


def status(current_progress: float | None, schedule: Schedule, now: datetime) -> KpiStatus:
    """Progress against the time elapsed towards the target date.

    - `no_data`: no measurement yet, or no baseline and target to measure progress against;
    - `on_track`: the target is reached, or progress is at least the share of time elapsed;
    - `at_risk`: behind schedule by less than 25 points, and not worse than the baseline;
    - `off_track`: further behind, or worse than the baseline.
    """
    if current_progress is None:
        return KpiStatus.no_data
    expected = expected_progress(schedule, now)
    if current_progress >= 1 or current_progress >= expected:
        return KpiStatus.on_track
    if current_progress >= max(0.0, expected - AT_RISK_MARGIN):
        return KpiStatus.at_risk
    return KpiStatus.off_track


def status_changes_at(current_progress: float | None, schedule: Schedule, now: datetime) -> datetime | None:
    """The first moment after `now` at which time alone changes the status (the share of time
    elapsed overtakes the progress), or None when it cannot change without a new measurement."""
    if current_progress is None or current_progress >= 1 or schedule.target_date is None:
        return None
    due = datetime.combine(schedule.target_date, time.max, tzinfo=schedule.started_at.tzinfo)
    span = due - schedule.started_at
    if span.total_seconds() <= 0:
        return None
    current = status(current_progress, schedule, now)
    if current is KpiStatus.on_track:
        threshold = current_progress
    elif current is KpiStatus.at_risk:
        threshold = current_progress + AT_RISK_MARGIN
    else:
        return None
    if threshold >= 1:
        return None
    # Just past the moment the expectation reaches the threshold: at it, the status still holds.
    return max(schedule.started_at + span * threshold, now) + timedelta(microseconds=1)
