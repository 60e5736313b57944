"""Every list that pages by cursor refuses a cursor it did not issue with 400, whatever is forged."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET
from tests.initiatives.helpers import create_initiative
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem


def _encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


FORGED = [
    "not a cursor",
    "!!!!",
    "1",
    _encoded(1),
    _encoded([]),
    _encoded([1]),
    _encoded([1, 2, 3, 4]),
    _encoded([None, None]),
    _encoded([{"a": 1}, [2]]),
    _encoded(["9999-12-31T23:59:59-01:00", 1]),
    _encoded([1.5e308, "x"]),
]


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[TestClient]:
    allowed = settings.model_copy(update={"webhook_allowed_destinations": "hooks.example.com"})
    with TestClient(create_app(allowed, db)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        yield client


@pytest.fixture
def paths(admin: TestClient) -> list[str]:
    """Each GET that takes a `cursor`, its path filled with resources that exist."""
    make_project(admin)
    make_kpi(admin, "claims-triage", cost_kpi())
    webhook = admin.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/in", "event_types": ["*"]})
    assert webhook.status_code == 201, webhook.text
    channel = admin.post(
        "/api/v1/channels",
        json={"name": "AI news", "kind": "slack", "url": "https://hooks.example.com/chat", "event_types": ["*"]},
    )
    assert channel.status_code == 201, channel.text
    # An initiative of the same key as the project, so that `{key}` fills both kinds of path.
    create_initiative(admin, "claims-triage")
    filled = {
        "key": "claims-triage",
        "kpi": "handling-cost",
        "criterion": "go_live.rollback_tested",
        "webhook_id": webhook.json()["id"],
        "channel_id": channel.json()["id"],
    }
    found = []
    for path, operations in admin.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        parameters = operations.get("get", {}).get("parameters", [])
        if any(parameter["name"] == "cursor" for parameter in parameters):
            found.append(path.format(**filled))
    assert len(found) >= 18
    return found


def test_every_route_with_a_cursor_answers_400_to_a_forged_one(admin: TestClient, paths: list[str]) -> None:
    extra = {"/api/v1/portfolio/blockers/go_live.rollback_tested/projects": {"kind": "gate"}}
    accepted = [
        (path, cursor)
        for path in paths
        for cursor in FORGED
        if admin.get(path, params={"cursor": cursor, **extra.get(path, {})}).status_code != 400
    ]

    assert accepted == [], accepted
    assert_problem(admin.get(paths[0], params={"cursor": FORGED[0]}), 400)
