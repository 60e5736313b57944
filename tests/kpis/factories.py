from typing import Any

from fastapi.testclient import TestClient


def cost_kpi(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "handling-cost",
        "name": "Handling cost per claim",
        "category": "cost",
        "unit": "EUR per claim",
        "direction": "decrease",
        "baseline": 40,
        "target": 25,
        "target_date": "2027-06-30",
        "value_per_unit": 1000,
    }
    body.update(overrides)
    return body


def time_kpi(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "triage-time",
        "name": "Minutes to triage a claim",
        "category": "time",
        "unit": "minutes",
        "direction": "decrease",
        "baseline": 30,
        "target": 10,
        "target_date": "2027-06-30",
        "value_per_unit": 250,
    }
    body.update(overrides)
    return body


def make_kpi(client: TestClient, project: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/projects/{project}/kpis", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
