"""The demo's programme, "gate criteria met for production projects in claims by a date", over the
demo's months of history: what it shows, what one fact changes, and the news it tells."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.clock import clock
from app.core.db import make_engine
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.demo import INITIATIVE, Outcome, build
from app.main import create_app
from tests.conftest import DatabaseUrlFactory
from tests.evaluations.test_api import iso
from tests.initiatives.helpers import INITIATIVES, PROJECTS, comes_true, post_facts, progress, told
from tests.initiatives.test_burnup import expected_burn_up

KEY = str(INITIATIVE["key"])


@pytest.fixture(scope="module")
def demo_settings(backend: str, database_url_factory: DatabaseUrlFactory) -> Settings:
    url = database_url_factory(backend)
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return Settings(database_url=url, dispatcher=False, rate_limit=0, auth_failure_limit=0, api_key_cache_seconds=0)


@pytest.fixture(scope="module")
def outcome(demo_settings: Settings) -> Outcome:
    return build(demo_settings)


@pytest.fixture(scope="module")
def api(demo_settings: Settings, outcome: Outcome) -> Iterator[TestClient]:
    """The demo's service with its re-scorer running, as `readiness serve` runs it."""
    with TestClient(create_app(demo_settings)) as client:
        client.headers["Authorization"] = f"Bearer {outcome.admin_secret}"
        yield client


def claims_projects(api: TestClient) -> list[str]:
    listed = api.get(f"{PROJECTS}", params={"department": "claims", "limit": 500}).json()["items"]
    return sorted(project["key"] for project in listed)


def test_the_programme_shows_in_scope_done_and_remaining_with_what_each_misses(api: TestClient) -> None:
    shown = progress(api, KEY)

    assert (shown["in_scope"], shown["done"]) == (4, 3)
    assert [(item["project"], item["missing"]) for item in shown["remaining"]] == [
        ("claims-first-notice", ["go_live.rollback_tested"])
    ]
    assert shown["by_department"] == [{"department": "claims", "in_scope": 4, "done": 3}]


def test_the_weekly_burn_up_matches_the_readiness_history_before_the_programme_existed(api: TestClient) -> None:
    burn_up = progress(api, KEY)["burn_up"]
    created = api.get(f"{INITIATIVES}/{KEY}").json()["created_at"]

    assert len(burn_up) > 30
    assert sum(1 for week in burn_up if week["as_of"] < created) > 30
    shown = [(week["week"], week["in_scope"], week["done"]) for week in burn_up[:-1]]
    assert shown == expected_burn_up(api, claims_projects(api), burn_up, "production")
    # Fraud flags passed through production on its way to scaling; triage and its two replicas
    # stay; first notice, never tested again after go-live, lapsed since.
    assert max(done for _, _, done in shown) == 5
    assert shown[-1][1:] == (4, 3)
    assert progress(api, KEY)["exact_from"] == burn_up[0]["week"]


def test_a_programme_past_its_date_with_projects_remaining_tells_overdue_once(api: TestClient) -> None:
    late = {
        **INITIATIVE,
        "key": "claims-gate-last-quarter",
        "starts_at": iso(clock.now() - timedelta(days=120)),
        "target_date": (clock.now() - timedelta(days=7)).date().isoformat(),
    }
    assert api.post(INITIATIVES, json=late).status_code == 201

    assert comes_true(lambda: len(told(api, "initiative.overdue")) == 1)
    (event,) = told(api, "initiative.overdue")
    assert (event["subject"], event["data"]["remaining"]) == ("claims-gate-last-quarter", 1)
    assert progress(api, "claims-gate-last-quarter")["overdue"] is True
    assert api.delete(f"{INITIATIVES}/claims-gate-last-quarter").status_code == 204


def test_posting_the_missing_fact_moves_the_project_to_done_and_completes_the_programme_once(
    api: TestClient,
) -> None:
    assert told(api, "initiative.completed") == []

    post_facts(api, "claims-first-notice", {"ops.rollback_tested_at": iso(clock.now())})

    assert comes_true(lambda: progress(api, KEY)["done"] == 4)
    assert progress(api, KEY)["remaining"] == []
    assert comes_true(lambda: len(told(api, "initiative.completed")) == 1)
    post_facts(api, "claims-first-notice", {"perf.benchmarks_tracked": True})
    assert comes_true(lambda: api.get(f"{PROJECTS}/claims-first-notice/readiness").status_code == 200)
    (event,) = told(api, "initiative.completed")
    assert event["subject"] == KEY
    assert event["data"]["summary"].startswith("Gate criteria met for production projects in claims is complete")
