"""What the initiative tests share: bodies, facts that meet criteria, and reading what was told."""

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.clock import clock
from tests.readiness.test_api import eventually

INITIATIVES = "/api/v1/initiatives"
PROJECTS = "/api/v1/projects"
MONITORING = {"ops.monitoring_enabled": True, "ops.alerting_enabled": True, "ops.escalation_path": "pager rota"}


def initiative_body(key: str = "monitoring", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "name": "Monitoring in claims",
        "description": "Every claims project monitored, alerting and escalating before the audit.",
        "owner": {"name": "Ana Souza", "email": "ana@example.com"},
        "goal": {"criteria": ["go_live.monitoring_alerting", "stakeholders.business_owner"]},
        "scope": {"department": "claims"},
        "target_date": (clock.now().date() + timedelta(days=90)).isoformat(),
    }
    body.update(overrides)
    return body


def create_initiative(client: TestClient, key: str = "monitoring", **overrides: Any) -> dict[str, Any]:
    response = client.post(INITIATIVES, json=initiative_body(key, **overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def scoped_client(admin: TestClient, role: str, departments: list[str]) -> TestClient:
    """A client whose key is scoped to these departments."""
    body = {"name": f"{role}-{uuid.uuid4().hex[:8]}", "role": role, "departments": departments}
    response = admin.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    scoped = TestClient(admin.app)
    scoped.headers["Authorization"] = f"Bearer {response.json()['secret']}"
    return scoped


def starts(days: int) -> str:
    """`starts_at` so many days from now (back, when negative)."""
    return (clock.now() + timedelta(days=days)).isoformat()


def post_facts(client: TestClient, project: str, facts: dict[str, Any]) -> None:
    for name, value in facts.items():
        response = client.put(f"{PROJECTS}/{project}/facts/{name}", json={"value": value, "source": "test"})
        assert response.status_code in (200, 201), response.text


def progress(client: TestClient, key: str = "monitoring", **params: Any) -> dict[str, Any]:
    response = client.get(f"{INITIATIVES}/{key}/progress", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def told(client: TestClient, event_type: str) -> list[dict[str, Any]]:
    """The events of this type in the feed, as this client may read them."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get("/api/v1/events", params={"types": event_type, **({"after": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        events += items
        cursor = page.json()["next_cursor"]
        if not items:
            return events


def comes_true(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    return eventually(check, seconds)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
