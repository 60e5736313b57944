"""Small builders of project snapshots for the engine's tests."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.engine.checks import FactObservation, KpiSnapshot, ProjectSnapshot
from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import ProjectCosts
from app.engine.stages import Stage

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def kpi(key: str = "handling-cost", **overrides: Any) -> KpiSnapshot:
    base = KpiSnapshot(
        key=key,
        category=KpiCategory.cost,
        direction=Direction.decrease,
        baseline=40.0,
        target=25.0,
        target_date=date(2027, 6, 30),
        value_per_unit=Decimal(1000),
        currency="EUR",
        latest_value=34.0,
        latest_measured_at=NOW - timedelta(days=3),
    )
    return replace(base, **overrides)


def facts(**values: Any) -> dict[str, FactObservation]:
    """`facts(ops__alerting_enabled=True)` → {"ops.alerting_enabled": observed a day ago}."""
    return {name.replace("__", "."): FactObservation(value, NOW - timedelta(days=1)) for name, value in values.items()}


def snapshot(*, production_since: datetime | None = None, **overrides: Any) -> ProjectSnapshot:
    """A pilot by default; `production_since` lays down a stage history that entered production then."""
    stage = overrides.get("stage", Stage.pilot)
    history: tuple[tuple[Stage, datetime], ...] = ((Stage.idea, NOW - timedelta(days=400)),)
    if production_since is not None:
        history += ((Stage.production, production_since),)
        if stage != Stage.production:
            history += ((stage, production_since + timedelta(seconds=1)),)
    else:
        history += ((stage, NOW - timedelta(days=100)),)
    base = ProjectSnapshot(
        key="claims-triage",
        stage=stage,
        fields={},
        stakeholder_roles=frozenset(),
        kpis=(),
        facts={},
        costs=ProjectCosts(Decimal(120000), Decimal(4000), "EUR"),
        stage_history=history,
    )
    return replace(base, **overrides)
