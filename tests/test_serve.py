"""The real thing: `readiness serve` in its own process, over HTTP on 127.0.0.1."""

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DatabaseUrlFactory
from tests.served import Served


@pytest.fixture
def served(backend: str, database_url_factory: DatabaseUrlFactory, tmp_path: Path) -> Iterator[Served]:
    service = Served(database_url_factory(backend), tmp_path)
    with service:
        yield service
    # uvicorn shuts down gracefully, then re-raises the signal so that its exit status reports it.
    assert service.process is not None
    assert service.process.returncode in (0, -signal.SIGTERM)


def test_a_new_user_can_create_list_update_and_fetch_a_project(served: Served) -> None:
    with served.client() as api:
        created = api.post("/projects", json={"key": "claims-triage", "name": "Claims triage"})
        assert created.status_code == 201, created.text
        assert [p["key"] for p in api.get("/projects").json()["items"]] == ["claims-triage"]

        etag = created.headers["etag"]
        updated = api.patch("/projects/claims-triage", json={"department": "claims"}, headers={"If-Match": etag})
        assert updated.status_code == 200
        stale = api.patch("/projects/claims-triage", json={"department": "risk"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"

        fetched = api.get("/projects/claims-triage")
        assert fetched.json()["department"] == "claims"
        assert fetched.headers["etag"] == updated.headers["etag"]


def test_create_api_key_prints_a_secret_the_service_accepts(served: Served) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "create-api-key", "--name", "portal", "--role", "reader"],
        env=served.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    secret = result.stdout.strip()

    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{served.base}/api/v1/projects", headers=headers).status_code == 200
    forbidden = httpx.post(f"{served.base}/api/v1/projects", headers=headers, json={"key": "x-1", "name": "X"})
    assert forbidden.status_code == 403
