"""Two service processes on one PostgreSQL, hammered from many threads at once: optimistic
concurrency holds, stage moves and decisions take turns, and every measurement lands exactly once."""

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import ApiKey
from app.auth.service import BOOTSTRAP_KEY_NAME, ensure_bootstrap_key
from app.core.db import Database, make_engine
from app.core.migrations import upgrade
from tests.conftest import DatabaseUrlFactory
from tests.served import Served

THREADS = 12
REPLICAS = 8


@pytest.fixture
def replicas(database_url_factory: DatabaseUrlFactory, tmp_path: Path) -> Iterator[list[Served]]:
    url = database_url_factory("postgresql")
    services = [Served(url, tmp_path, database_pool_size="4") for _ in range(2)]
    # Both start, and migrate, at once: the advisory lock lets one migrate and the other wait.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda service: service.start(), services))
    yield services
    for service in services:
        service.stop()


def at_once(replicas: list[Served], calls: int, request: Callable[[httpx.Client, int], httpx.Response]) -> list[Any]:
    clients = [service.client(timeout=30) for service in replicas]
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(lambda i: request(clients[i % len(clients)], i), range(calls)))
    finally:
        for client in clients:
            client.close()


def test_concurrent_updates_with_one_etag_let_exactly_one_through(
    replicas: list[Served], record_property: Callable[[str, object], None]
) -> None:
    with replicas[0].client() as api:
        etag = api.post("/projects", json={"key": "contended", "name": "Contended"}).headers["etag"]

    responses = at_once(
        replicas,
        24,
        lambda api, i: api.patch("/projects/contended", json={"region": f"region-{i}"}, headers={"If-Match": etag}),
    )

    statuses = Counter(response.status_code for response in responses)
    record_property("statuses", dict(statuses))
    winners = [response.json()["region"] for response in responses if response.status_code == 200]
    assert statuses[200] == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses
    with replicas[1].client() as api:
        assert api.get("/projects/contended").json()["region"] == winners[0]
        updates = api.get("/audit-events", params={"action": "project.update"}).json()["items"]
    assert len(updates) == 1


def test_concurrent_stage_moves_happen_once(replicas: list[Served]) -> None:
    with replicas[0].client() as api:
        api.post("/projects", json={"key": "moving", "name": "Moving"})
        api.post("/projects/moving/stage-transitions", json={"to": "poc"})

    responses = at_once(
        replicas, 20, lambda api, i: api.post("/projects/moving/stage-transitions", json={"to": "pilot"})
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses[201] == 1, statuses
    assert set(statuses) <= {201, 409}, statuses
    with replicas[1].client() as api:
        history = api.get("/projects/moving/stage-transitions").json()["items"]
    assert [(t["from"], t["to"]) for t in history] == [("idea", "poc"), ("poc", "pilot")]


def test_decisions_and_the_move_into_production_take_turns(replicas: list[Served]) -> None:
    with replicas[0].client() as api:
        api.post("/projects", json={"key": "gated", "name": "Gated"})
        for stage in ("poc", "pilot"):
            api.post("/projects/gated/stage-transitions", json={"to": stage})
        evaluation = api.post("/projects/gated/evaluations", json={}).json()["id"]
        go = {"evaluation_id": evaluation, "decision": "go", "on_behalf_of": "board", "override_reason": "test"}
        assert api.post("/projects/gated/decisions", json=go).status_code == 201
    no_go = {"evaluation_id": evaluation, "decision": "no_go", "on_behalf_of": "board"}

    def either(api: httpx.Client, i: int) -> httpx.Response:
        if i % 2:
            return api.post("/projects/gated/decisions", json=no_go)
        return api.post("/projects/gated/stage-transitions", json={"to": "production"})

    responses = at_once(replicas, 16, either)

    assert all(response.status_code in (201, 409) for response in responses), [r.text for r in responses]
    with replicas[1].client() as api:
        stage = api.get("/projects/gated").json()["stage"]
        moves = [t for t in api.get("/projects/gated/stage-transitions").json()["items"] if t["to"] == "production"]
        decisions = api.get("/projects/gated/decisions", params={"limit": 100}).json()["items"]
    assert len(moves) == (1 if stage == "production" else 0)
    if moves:
        before = [d for d in decisions if d["decided_at"] < moves[0]["transitioned_at"]]
        assert before[0]["decision"] == "go", "production opened although the latest decision was no_go"


def test_concurrent_batches_store_every_measurement_exactly_once(replicas: list[Served]) -> None:
    with replicas[0].client() as api:
        api.post("/projects", json={"key": "metered", "name": "Metered"})
        kpi = {"key": "cost", "name": "Cost", "category": "cost", "direction": "decrease", "baseline": 10, "target": 5}
        api.post("/projects/metered/kpis", json=kpi)

    def batch(api: httpx.Client, i: int) -> httpx.Response:
        items = [{"project": "metered", "kpi": "cost", "value": i * 1000 + n} for n in range(250)]
        return api.post("/measurements:batch", json={"items": items})

    responses = at_once(replicas, 32, batch)

    assert [response.status_code for response in responses] == [201] * 32
    with replicas[1].client() as api:
        values: list[float] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = api.get("/projects/metered/kpis/cost/measurements", params=params).json()
            values += [m["value"] for m in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(values) == sorted(float(i * 1000 + n) for i in range(32) for n in range(250))


def test_sqlite_under_concurrent_writers_answers_or_asks_to_retry(
    database_url_factory: DatabaseUrlFactory, tmp_path: Path
) -> None:
    url = database_url_factory("sqlite")
    first = Served(url, tmp_path).start()
    second = Served(url, tmp_path).start()
    try:
        with first.client() as api:
            api.post("/projects", json={"key": "local", "name": "Local"})
            kpi = {"key": "cost", "name": "Cost", "category": "cost", "direction": "decrease"}
            api.post("/projects/local/kpis", json=kpi)

        responses = at_once(
            [first, second], 60, lambda api, i: api.post("/projects/local/kpis/cost/measurements", json={"value": i})
        )

        statuses = Counter(response.status_code for response in responses)
        assert set(statuses) <= {201, 503}, statuses
        assert all("retry-after" in r.headers for r in responses if r.status_code == 503)
        with first.client() as api:
            stored = api.get("/projects/local/kpis/cost/measurements", params={"limit": 500}).json()["items"]
        acknowledged = {float(i) for i, r in enumerate(responses) if r.status_code == 201}
        assert {m["value"] for m in stored} == acknowledged
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_replicas_starting_together_create_the_bootstrap_key_once(
    backend: str, database_url_factory: DatabaseUrlFactory
) -> None:
    db = Database(make_engine(database_url_factory(backend), pool_size=REPLICAS), threads=REPLICAS)
    upgrade(db.engine)
    start_together = Barrier(REPLICAS)

    def start_replica(_: int) -> None:
        start_together.wait()
        db.work(ensure_bootstrap_key, write=True)(secret="bootstrap-secret-0123456789abcdef")

    try:
        with ThreadPoolExecutor(REPLICAS) as pool:
            list(pool.map(start_replica, range(REPLICAS)))
        with db.engine.connect() as connection:
            keys = connection.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.name == BOOTSTRAP_KEY_NAME))
            created = connection.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "api_key.create")
            )
    finally:
        db.dispose()
    assert (keys, created) == (1, 1)
