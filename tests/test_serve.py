"""The real thing: `readiness serve` in its own process, over HTTP on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DatabaseUrlFactory

ADMIN_SECRET = "served-admin-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readiness_command() -> list[str]:
    return [sys.executable, "-m", "app.cli"]


@pytest.fixture
def served(
    backend: str, database_url_factory: DatabaseUrlFactory, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "READINESS_DATABASE_URL": database_url_factory(backend),
        "READINESS_BOOTSTRAP_ADMIN_KEY": ADMIN_SECRET,
        "READINESS_PORT": str(port),
        "READINESS_LOG_FORMAT": "json",
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([*readiness_command(), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the service did not become ready in 30 s"
            time.sleep(0.1)
        yield base, env
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so that its exit status reports it.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        log.close()


def test_a_new_user_can_create_list_update_and_fetch_a_project(served: tuple[str, dict[str, str]]) -> None:
    base, _env = served
    with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {ADMIN_SECRET}"}) as api:
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


def test_create_api_key_prints_a_secret_the_service_accepts(served: tuple[str, dict[str, str]]) -> None:
    base, env = served
    result = subprocess.run(
        [*readiness_command(), "create-api-key", "--name", "portal", "--role", "reader"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    secret = result.stdout.strip()

    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{base}/api/v1/projects", headers=headers).status_code == 200
    assert httpx.post(f"{base}/api/v1/projects", headers=headers, json={"key": "x-1", "name": "X"}).status_code == 403
