"""The outbox under concurrent writers and several dispatchers, on databases of their own (real
commits, no shared test transaction)."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Verifier

from app.core.changes import WRITTEN
from app.core.db import Database, make_engine
from app.core.destinations import AllowList
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.events.dispatcher import Dispatcher, DispatcherMetrics
from app.events.models import Event, Webhook
from app.events.outbox import envelope
from app.events.schemas import Ping
from app.main import create_app
from app.portfolio import watch
from app.portfolio.models import ProjectStatus
from tests.conftest import ADMIN_SECRET, DatabaseUrlFactory, issue_key, settled
from tests.events.receiver import Receiver, running_receiver
from tests.projects.factories import make_project
from tests.readiness.test_api import eventually


@pytest.fixture
def own_database(backend: str, database_url_factory: DatabaseUrlFactory) -> Iterator[tuple[str, Database]]:
    url = database_url_factory(backend)
    # More connections than threads: on a loaded machine, a pool only as large as the threads once
    # left a writer waiting past the pool's timeout (a 503), which is not what this test is about.
    engine = make_engine(url, pool_size=20)
    upgrade(engine)
    database = Database(engine, threads=10)
    yield url, database
    database.dispose()


def test_a_feed_follower_misses_no_event_committed_by_concurrent_writers(
    own_database: tuple[str, Database],
) -> None:
    url, database = own_database
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=ADMIN_SECRET,
        api_key_cache_seconds=0,
        dispatcher=False,
        rate_limit=0,
        auth_failure_limit=0,
    )
    with TestClient(create_app(settings, database)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        writer = TestClient(admin.app)
        writer.headers["Authorization"] = f"Bearer {issue_key(admin, 'writer')}"
        writers_done = threading.Event()
        seen: list[str] = []

        def write(worker: int) -> None:
            make_project(writer, f"project-{worker}")
            for round_ in range(25):
                writer.patch(
                    f"/api/v1/projects/project-{worker}",
                    json={"description": f"round {round_}"},
                    headers={"content-type": "application/merge-patch+json"},
                )

        def follow() -> None:
            cursor: str | None = None
            while True:
                finished = writers_done.is_set()
                page: dict[str, Any] = writer.get(
                    "/api/v1/events", params={"limit": 20, **({"after": cursor} if cursor else {})}
                ).json()
                seen.extend(event["id"] for event in page["items"])
                cursor = page["next_cursor"]
                if finished and not page["items"]:
                    return

        follower = threading.Thread(target=follow)
        follower.start()
        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # The re-scorer tells the readiness these writes changed in commits of its own, after them.
        assert settled(database)
        writers_done.set()
        follower.join(timeout=60)

    committed = database.work(lambda session: [str(i) for i in session.scalars(select(Event.id))], write=False)()
    assert len(committed) >= 8 * 26
    assert Counter(seen) == Counter(committed)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_sweep_neither_waits_behind_a_write_nor_stores_over_it(own_database: tuple[str, Database]) -> None:
    url, database = own_database
    settings = Settings(
        database_url=url, bootstrap_admin_key=ADMIN_SECRET, api_key_cache_seconds=0, rescorer=False, dispatcher=False
    )
    with TestClient(create_app(settings, database)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        for key in ("held", "free"):
            make_project(admin, key)
            admin.patch(
                f"/api/v1/projects/{key}",
                json={"description": "changed"},
                headers={"content-type": "application/merge-patch+json"},
            )

    def due_keys(session: Session) -> set[str]:
        return set(session.scalars(select(ProjectStatus.key).where(ProjectStatus.risk_changes_at == WRITTEN)))

    assert database.work(due_keys, write=False)() == {"held", "free"}
    holder = database.engine.connect()
    try:
        # A write in flight on "held": its row locked until it commits.
        holder.execute(select(ProjectStatus.key).where(ProjectStatus.key == "held").with_for_update())
        sweep = threading.Thread(target=database.work(watch.tell_due, write=True))
        sweep.start()
        sweep.join(timeout=10)
        assert not sweep.is_alive(), "the sweep waited for the write's lock"
        assert database.work(due_keys, write=False)() == {"held"}
    finally:
        holder.rollback()
        holder.close()
        sweep.join()
    database.work(watch.tell_due, write=True)()
    assert database.work(due_keys, write=False)() == set()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_dispatchers_deliver_every_event_once(own_database: tuple[str, Database]) -> None:
    _, database = own_database
    total = 10_000
    now = datetime.now(UTC)

    def fill(session: Session, url: str) -> None:
        session.add(Webhook(url=url, event_types=["*"], secret="whsec_" + "A" * 44, cursor=0))
        session.flush()
        rows = []
        for number in range(total):
            event_id = uuid.uuid4()
            subject = f"project-{number % 1000}"
            data = Ping(webhook_id=event_id, message=str(number))
            rows.append(
                {
                    "id": event_id,
                    "type": "project.updated",
                    "subject": subject,
                    "occurred_at": now,
                    "body": envelope(event_id, "project.updated", subject, now, data),
                }
            )
        session.execute(insert(Event), rows)

    with running_receiver() as receiver:
        database.work(fill, write=True)(receiver.url)
        asyncio.run(_deliver_with_two_dispatchers(database, receiver, total))

    ids = Counter(request.headers["webhook-id"] for request in receiver.received())
    assert len(ids) == total
    assert max(ids.values()) == 1


async def _deliver_with_two_dispatchers(database: Database, receiver: Receiver, total: int) -> None:
    dispatchers = [
        Dispatcher(
            database,
            allowed=AllowList.parse("127.0.0.1"),
            allow_http=True,
            metrics=DispatcherMetrics(CollectorRegistry()),
            poll_seconds=0.05,
        )
        for _ in range(2)
    ]
    for dispatcher in dispatchers:
        dispatcher.start()
    deadline = asyncio.get_running_loop().time() + 120
    while len(receiver.received()) < total and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    for dispatcher in dispatchers:
        await dispatcher.stop()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_delivery_loses_nothing(own_database: tuple[str, Database]) -> None:
    url, database = own_database
    now = datetime.now(UTC)

    def one_event(session: Session, hook: str) -> None:
        session.add(Webhook(url=hook, event_types=["*"], secret="whsec_" + "A" * 44, cursor=0))
        event_id = uuid.uuid4()
        data = Ping(webhook_id=event_id, message="the one")
        body = envelope(event_id, "project.updated", "claims-triage", now, data)
        session.add(Event(id=event_id, type="project.updated", subject="claims-triage", occurred_at=now, body=body))

    def worker() -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "READINESS_DATABASE_URL": url,
            "READINESS_WEBHOOK_ALLOWED_DESTINATIONS": "127.0.0.1",
            "READINESS_WEBHOOK_ALLOW_HTTP": "true",
            "READINESS_WEBHOOK_LEASE_SECONDS": "11",
            "READINESS_WORKER_POLL_SECONDS": "0.1",
            "READINESS_WORKER_METRICS_PORT": "0",
        }
        return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)

    with running_receiver() as receiver:
        receiver.answer(204, after_seconds=30)  # the first worker dies while this one is pending
        database.work(one_event, write=True)(receiver.url)
        first = worker()
        assert eventually(lambda: len(receiver.received()) == 1, seconds=20)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = worker()
        try:
            assert eventually(lambda: len(receiver.received()) == 2, seconds=30)
        finally:
            second.terminate()
            second.wait(timeout=30)

    once, again = receiver.received()
    assert once.headers["webhook-id"] == again.headers["webhook-id"]
    assert Verifier("whsec_" + "A" * 44).verify(again.body, again.headers)["data"]["message"] == "the one"
