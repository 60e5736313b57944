from typing import Any

from fastapi.testclient import TestClient


def project_body(key: str = "claims-triage", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "name": "Claims triage",
        "workflow": "Route incoming motor claims to the right handler",
        "department": "claims",
        "region": "emea",
        "tags": ["claims", "genai"],
        "business_owner": {"name": "Ana Souza", "email": "ana@example.com"},
        "technical_owner": {"name": "Bo Lee", "email": "bo@example.com"},
        "stakeholders": [
            {"role": "business", "name": "Ana Souza", "email": "ana@example.com"},
            {"role": "engineering", "name": "Bo Lee"},
        ],
        "deployment": {"target": "vpc", "same_runtime_as_production": True, "sovereign": False},
        "sync_cadence_days": 7,
        "decision_date": "2027-03-31",
        "costs": {"build_cost": 120000, "run_cost_per_month": 4000.5, "currency": "EUR"},
    }
    body.update(overrides)
    return body


def make_project(client: TestClient, key: str = "claims-triage", **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/projects", json=project_body(key, **overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
