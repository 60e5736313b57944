import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET, issue_key
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

KEYS = "/api/v1/api-keys"


def test_requests_without_a_key_are_401_with_a_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/projects")

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong-secret", "Basic dXNlcjpwYXNz", "Bearer ", "rdy_nothing"])
def test_an_unknown_or_malformed_key_is_401(client: TestClient, header: str) -> None:
    assert_problem(client.get("/api/v1/projects", headers={"Authorization": header}), 401)


def test_roles_allow_what_they_should(client: TestClient, admin: TestClient, writer: TestClient) -> None:
    reader_secret = issue_key(admin, "reader")
    as_reader = {"Authorization": f"Bearer {reader_secret}"}

    assert client.get("/api/v1/projects", headers=as_reader).status_code == 200
    assert_problem(client.post("/api/v1/projects", json={"key": "r-1", "name": "R"}, headers=as_reader), 403)
    make_project(writer)
    assert_problem(writer.get(KEYS), 403)
    assert_problem(writer.delete("/api/v1/projects/claims-triage"), 403)
    assert admin.get(KEYS).status_code == 200


def test_a_new_key_shows_its_secret_once_and_stores_only_a_hash(admin: TestClient, db: Database) -> None:
    created = admin.post(KEYS, json={"name": "portal", "role": "reader"})

    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("rdy_")
    assert created.json()["prefix"] == secret[:10]
    listed = admin.get(KEYS).json()["items"]
    assert {"portal", "bootstrap-admin"} <= {k["name"] for k in listed}
    assert all("secret" not in k for k in listed)
    assert secret not in admin.get("/api/v1/audit-events").text

    def stored_values(session: Session) -> str:
        return repr(list(session.execute(text("SELECT * FROM api_key"))))

    assert secret not in db.work(stored_values, write=False)()


def test_duplicate_key_names_are_a_conflict(admin: TestClient) -> None:
    admin.post(KEYS, json={"name": "portal", "role": "reader"})

    assert_problem(admin.post(KEYS, json={"name": "portal", "role": "writer"}), 409)


@pytest.mark.parametrize("body", [{"name": "x", "role": "owner"}, {"name": "", "role": "reader"}, {"role": "reader"}])
def test_invalid_key_requests_are_422(admin: TestClient, body: dict[str, str]) -> None:
    assert_problem(admin.post(KEYS, json=body), 422)


def test_a_revoked_key_stops_working(client: TestClient, admin: TestClient) -> None:
    created = admin.post(KEYS, json={"name": "ci", "role": "writer"}).json()
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/v1/projects", headers=headers).status_code == 200

    assert admin.delete(f"{KEYS}/{created['id']}").status_code == 204

    assert_problem(client.get("/api/v1/projects", headers=headers), 401)
    revoked = next(k for k in admin.get(KEYS).json()["items"] if k["name"] == "ci")
    assert revoked["revoked_at"] is not None


def test_revoking_an_unknown_key_is_404(admin: TestClient) -> None:
    assert_problem(admin.delete(f"{KEYS}/00000000-0000-0000-0000-000000000000"), 404)
    # Ids are matched as UUIDs in the path, so anything else names no resource at all.
    assert_problem(admin.delete(f"{KEYS}/not-a-uuid"), 404)


def test_revocation_reaches_other_replicas_within_the_cache_bound(settings: Settings, db: Database) -> None:
    """Two apps on one database stand for two replicas; each caches verified keys briefly."""
    cached = settings.model_copy(update={"api_key_cache_seconds": 0.5})
    with TestClient(create_app(cached, db)) as replica_a, TestClient(create_app(cached, db)) as replica_b:
        admin_headers = {"Authorization": f"Bearer {ADMIN_SECRET}"}
        created = replica_a.post(KEYS, json={"name": "ci", "role": "writer"}, headers=admin_headers).json()
        headers = {"Authorization": f"Bearer {created['secret']}"}
        assert replica_b.get("/api/v1/projects", headers=headers).status_code == 200

        replica_a.delete(f"{KEYS}/{created['id']}", headers=admin_headers)
        assert replica_a.get("/api/v1/projects", headers=headers).status_code == 401
        time.sleep(0.6)
        assert replica_b.get("/api/v1/projects", headers=headers).status_code == 401


def test_the_bootstrap_key_is_rotated_when_the_setting_changes(settings: Settings, db: Database) -> None:
    new_secret = "rotated-admin-secret-abcdefghijklmnop"
    with TestClient(create_app(settings.model_copy(update={"bootstrap_admin_key": new_secret}), db)) as client:
        assert client.get(KEYS, headers={"Authorization": f"Bearer {new_secret}"}).status_code == 200
        assert_problem(client.get(KEYS, headers={"Authorization": f"Bearer {ADMIN_SECRET}"}), 401)
