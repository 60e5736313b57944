"""What every route shares: problem+json errors, body limits, media types, request ids, headers."""

import json
import logging
import re
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET, DatabaseUrlFactory
from tests.projects.factories import project_body
from tests.projects.test_api import assert_problem
from tests.served import ADMIN_SECRET as SERVED_SECRET
from tests.served import Served


def test_unknown_routes_and_methods_are_problems(admin: TestClient) -> None:
    assert_problem(admin.get("/api/v1/nothing-here"), 404)
    assert_problem(admin.delete("/api/v1/projects"), 405)
    # A method the path does not take is 405 whatever it sends, before its body is judged.
    form = admin.put("/api/v1/projects/claims-triage/evidence", files={"file": ("f", b"x")})
    assert assert_problem(form, 405)
    assert form.headers["allow"] == "GET, POST"


def test_malformed_json_is_400(writer: TestClient) -> None:
    response = writer.post("/api/v1/projects", content=b'{"key": ', headers={"Content-Type": "application/json"})

    assert assert_problem(response, 400)["type"].endswith("malformed-json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_is_415(writer: TestClient, content_type: str) -> None:
    response = writer.post(
        "/api/v1/projects", content=json.dumps(project_body()), headers={"Content-Type": content_type}
    )

    assert_problem(response, 415)
    assert writer.get("/api/v1/projects/claims-triage").status_code == 404


def test_a_body_over_the_limit_is_413(settings: Settings, db: Database) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    with TestClient(create_app(small, db), headers={"Authorization": f"Bearer {ADMIN_SECRET}"}) as client:
        big = project_body(description="x" * 4000)
        assert_problem(client.post("/api/v1/projects", json=big), 413)
        assert client.post("/api/v1/projects", json=project_body()).status_code == 201


def test_a_streamed_body_over_the_limit_is_413_without_a_content_length(settings: Settings, db: Database) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})

    def chunks() -> Iterator[bytes]:
        yield b'{"key": "streamed", "name": "'
        yield b"x" * 4096
        yield b'"}'

    with TestClient(create_app(small, db), headers={"Authorization": f"Bearer {ADMIN_SECRET}"}) as client:
        response = client.post(
            "/api/v1/projects",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert_problem(response, 413)


def test_batch_endpoints_have_their_own_larger_limit(settings: Settings, db: Database) -> None:
    limits = settings.model_copy(update={"max_body_bytes": 2048, "max_batch_body_bytes": 1024 * 1024})
    with TestClient(create_app(limits, db), headers={"Authorization": f"Bearer {ADMIN_SECRET}"}) as client:
        client.post("/api/v1/projects", json={"key": "p-1", "name": "P"})
        items = [{"project": "p-1", "name": f"ops.value_{i}", "value": i} for i in range(100)]
        assert client.post("/api/v1/facts:batch", json={"items": items}).status_code == 200


def test_the_request_id_is_honoured_or_generated_and_logged(
    admin: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.requests"):
        given = admin.get("/api/v1/projects", headers={"X-Request-ID": "trace-123"})
        generated = admin.get("/api/v1/projects", headers={"X-Request-ID": "bad id with spaces"})

    assert given.headers["x-request-id"] == "trace-123"
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32
    assert any(
        getattr(r, "path", None) == "/api/v1/projects" and getattr(r, "status", None) == 200 for r in caplog.records
    )


def test_authenticated_responses_are_not_cached_and_not_sniffed(admin: TestClient) -> None:
    response = admin.get("/api/v1/projects")

    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_cors_is_answered_only_for_configured_origins(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings.model_copy(update={"cors_origins": ["https://portal.example.com"]}), db)) as c:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = c.options("/api/v1/projects", headers={"Origin": "https://portal.example.com", **preflight})
        denied = c.options("/api/v1/projects", headers={"Origin": "https://evil.example.com", **preflight})

    assert allowed.headers["access-control-allow-origin"] == "https://portal.example.com"
    assert "access-control-allow-origin" not in denied.headers


def test_problem_types_are_stable_per_kind(admin: TestClient) -> None:
    problem = assert_problem(admin.get("/api/v1/projects/ghost"), 404)

    assert problem["type"] == "/problems/not-found"
    assert problem["title"] == "Not Found"


def _request(connection: socket.socket, path: str) -> bytes:
    """One request on a kept-alive connection, and its whole response (heads and a sized body)."""
    connection.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SERVED_SECRET}\r\n\r\n".encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_server_fault_is_a_problem_and_the_connection_stays_usable(
    database_url_factory: DatabaseUrlFactory, tmp_path: Path
) -> None:
    url = database_url_factory("sqlite")
    with Served(url, tmp_path) as served, served.client() as api:
        assert api.post("/projects", json=project_body()).status_code == 201
        assert api.get("/projects/claims-triage").status_code == 200
        # A stored project damaged behind the service's back: reading it is a fault of the server.
        path = make_url(url).database
        assert path is not None
        with sqlite3.connect(path) as damaged:
            damaged.execute("UPDATE project SET stakeholders = '{not json'")
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
            fault = _request(connection, "/api/v1/projects/claims-triage")
            after = _request(connection, "/healthz")

    assert fault.startswith(b"HTTP/1.1 500")
    assert b"application/problem+json" in fault
    assert b'"status":500' in fault
    assert b"Traceback" not in fault
    assert after.startswith(b"HTTP/1.1 200")
