"""Abuse controls: request and failed-authentication limits, bodies refused before they are read,
limits on facts."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET, DatabaseUrlFactory, _client_with_key, issue_key
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem
from tests.served import Served

PROJECT = "/api/v1/projects/claims-triage"
LOOPBACK = ("127.0.0.1", 50000)


def admin_of(client: TestClient) -> TestClient:
    return TestClient(client.app, client=LOOPBACK, headers={"Authorization": f"Bearer {ADMIN_SECRET}"})


@pytest.fixture
def limited(settings: Settings, db: Database) -> Iterator[TestClient]:
    limits = {"rate_limit": 5, "auth_failure_limit": 10, "trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]}
    with TestClient(create_app(settings.model_copy(update=limits), db), client=LOOPBACK) as client:
        yield client


def test_a_burst_of_bad_keys_gets_429_after_the_limit_and_a_good_key_still_works(limited: TestClient) -> None:
    started = time.monotonic()
    answers = [
        limited.get("/api/v1/projects", headers={"Authorization": f"Bearer rdy_guess{n}"}).status_code
        for n in range(1000)
    ]
    # The bucket gives one attempt back every 6 seconds (10 a minute) while the burst runs.
    given_back = int((time.monotonic() - started) / 6) + 1

    assert answers[:10] == [401] * 10
    assert set(answers[10:]) <= {401, 429}
    assert answers[10:].count(401) <= given_back
    refused = limited.get("/api/v1/projects", headers={"Authorization": "Bearer rdy_guess"})
    assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-policy"] == '"auth-failures";q=10;w=60'
    assert refused.headers["ratelimit"].startswith('"auth-failures";r=0;t=')
    assert admin_of(limited).get("/api/v1/projects").status_code == 200


def test_failures_are_counted_per_client_address_behind_a_trusted_proxy(limited: TestClient) -> None:
    def guess(address: str) -> int:
        headers = {"Authorization": "Bearer rdy_guess", "X-Forwarded-For": f"{address}, 10.0.0.1"}
        return int(limited.get("/api/v1/projects", headers=headers).status_code)

    first = [guess("203.0.113.7") for _ in range(11)]
    other = guess("203.0.113.8")

    assert first[-1] == 429
    assert other == 401


def test_requests_beyond_the_rate_are_429_with_the_rate_limit_fields(limited: TestClient) -> None:
    admin = admin_of(limited)

    answers: list[httpx.Response] = []
    # Tokens come back at 5 a second, so a slow machine may need more than the burst to run dry.
    while len(answers) < 200 and (not answers or answers[-1].status_code != 429):
        answers.append(admin.get("/api/v1/projects"))

    statuses = [answer.status_code for answer in answers]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429
    first = answers[0]
    assert first.headers["ratelimit-policy"] == '"requests";q=10;w=2'
    assert first.headers["ratelimit"].startswith('"requests";r=9;t=')
    refused = answers[statuses.index(429)]
    assert_problem(refused, 429)
    assert refused.headers["retry-after"] == "1"


def test_a_batch_body_is_refused_unread_without_a_credential_and_only_batches_take_large_bodies(
    client: TestClient, writer: TestClient
) -> None:
    two_mib = b'{"items": [' + b" " * (2 * 1024 * 1024) + b"]}"
    json_type = {"content-type": "application/json"}

    anonymous = client.post("/api/v1/facts:batch", content=two_mib, headers=json_type)
    not_a_batch = writer.post(f"{PROJECT}:batch", content=two_mib, headers=json_type)
    a_batch = writer.post("/api/v1/facts:batch", content=two_mib, headers=json_type)

    assert_problem(anonymous, 401)
    assert_problem(not_a_batch, 413)
    assert_problem(a_batch, 422)


def test_fact_limits_names_per_project_value_size_and_urls(settings: Settings, db: Database) -> None:
    limits = {"max_facts_per_project": 3, "max_fact_value_bytes": 100}
    with TestClient(create_app(settings.model_copy(update=limits), db)) as client:
        admin = _client_with_key(client, ADMIN_SECRET)
        writer = _client_with_key(client, issue_key(admin, "writer"))
        make_project(writer)
        for name in ("a.one", "a.two", "a.three"):
            assert writer.put(f"{PROJECT}/facts/{name}", json={"value": True}).status_code == 201

        assert_problem(writer.put(f"{PROJECT}/facts/a.four", json={"value": True}), 422)
        assert writer.put(f"{PROJECT}/facts/a.one", json={"value": False}).status_code == 200
        batch = [{"project": "claims-triage", "name": "a.five", "value": 1}]
        assert_problem(writer.post("/api/v1/facts:batch", json={"items": batch}), 422)
        assert_problem(writer.put(f"{PROJECT}/facts/a.one", json={"value": "x" * 101}), 422)
        for bad in ("javascript:alert(1)", "ftp://files.example.com/runbook", "runbook", 42):
            response = writer.put(f"{PROJECT}/facts/ops.runbook_url", json={"value": bad})
            assert_problem(response, 422)
        assert len(admin.get(f"{PROJECT}/facts").json()["items"]) == 3


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_unauthenticated_large_posts_do_not_grow_the_server(
    database_url_factory: DatabaseUrlFactory, tmp_path: Path
) -> None:
    body = b"x" * (14 * 1024 * 1024)
    with Served(database_url_factory("sqlite"), tmp_path) as served:
        assert served.process is not None
        before = _rss_kib(served.process.pid)
        statuses: list[int] = []

        def post() -> None:
            try:
                response = httpx.post(
                    f"{served.base}/api/v1/measurements:batch",
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=30,
                )
                statuses.append(response.status_code)
            except httpx.TransportError:
                statuses.append(0)  # the server may close the connection on an unread body

        threads = [threading.Thread(target=post) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = _rss_kib(served.process.pid)

    assert set(statuses) <= {401, 0}
    assert 401 in statuses
    assert after - before < 20 * 1024, f"RSS grew by {(after - before) / 1024:.1f} MiB"


def test_ports_in_forwarded_addresses_do_not_make_new_clients(limited: TestClient) -> None:
    def guess(hop: str) -> int:
        headers = {"Authorization": "Bearer rdy_guess", "X-Forwarded-For": hop}
        return int(limited.get("/api/v1/projects", headers=headers).status_code)

    answers = [guess(f"198.51.100.9:{port}") for port in range(11)]
    v6 = [guess(f"[2001:db8:0:1::{n:x}]:443") for n in range(11)]

    assert answers[-1] == 429
    assert v6[-1] == 429


def test_a_reader_cannot_make_the_service_read_a_large_batch(reader: TestClient) -> None:
    two_mib = b'{"items": [' + b" " * (2 * 1024 * 1024) + b"]}"

    refused = reader.post("/api/v1/facts:batch", content=two_mib, headers={"content-type": "application/json"})

    assert_problem(refused, 403)


def _guesses(served: Served, *, forwarded_prefix: str) -> list[int]:
    """Bad keys from one address, each claiming another client in X-Forwarded-For: the API's, then
    the dashboard's sign-in, which counts toward the same limit."""
    answers = []
    with httpx.Client(base_url=served.base) as http:
        for n in range(8):
            headers = {"Authorization": f"Bearer rdy_guess{n}", "X-Forwarded-For": f"{forwarded_prefix}.{n}"}
            answers.append(http.get("/api/v1/projects", headers=headers).status_code)
        for n in range(8, 16):
            headers = {"X-Forwarded-For": f"{forwarded_prefix}.{n}", "Sec-Fetch-Site": "same-origin"}
            answers.append(http.post("/ui/sign-in", data={"key": f"rdy_guess{n}"}, headers=headers).status_code)
    return answers


def test_a_served_process_counts_forwarded_addresses_only_from_configured_trusted_proxies(
    database_url_factory: DatabaseUrlFactory, tmp_path: Path
) -> None:
    url = database_url_factory("sqlite")
    with Served(url, tmp_path, auth_failure_limit="5") as served:
        untrusted = _guesses(served, forwarded_prefix="203.0.113")
        with served.client() as api:
            good = api.get("/projects")
    with Served(url, tmp_path, auth_failure_limit="5", trusted_proxies='["127.0.0.1/32"]') as behind_a_proxy:
        trusted = _guesses(behind_a_proxy, forwarded_prefix="198.51.100")

    # Loopback is no trusted proxy unless configured: every guess is the one address it came from.
    assert untrusted[:5] == [401] * 5
    assert set(untrusted[5:]) == {429}
    assert good.status_code == 200
    # Behind a configured proxy, each forwarded client has a limit of its own.
    assert set(trusted) == {401}
