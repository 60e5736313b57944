"""An initiative's burn-up, week by week, checked against figures the test computes from what the
API says happened (creations, stage transitions, the readiness history), weeks before the
initiative existed included; and what it says where the history is older than the statuses it keeps."""

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.clock import Clock
from app.core.db import Database
from app.readiness.models import ReadinessHistory
from tests.evaluations.test_api import GO_LIVE_FACTS, iso
from tests.initiatives.helpers import INITIATIVES, PROJECTS, create_initiative, iso_week, monday, post_facts, progress
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.rubrics.test_api import RUBRICS, weakest_link_rubric

WEEK = timedelta(days=7)


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


class Weeks:
    """Wednesdays, 10:00 UTC, some weeks back from this week's; the service's clock moves to them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.this_monday = monday(clock.now().date())

    def at(self, weeks: int) -> datetime:
        return datetime.combine(self.this_monday - weeks * WEEK + timedelta(days=2), time(10), tzinfo=UTC)

    def __call__(self, weeks: int) -> datetime:
        moment = self.at(weeks)
        self.clock.advance(moment - self.clock.now())
        return moment


@pytest.fixture
def weeks_ago(clock: Clock) -> Iterator[Weeks]:
    yield Weeks(clock)
    clock.reset()


def rescore(client: TestClient, key: str) -> None:
    """Read the readiness, so that it is re-scored (and its history written) at the clock's time."""
    assert client.get(f"{PROJECTS}/{key}/readiness").status_code == 200


def pass_the_gate(writer: TestClient, key: str, now: datetime) -> None:
    post_facts(writer, key, {**GO_LIVE_FACTS, "ops.rollback_tested_at": iso(now - timedelta(days=1))})
    post_facts(writer, key, {"ops.rollback_procedure_url": "https://wiki.example.com/rollback"})
    make_kpi(writer, key, cost_kpi())
    measured = writer.post(f"{PROJECTS}/{key}/kpis/handling-cost/measurements", json={"value": 30})
    assert measured.status_code == 201, measured.text
    rescore(writer, key)


def history(client: TestClient, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"{PROJECTS}/{key}/readiness/history", params={"limit": 500}).json()[
        "items"
    ]
    return sorted(items, key=lambda item: item["changed_at"])


def expected_burn_up(client: TestClient, keys: list[str], weeks: list[dict[str, Any]], stage: str | None) -> list[Any]:
    """Per finished week: projects in scope and done as it ended, from the API's own histories."""
    figures = []
    for week in weeks[:-1]:
        end = parse(week["as_of"])
        in_scope = done = 0
        for key in keys:
            project = client.get(f"{PROJECTS}/{key}").json()
            if parse(project["created_at"]) >= end:
                continue
            moves = client.get(f"{PROJECTS}/{key}/stage-transitions").json()["items"]
            then = [move["to"] for move in moves if parse(move["transitioned_at"]) < end]
            if stage is not None and (then[-1] if then else "idea") != stage:
                continue
            in_scope += 1
            rows = [row for row in history(client, key) if parse(row["changed_at"]) < end]
            done += bool(rows and rows[-1]["gate_passed"])
        figures.append((week["week"], in_scope, done))
    return figures


def test_the_burn_up_matches_the_readiness_history_weeks_before_the_initiative_included(
    writer: TestClient, approver: TestClient, weeks_ago: Weeks, db: Database
) -> None:
    weeks_ago(5)
    for key in ("claims-triage", "claims-fraud", "claims-docs"):
        make_project(writer, key)
        rescore(writer, key)
    now = weeks_ago(4)
    pass_the_gate(writer, "claims-triage", now)
    assert writer.post(f"{PROJECTS}/claims-triage/stage-transitions", json={"to": "poc"}).status_code == 201
    now = weeks_ago(3)
    pass_the_gate(writer, "claims-fraud", now)
    make_project(writer, "claims-late")
    rescore(writer, "claims-late")
    assert writer.post(f"{PROJECTS}/claims-docs/stage-transitions", json={"to": "poc"}).status_code == 201
    weeks_ago(2)
    post_facts(writer, "claims-triage", {"security.review_completed": False})
    rescore(writer, "claims-triage")
    weeks_ago(0)
    create_initiative(approver, "gate", goal={"gate": True}, starts_at=iso(weeks_ago.at(6)))
    create_initiative(approver, "gate-in-poc", goal={"gate": True}, scope={"department": "claims", "stage": "poc"})
    approver.patch(f"{INITIATIVES}/gate-in-poc", json={"starts_at": iso(weeks_ago.at(6))})

    keys = ["claims-docs", "claims-fraud", "claims-late", "claims-triage"]
    for key, stage in (("gate", None), ("gate-in-poc", "poc")):
        burn_up = progress(approver, key)["burn_up"]
        assert [week["week"] for week in burn_up] == [
            iso_week(monday(weeks_ago.at(n).date())) for n in range(6, -1, -1)
        ]
        shown = [(week["week"], week["in_scope"], week["done"]) for week in burn_up[:-1]]
        assert shown == expected_burn_up(writer, keys, burn_up, stage)
        live = progress(approver, key)
        assert (burn_up[-1]["in_scope"], burn_up[-1]["done"]) == (live["in_scope"], live["done"])
        assert progress(approver, key)["exact_from"] == burn_up[0]["week"]
    figures = [(week["in_scope"], week["done"]) for week in progress(approver, "gate")["burn_up"]]
    assert figures == [(0, 0), (3, 0), (3, 1), (4, 2), (4, 1), (4, 1), (4, 1)]


def test_a_change_of_criteria_alone_is_kept_for_the_burn_up_but_not_shown_in_the_history(
    admin: TestClient, approver: TestClient, weeks_ago: Weeks, db: Database
) -> None:
    assert admin.post(RUBRICS, json=weakest_link_rubric()).status_code == 201
    weeks_ago(2)
    # No business owner: the owners section is the weakest, at 0, whatever happens to infra.
    make_project(admin, "lean-one", rubric="weakest-link", business_owner=None)
    rescore(admin, "lean-one")
    weeks_ago(1)
    moved = admin.patch(f"{PROJECTS}/lean-one", json={"deployment": {"target": "public_cloud"}})
    assert moved.status_code == 200, moved.text
    rescore(admin, "lean-one")
    weeks_ago(0)

    create_initiative(
        approver, "private", goal={"criteria": ["infra.private"]}, scope={}, starts_at=iso(weeks_ago.at(2))
    )

    assert len(history(admin, "lean-one")) == 1
    assert sorted(db.work(_significance, write=False)()) == [False, True]
    assert [week["done"] for week in progress(approver, "private")["burn_up"]] == [1, 0, 0]


def _significance(session: Session) -> list[bool]:
    return list(session.scalars(select(ReadinessHistory.significant)))


def _forget_statuses_before(session: Session, moment: datetime) -> None:
    session.execute(update(ReadinessHistory).where(ReadinessHistory.changed_at < moment).values(statuses=None))


def test_older_history_without_statuses_says_from_which_week_the_burn_up_is_exact(
    writer: TestClient, approver: TestClient, weeks_ago: Weeks, db: Database
) -> None:
    weeks_ago(3)
    make_project(writer, "claims-triage", business_owner=None)
    rescore(writer, "claims-triage")
    weeks_ago(1)
    post_facts(writer, "claims-triage", {"ops.monitoring_enabled": True})
    rescore(writer, "claims-triage")
    # As if the service had been upgraded in between: the first row predates the statuses.
    db.work(_forget_statuses_before, write=True)(moment=weeks_ago.at(2))
    weeks_ago(0)

    create_initiative(
        approver, "owners", goal={"criteria": ["stakeholders.business_owner"]}, starts_at=iso(weeks_ago.at(3))
    )
    shown = progress(approver, "owners")

    assert [week["exact"] for week in shown["burn_up"]] == [False, False, True, True]
    assert shown["exact_from"] == shown["burn_up"][2]["week"]
    create_initiative(approver, "gate", goal={"gate": True}, starts_at=iso(weeks_ago.at(3)))
    assert progress(approver, "gate")["exact_from"] == shown["burn_up"][0]["week"]
