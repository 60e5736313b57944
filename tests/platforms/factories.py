"""Platforms, and projects taken all the way to production on them, for the scaling tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project

PROJECTS = "/api/v1/projects"
PLATFORMS = "/api/v1/platforms"
READY_FACTS: dict[str, Any] = {
    "security.review_completed": True,
    "compliance.review_completed": True,
    "ops.monitoring_enabled": True,
    "ops.alerting_enabled": True,
    "ops.escalation_path": "pagerduty:claims-oncall",
    "ops.team_trained": True,
    "ops.runbook_url": "https://runbooks.example.com/claims",
    "perf.benchmarks_tracked": True,
    "ops.rollback_procedure_url": "https://wiki.example.com/rollback",
}


def platform_body(key: str = "claims-vpc", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "name": "Claims VPC platform",
        "deployment": {"target": "vpc", "same_runtime_as_production": True, "sovereign": True},
        "owner": {"name": "Pia Platform", "email": "pia@example.com"},
    }
    body.update(overrides)
    return body


def make_platform(admin: TestClient, key: str = "claims-vpc", **overrides: Any) -> dict[str, Any]:
    response = admin.post(PLATFORMS, json=platform_body(key, **overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deploy(writer: TestClient, approver: TestClient, key: str, **overrides: Any) -> dict[str, Any]:
    """A project taken through poc and pilot to production on a go, its gate passing. It is not
    stable yet: under 30 days in production, and `support.team_trained` is not posted."""
    project = make_project(writer, key, **overrides)
    path = f"{PROJECTS}/{key}"
    make_kpi(writer, key, cost_kpi())
    assert writer.post(f"{path}/kpis/handling-cost/measurements", json={"value": 34}).status_code == 201
    for stage in ("poc", "pilot"):
        assert writer.post(f"{path}/stage-transitions", json={"to": stage}).status_code == 201
    facts = {**READY_FACTS, "ops.rollback_tested_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    for name, value in facts.items():
        assert writer.put(f"{path}/facts/{name}", json={"value": value}).status_code == 201
    evaluation = writer.post(f"{path}/evaluations", json={})
    assert evaluation.status_code == 201, evaluation.text
    go = {"evaluation_id": evaluation.json()["id"], "decision": "go", "on_behalf_of": "Steering committee"}
    decided = approver.post(f"{path}/decisions", json=go)
    assert decided.status_code == 201, decided.text
    entered = writer.post(f"{path}/stage-transitions", json={"to": "production"})
    assert entered.status_code == 201, entered.text
    return project
