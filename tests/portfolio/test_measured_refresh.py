"""The status columns a measurement batch changes are computed by the database (app.portfolio.measured);
a full refresh computes them in Python with the ROI engine. Both must agree on every shape of KPI."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.db import Database
from app.portfolio.models import ProjectStatus
from app.portfolio.status import refresh
from app.projects.models import Project
from tests.kpis.factories import cost_kpi, make_kpi, time_kpi
from tests.projects.factories import make_project

MEASURED = ("last_measured_at", "realized_monthly_benefit", "projected_monthly_benefit", "currency", "quiet_from")


def measured_columns(db: Database) -> dict[str, tuple[Any, ...]]:
    def read(session: Session) -> dict[str, tuple[Any, ...]]:
        rows = session.scalars(select(ProjectStatus).execution_options(populate_existing=True))
        return {row.key: tuple(getattr(row, name) for name in MEASURED) for row in rows}

    return db.work(read, write=False)()


def refresh_all(db: Database) -> None:
    def run(session: Session) -> None:
        refresh(session, list(session.scalars(select(Project.id))))

    db.work(run, write=True)()


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def test_benefit_currency_and_quiet_moment_after_a_batch_agree_with_the_engine(
    writer: TestClient, db: Database
) -> None:
    no_costs: dict[str, Any] = {"costs": {"build_cost": 1000, "run_cost_per_month": 10}}
    make_project(writer, "decimals")
    make_kpi(writer, "decimals", cost_kpi(baseline=40.1, target=25.3, value_per_unit=1000.25))
    make_kpi(writer, "decimals", time_kpi(direction="decrease", baseline=0.3, target=0.1, value_per_unit=0.7))
    make_project(writer, "growth")
    make_kpi(
        writer, "growth", cost_kpi(key="revenue", category="revenue", direction="increase", baseline=10, target=12)
    )
    make_project(writer, "mixed-currencies", **no_costs)
    make_kpi(writer, "mixed-currencies", cost_kpi(key="b-usd", currency="USD"))
    make_kpi(writer, "mixed-currencies", cost_kpi(key="a-chf", currency="CHF"))
    make_kpi(writer, "mixed-currencies", cost_kpi(key="a0-unpriced", currency="GBP", value_per_unit=0))
    make_project(writer, "left-out")
    make_kpi(writer, "left-out", cost_kpi(key="no-baseline", baseline=None))
    make_kpi(writer, "left-out", cost_kpi(key="no-value", value_per_unit=None))
    make_kpi(writer, "left-out", cost_kpi(key="other-currency", currency="USD"))
    make_project(writer, "unmeasured")
    make_kpi(writer, "unmeasured", cost_kpi(target=None))
    make_kpi(writer, "unmeasured", time_kpi())
    for key in ("decimals", "mixed-currencies"):
        writer.post(f"/api/v1/projects/{key}/stage-transitions", json={"to": "poc"})
    writer.post("/api/v1/projects/decimals/evaluations", json={})

    items = [
        {"project": "decimals", "kpi": "handling-cost", "value": 33.3, "measured_at": ago(40)},
        {"project": "decimals", "kpi": "triage-time", "value": 0.2, "measured_at": ago(45.123456)},
        {"project": "growth", "kpi": "revenue", "value": 11.7},
        {"project": "mixed-currencies", "kpi": "b-usd", "value": 30},
        {"project": "mixed-currencies", "kpi": "a-chf", "value": 35.5, "measured_at": ago(3)},
        {"project": "mixed-currencies", "kpi": "a0-unpriced", "value": 20},
        *({"project": "left-out", "kpi": kpi, "value": 30} for kpi in ("no-baseline", "no-value", "other-currency")),
        {"project": "unmeasured", "kpi": "triage-time", "value": 12, "measured_at": ago(400)},
    ]
    response = writer.post("/api/v1/measurements:batch", json={"items": items})
    assert response.status_code == 201, response.text
    after_batch = measured_columns(db)

    refresh_all(db)

    assert measured_columns(db) == after_batch
    assert after_batch["mixed-currencies"][3] == "CHF"  # the first priced KPI by key
    assert after_batch["decimals"][4] is not None  # in a stage that expects activity


def test_a_batch_leaves_the_status_of_a_project_without_kpis_measured_elsewhere_alone(
    writer: TestClient, db: Database
) -> None:
    make_project(writer, "measured")
    make_kpi(writer, "measured", cost_kpi())
    make_project(writer, "bystander")
    before = measured_columns(db)["bystander"]

    writer.post(
        "/api/v1/measurements:batch", json={"items": [{"project": "measured", "kpi": "handling-cost", "value": 30}]}
    )

    assert measured_columns(db)["bystander"] == before
    assert measured_columns(db)["measured"][1] is not None


def test_a_batch_gives_a_project_restored_without_its_status_row_a_whole_one(writer: TestClient, db: Database) -> None:
    for key in ("restored", "kept"):
        make_project(writer, key)
        make_kpi(writer, key, cost_kpi())

    def lose_status_row(session: Session) -> None:
        session.execute(delete(ProjectStatus).where(ProjectStatus.key == "restored"))

    db.work(lose_status_row, write=True)()

    items = [{"project": key, "kpi": "handling-cost", "value": 30} for key in ("restored", "kept")]
    assert writer.post("/api/v1/measurements:batch", json={"items": items}).status_code == 201

    after_batch = measured_columns(db)
    assert after_batch["restored"][:2] == after_batch["kept"][:2] != (None, 0)
    rows = writer.get("/api/v1/portfolio/readiness").json()["items"]
    assert sorted(row["key"] for row in rows) == ["kept", "restored"]
