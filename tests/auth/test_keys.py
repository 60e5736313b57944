"""The key lifecycle: expiry, last use, rotation with a grace period, the bootstrap key, replays."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.clock import Clock
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET, _client_with_key
from tests.projects.test_api import assert_problem

KEYS = "/api/v1/api-keys"


def iso(clock: Clock, delta: timedelta) -> str:
    return (clock.now() + delta).isoformat()


def test_an_expired_key_is_401(client: TestClient, admin: TestClient, clock: Clock) -> None:
    created = admin.post(
        KEYS, json={"name": "short-lived", "role": "reader", "expires_at": iso(clock, timedelta(hours=1))}
    )
    assert created.status_code == 201, created.text
    short_lived = _client_with_key(client, created.json()["secret"])

    assert short_lived.get("/api/v1/projects").status_code == 200
    clock.advance(timedelta(hours=2))
    expired = short_lived.get("/api/v1/projects")

    assert_problem(expired, 401)
    assert "expired" in expired.json()["detail"]
    assert_problem(
        admin.post(KEYS, json={"name": "past", "role": "reader", "expires_at": iso(clock, -timedelta(1))}), 422
    )


def test_a_key_records_when_it_was_last_used_to_the_minute(client: TestClient, admin: TestClient) -> None:
    created = admin.post(KEYS, json={"name": "portal", "role": "reader"}).json()
    assert created["last_used_at"] is None

    _client_with_key(client, created["secret"]).get("/api/v1/projects")

    listed = {key["name"]: key for key in admin.get(KEYS).json()["items"]}
    assert listed["portal"]["last_used_at"] is not None


def test_rotation_gives_a_new_secret_and_the_old_one_works_for_the_grace_period(
    client: TestClient, admin: TestClient, clock: Clock
) -> None:
    created = admin.post(KEYS, json={"name": "ingest", "role": "writer", "departments": ["claims"]}).json()

    rotated = admin.post(f"{KEYS}/{created['id']}:rotate", json={"grace_period_seconds": 3600})

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"] != created["secret"]
    assert new["departments"] == ["claims"]
    assert new["previous_valid_until"] is not None
    old_client = _client_with_key(client, created["secret"])
    new_client = _client_with_key(client, new["secret"])
    assert old_client.get("/api/v1/projects").status_code == 200
    assert new_client.get("/api/v1/projects").status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    assert_problem(old_client.get("/api/v1/projects"), 401)
    assert new_client.get("/api/v1/projects").status_code == 200

    at_once = admin.post(f"{KEYS}/{created['id']}:rotate", json={"grace_period_seconds": 0}).json()
    assert_problem(new_client.get("/api/v1/projects"), 401)
    assert _client_with_key(client, at_once["secret"]).get("/api/v1/projects").status_code == 200


def test_an_idempotent_replay_never_carries_the_secret_nor_does_the_database(admin: TestClient, db: Database) -> None:
    headers = {"Idempotency-Key": "create-portal-key"}
    first = admin.post(KEYS, json={"name": "portal", "role": "reader"}, headers=headers)
    replay = admin.post(KEYS, json={"name": "portal", "role": "reader"}, headers=headers)

    assert first.json()["secret"].startswith("rdy_")
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["secret"] is None
    assert replay.json()["id"] == first.json()["id"]
    stored = db.work(
        lambda session: list(session.execute(text("SELECT response_body FROM idempotency_record")).scalars()),
        write=False,
    )()
    assert stored
    assert not any(first.json()["secret"] in body for body in stored)


def test_a_revoked_bootstrap_key_stays_revoked_across_restarts(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings, db)) as first:
        admin = _client_with_key(first, ADMIN_SECRET)
        bootstrap = next(k for k in admin.get(KEYS).json()["items"] if k["name"] == "bootstrap-admin")
        other = admin.post(KEYS, json={"name": "real-admin", "role": "admin"}).json()["secret"]
        assert admin.delete(f"{KEYS}/{bootstrap['id']}").status_code == 204

    with TestClient(create_app(settings, db)) as restarted:
        assert_problem(_client_with_key(restarted, ADMIN_SECRET).get(KEYS), 401)
        assert _client_with_key(restarted, other).get(KEYS).status_code == 200


def test_the_bootstrap_key_is_rotated_in_the_configuration_not_through_the_api(admin: TestClient) -> None:
    bootstrap = next(k for k in admin.get(KEYS).json()["items"] if k["name"] == "bootstrap-admin")

    refused = admin.post(f"{KEYS}/{bootstrap['id']}:rotate", json={})

    assert_problem(refused, 409)
    assert "READINESS_BOOTSTRAP_ADMIN_KEY" in refused.json()["detail"]
    assert admin.get(KEYS).status_code == 200
