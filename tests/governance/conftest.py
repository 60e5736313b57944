from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.evaluations.test_api import GO_LIVE_FACTS, iso
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project

PROJECTS = "/api/v1/projects"
ROLLBACK = {
    "ops.rollback_tested_at": iso(datetime.now(UTC) - timedelta(days=10)),
    "ops.rollback_procedure_url": "https://wiki.example.com/rollback",
}
WITHOUT_ALERTING = {name: value for name, value in GO_LIVE_FACTS.items() if name != "ops.alerting_enabled"}
# key: (department, stage, facts, a business KPI with a measurement)
PLAN: dict[str, tuple[str, str, dict[str, Any], bool]] = {
    "claims-a": ("claims", "pilot", GO_LIVE_FACTS, True),
    "claims-b": ("claims", "poc", GO_LIVE_FACTS, True),
    "claims-c": ("claims", "pilot", {**GO_LIVE_FACTS, **ROLLBACK}, True),
    "claims-e": ("claims", "pilot", {**GO_LIVE_FACTS, **ROLLBACK}, False),
    "mkt-a": ("marketing", "pilot", WITHOUT_ALERTING, True),
    "mkt-b": ("marketing", "idea", {}, False),
    "mkt-c": ("marketing", "poc", {"ops.monitoring_enabled": False, "ops.alerting_enabled": False}, True),
}


def build(writer: TestClient, key: str) -> None:
    department, stage, facts, kpi = PLAN[key]
    make_project(writer, key, name=key, department=department, sync_cadence_days=10 if key == "mkt-c" else 7)
    if kpi:
        make_kpi(writer, key, cost_kpi())
        assert writer.post(f"{PROJECTS}/{key}/kpis/handling-cost/measurements", json={"value": 34}).status_code == 201
    for next_stage in ("poc", "pilot")[: ("idea", "poc", "pilot").index(stage)]:
        assert writer.post(f"{PROJECTS}/{key}/stage-transitions", json={"to": next_stage}).status_code == 201
    for name, value in facts.items():
        assert writer.put(f"{PROJECTS}/{key}/facts/{name}", json={"value": value}).status_code == 201


@pytest.fixture
def portfolio(writer: TestClient) -> dict[str, dict[str, Any]]:
    """Seven projects in two departments from idea to pilot, with gates in different states; returns
    each one's current readiness as the project's own read gives it."""
    for key in PLAN:
        build(writer, key)
    readiness = {}
    for key in PLAN:
        response = writer.get(f"{PROJECTS}/{key}/readiness")
        assert response.status_code == 200, response.text
        readiness[key] = response.json()
    return readiness


def statuses(readiness: dict[str, Any]) -> dict[str, str]:
    return {criterion["key"]: criterion["status"] for criterion in readiness["criteria"]}
