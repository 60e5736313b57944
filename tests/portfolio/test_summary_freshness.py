"""The summary is kept between polls, yet shows every committed write at once, whichever replica
made it, and what time alone changes once it is a few seconds old.

These tests run the app on a database of its own (not the rolled-back shared transaction of the
other tests): only committed data has a version to keep a summary by.
"""

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, exists, select, text

from app.core.clock import Clock
from app.core.db import make_engine
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.main import create_app
from app.readiness.models import ReadinessMark
from tests.conftest import ADMIN_SECRET, DatabaseUrlFactory
from tests.readiness.test_api import eventually

SUMMARY = "/api/v1/portfolio/summary"


@pytest.fixture
def own_database(backend: str, database_url_factory: DatabaseUrlFactory) -> str:
    url = database_url_factory(backend)
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return url


def replica(url: str) -> TestClient:
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=ADMIN_SECRET,
        api_key_cache_seconds=0,
        dispatcher=False,
        rate_limit=0,
        auth_failure_limit=0,
    )
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
    return client


@pytest.fixture
def replicas(own_database: str) -> Iterator[tuple[TestClient, TestClient]]:
    with replica(own_database) as first, replica(own_database) as second:
        yield first, second


# Nothing in it points to a stall, until it goes quiet.
WELL_RUN = {
    "name": "Claims triage",
    "department": "claims",
    "workflow": "Motor claims intake",
    "business_owner": {"name": "Ana Souza", "email": "ana@example.com"},
    "technical_owner": {"name": "Bo Lee", "email": "bo@example.com"},
    "stakeholders": [
        {"role": "business", "name": "Ana Souza", "email": "ana@example.com"},
        {"role": "engineering", "name": "Bo Lee", "email": "bo@example.com"},
    ],
    "deployment": {"target": "vpc", "same_runtime_as_production": True, "sovereign": False},
}
HANDLING_COST = {
    "key": "handling-cost",
    "name": "Handling cost",
    "category": "cost",
    "direction": "decrease",
    "baseline": 40,
    "target": 25,
}


def rescorer_idle(engine: Engine) -> bool:
    with engine.connect() as connection:
        return not connection.scalar(select(exists().select_from(ReadinessMark)))


def project(key: str, department: str) -> dict[str, object]:
    return {"name": key.title(), "department": department, "region": "emea"}


def test_a_write_shows_at_once_on_the_replica_that_made_it_and_on_another(
    replicas: tuple[TestClient, TestClient],
) -> None:
    first, second = replicas
    assert first.put("/api/v1/projects/claims-triage", json=project("claims-triage", "claims")).status_code == 201
    for client in (first, second):
        assert client.get(SUMMARY).json()["overall"]["projects"] == 1
        assert client.get(SUMMARY, params={"group_by": "department"}).json()["groups"][0]["group"] == "claims"

    assert second.put("/api/v1/projects/fraud-scan", json=project("fraud-scan", "risk")).status_code == 201
    for client in (first, second):
        assert client.get(SUMMARY).json()["overall"]["projects"] == 2
        groups = client.get(SUMMARY, params={"group_by": "department"}).json()["groups"]
        assert [group["group"] for group in groups] == ["claims", "risk"]

    transition = first.post("/api/v1/projects/fraud-scan/stage-transitions", json={"to": "poc"})
    assert transition.status_code == 201, transition.text
    assert second.get(SUMMARY).json()["overall"]["by_stage"]["poc"] == 1


def test_a_write_outside_the_service_shows_too(own_database: str, replicas: tuple[TestClient, TestClient]) -> None:
    first, _ = replicas
    first.put("/api/v1/projects/claims-triage", json=project("claims-triage", "claims"))
    assert first.get(SUMMARY).json()["overall"]["go_live_ready"] == 0

    engine = make_engine(own_database, pool_size=1)
    # Once re-scored, so that the re-scorer cannot store its result over the write below.
    assert eventually(lambda: rescorer_idle(engine), seconds=10)
    with engine.begin() as connection:
        connection.execute(text("UPDATE project_status SET gate_passed = true WHERE key = 'claims-triage'"))
    engine.dispose()

    assert first.get(SUMMARY).json()["overall"]["go_live_ready"] == 1


def test_time_alone_shows_once_the_summary_is_a_few_seconds_old(
    clock: Clock, replicas: tuple[TestClient, TestClient]
) -> None:
    first, _ = replicas
    first.put("/api/v1/projects/claims-triage", json=WELL_RUN)
    first.post("/api/v1/projects/claims-triage/kpis", json=HANDLING_COST)
    assert first.get(SUMMARY).json()["overall"]["stalled"] == 0

    # Past the idea stage's time limit with nothing written: inactive, hence stalled.
    clock.advance(timedelta(days=400))
    assert first.get(SUMMARY).json()["overall"]["stalled"] == 1


def test_callers_of_other_scopes_never_share_a_summary(replicas: tuple[TestClient, TestClient]) -> None:
    first, _ = replicas
    first.put("/api/v1/projects/claims-triage", json=project("claims-triage", "claims"))
    first.put("/api/v1/projects/fraud-scan", json=project("fraud-scan", "risk"))
    assert first.get(SUMMARY).json()["overall"]["projects"] == 2

    created = first.post(
        "/api/v1/api-keys", json={"name": "claims-reader", "role": "reader", "departments": ["claims"]}
    )
    scoped = {"Authorization": f"Bearer {created.json()['secret']}"}
    assert first.get(SUMMARY, headers=scoped).json()["overall"]["projects"] == 1
    assert first.get(SUMMARY).json()["overall"]["projects"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/portfolio/trend",
        "/api/v1/portfolio/blockers",
        "/api/v1/portfolio/blockers/go_live.security_review/projects?kind=gate",
        "/api/v1/portfolio/frameworks/nist-ai-rmf",
    ],
)
def test_the_other_views_of_every_project_show_another_replicas_write_at_once(
    path: str, replicas: tuple[TestClient, TestClient]
) -> None:
    first, second = replicas
    first.put("/api/v1/projects/claims-triage", json=WELL_RUN)
    rescored(first)
    before = first.get(path)
    assert before.status_code == 200, before.text
    assert steady(first.get(path).json()) == steady(before.json())

    second.put("/api/v1/projects/fraud-scan", json=project("fraud-scan", "risk"))
    rescored(second)

    assert steady(first.get(path).json()) != steady(before.json())


def steady(body: object) -> object:
    """The body without the current bucket's `as_of`, which is now, and so moves between two reads."""
    if isinstance(body, dict):
        return {name: steady(value) for name, value in body.items() if name != "as_of"}
    if isinstance(body, list):
        return [steady(item) for item in body]
    return body


def rescored(client: TestClient) -> None:
    """Wait for the re-scorer, which writes the current results these views read."""
    for _ in range(200):
        if client.get("/api/v1/rubrics/ai-production-readiness/rescoring").json()["pending"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the re-scorer did not catch up within 10 s")
