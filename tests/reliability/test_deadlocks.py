"""Two transactions that wait on each other: PostgreSQL aborts one, and the service runs it again
instead of answering 503, whether the locks are rows or the outbox's order lock."""

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.core.db import Database, make_engine
from app.core.migrations import upgrade
from app.projects.models import Project
from tests.conftest import DatabaseUrlFactory
from tests.projects.factories import project_body
from tests.reliability.test_concurrency import at_once, replicas  # noqa: F401 (a fixture)
from tests.served import Served


@pytest.fixture
def database(database_url_factory: DatabaseUrlFactory) -> Iterator[Database]:
    engine = make_engine(database_url_factory("postgresql"), pool_size=4)
    upgrade(engine)
    found = Database(engine, threads=4)
    yield found
    found.dispose()


def test_a_write_aborted_by_a_deadlock_runs_again_and_both_writers_finish(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    def add(session: Session) -> None:
        session.add_all([Project(key="first", name="First"), Project(key="second", name="Second")])

    database.work(add, write=True)()
    both_hold_one = threading.Barrier(2)
    attempts: Counter[str] = Counter()

    def rename(session: Session, *, order: tuple[str, str]) -> None:
        attempts[order[0]] += 1
        for index, key in enumerate(order):
            session.execute(select(Project).where(Project.key == key).with_for_update())
            if index == 0 and attempts[order[0]] == 1:
                both_hold_one.wait(timeout=10)
        session.execute(text("UPDATE project SET name = name || '.' WHERE key = :key"), {"key": order[0]})

    with caplog.at_level(logging.WARNING, logger="app.core.db"), ThreadPoolExecutor(2) as pool:
        first = pool.submit(database.work(rename, write=True), order=("first", "second"))
        second = pool.submit(database.work(rename, write=True), order=("second", "first"))
        first.result(timeout=30)
        second.result(timeout=30)

    def names(session: Session) -> set[str]:
        return set(session.scalars(select(Project.name)))

    assert database.work(names, write=False)() == {"First.", "Second."}
    assert sorted(attempts.values()) == [1, 2]
    assert "running it again" in caplog.text


def test_re_scoring_and_writes_on_the_same_projects_side_by_side_see_no_503(replicas: list[Served]) -> None:  # noqa: F811
    keys = [f"contended-{n}" for n in range(12)]
    with replicas[0].client() as api:
        for key in keys:
            assert api.post("/projects", json=project_body(key)).status_code == 201
        rubric = api.get("/rubrics/ai-production-readiness").json()

    def work(api: httpx.Client, i: int) -> httpx.Response:
        key = keys[i % len(keys)]
        match i % 4:
            case 0:
                # Every project the rubric governs is marked and re-scored, with its events.
                sections = [{**section, "weight": 1 + (i % 3)} for section in rubric["sections"]]
                return api.post("/rubrics/ai-production-readiness/versions", json={**rubric, "sections": sections})
            case 1:
                return api.put(f"/projects/{key}/facts/ops.monitoring_enabled", json={"value": i % 8 == 1})
            case 2:
                merge_patch = {"content-type": "application/merge-patch+json"}
                return api.patch(f"/projects/{key}", json={"region": f"region-{i}"}, headers=merge_patch)
            case _:
                move = {"to": "poc"} if i % 8 == 3 else {"to": "idea", "reason": "back to the drawing board"}
                return api.post(f"/projects/{key}/stage-transitions", json=move)

    statuses = Counter(response.status_code for response in at_once(replicas, 120, work))

    assert statuses[503] == 0, statuses
    assert statuses[500] == 0, statuses
