"""Idempotency-Key on POST: a retry replays the first response, whatever it was, and repeats nothing."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Connection, update

from app.auth.idempotency import IdempotencyRecord
from app.core.db import utcnow
from tests.conftest import issue_key
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project, project_body
from tests.projects.test_api import assert_problem


def test_a_retry_replays_the_first_response_and_creates_nothing_more(writer: TestClient, admin: TestClient) -> None:
    headers = {"Idempotency-Key": "create-claims-triage-1"}

    first = writer.post("/api/v1/projects", json=project_body(), headers=headers)
    retry = writer.post("/api/v1/projects", json=project_body(), headers=headers)

    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    creations = admin.get("/api/v1/audit-events", params={"action": "project.create"}).json()["items"]
    assert len(creations) == 1


def test_measurements_posted_twice_with_one_key_are_stored_once(writer: TestClient) -> None:
    make_project(writer)
    make_kpi(writer, "claims-triage", cost_kpi())
    path = "/api/v1/projects/claims-triage/kpis/handling-cost/measurements"
    batch = {"items": [{"project": "claims-triage", "kpi": "handling-cost", "value": v} for v in (38, 37, 36)]}

    for _ in range(3):
        writer.post(path, json={"value": 35}, headers={"Idempotency-Key": "single-1"})
        writer.post("/api/v1/measurements:batch", json=batch, headers={"Idempotency-Key": "batch-1"})

    assert len(writer.get(path).json()["items"]) == 4


def test_the_same_key_with_another_body_is_422(writer: TestClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    writer.post("/api/v1/projects", json=project_body("one"), headers=headers)

    problem = assert_problem(writer.post("/api/v1/projects", json=project_body("two"), headers=headers), 422)

    assert "different request" in problem["detail"]
    assert_problem(writer.get("/api/v1/projects/two"), 404)


def test_a_refusal_is_replayed_too_and_leaves_nothing_behind(writer: TestClient) -> None:
    make_project(writer)
    headers = {"Idempotency-Key": "transition-1"}

    first = writer.post("/api/v1/projects/claims-triage/stage-transitions", json={"to": "pilot"}, headers=headers)
    writer.post("/api/v1/projects/claims-triage/stage-transitions", json={"to": "poc"})
    retry = writer.post("/api/v1/projects/claims-triage/stage-transitions", json={"to": "pilot"}, headers=headers)

    assert first.status_code == 409
    assert retry.status_code == 409
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["content-type"] == "application/problem+json"
    assert writer.get("/api/v1/projects/claims-triage").json()["stage"] == "poc"


def test_keys_are_scoped_to_the_api_key(writer: TestClient, admin: TestClient, client: TestClient) -> None:
    other = {"Authorization": f"Bearer {issue_key(admin, 'writer')}", "Idempotency-Key": "shared"}
    writer.post("/api/v1/projects", json=project_body("one"), headers={"Idempotency-Key": "shared"})

    response = client.post("/api/v1/projects", json=project_body("two"), headers=other)

    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers


def test_keys_expire_after_24_hours(writer: TestClient, connection: Connection) -> None:
    headers = {"Idempotency-Key": "old-key"}
    writer.post("/api/v1/projects", json=project_body("one"), headers=headers)
    connection.execute(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))

    reused = writer.post("/api/v1/projects", json=project_body("two"), headers=headers)

    assert reused.status_code == 201
    assert "idempotent-replayed" not in reused.headers


def test_malformed_keys_are_refused(writer: TestClient) -> None:
    assert_problem(writer.post("/api/v1/projects", json=project_body(), headers={"Idempotency-Key": "x" * 256}), 422)
    assert_problem(writer.post("/api/v1/projects", json=project_body(), headers={"Idempotency-Key": "has space"}), 422)
    assert_problem(writer.get("/api/v1/projects/claims-triage"), 404)
