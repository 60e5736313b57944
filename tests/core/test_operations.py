from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.projects.test_api import assert_problem


def test_healthz_is_public_and_reads_nothing(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_when_the_schema_is_current(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["schema_state"] == "current"


def test_readyz_stays_ready_when_a_newer_release_migrated_the_schema(
    client: TestClient, connection: Connection
) -> None:
    connection.execute(text("UPDATE alembic_version SET version_num = 'from-a-newer-release'"))

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["schema_state"] == "ahead"


def test_readyz_is_503_when_the_schema_is_behind(client: TestClient, connection: Connection) -> None:
    connection.execute(text("DELETE FROM alembic_version"))

    assert_problem(client.get("/readyz"), 503)


def test_metrics_count_requests_by_route_template_and_status(admin: TestClient, client: TestClient) -> None:
    admin.get("/api/v1/projects/one")
    admin.get("/api/v1/projects/two")

    metrics = client.get("/metrics").text

    assert 'readiness_http_requests_total{method="GET",route="/api/v1/projects/{key}",status="404"} 2.0' in metrics
    assert "readiness_http_request_duration_seconds_bucket" in metrics
    assert "readiness_db_pool_size" in metrics
    assert "/api/v1/projects/one" not in metrics


def test_metrics_can_require_a_key(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings.model_copy(update={"public_metrics": False}), db)) as client:
        assert_problem(client.get("/metrics"), 401)
        authorized = client.get("/metrics", headers={"Authorization": f"Bearer {settings.bootstrap_admin_key}"})
        assert authorized.status_code == 200


def test_the_openapi_document_is_public(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "AI Readiness Service"
