"""Focus: "resist the temptation to jump to entirely new use cases before the first one is stable".
A project starting in a department whose deployment is not stable carries the `focus` stall signal
naming that deployment, until time and the deployment's runbooks and training settle it."""

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.core.clock import Clock
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.portfolio.models import ProjectStatus
from app.portfolio.status import refresh_missing
from tests.conftest import ADMIN_SECRET, settled
from tests.platforms.factories import PROJECTS, deploy
from tests.projects.factories import make_project
from tests.readiness.test_api import eventually

ADVICE = "resist the temptation to jump to entirely new use cases before the first one is stable"


def focus_of(client: TestClient, key: str) -> dict[str, Any] | None:
    signals = client.get(f"{PROJECTS}/{key}/readiness").json()["stall"]["signals"]
    return next((signal for signal in signals if signal["dimension"] == "focus"), None)


def stalled_focus(client: TestClient, key: str) -> dict[str, Any] | None:
    rows = client.get("/api/v1/portfolio/stalled", params={"limit": 500}).json()["items"]
    row = next((row for row in rows if row["key"] == key), None)
    signals = row["signals"] if row is not None else []
    return next((signal for signal in signals if signal["dimension"] == "focus"), None)


def warned(client: TestClient) -> list[str]:
    return [warning["key"] for warning in client.get("/api/v1/portfolio/scaling").json()["focus"]]


def start_poc(writer: TestClient, key: str, **fields: Any) -> None:
    make_project(writer, key, **fields)
    assert writer.post(f"{PROJECTS}/{key}/stage-transitions", json={"to": "poc"}).status_code == 201


def test_a_new_poc_beside_a_ten_day_old_deployment_is_told_to_focus_until_time_and_training_settle_it(
    writer: TestClient, approver: TestClient, settings: Settings, db: Database, clock: Clock
) -> None:
    deploy(writer, approver, "claims-triage")
    clock.advance(timedelta(days=10))
    start_poc(writer, "claims-chatbot")
    # The deployment's readiness in production (its runbook and support criteria) is what the
    # signal names: read once the re-scorer has caught up with its move into production.
    assert settled(db)

    on_the_page = focus_of(writer, "claims-chatbot")
    listed = stalled_focus(writer, "claims-chatbot")
    in_view = warned(writer)
    trained = writer.put(f"{PROJECTS}/claims-triage/facts/support.team_trained", json={"value": True})
    still = eventually(lambda: stalled_focus(writer, "claims-chatbot") is not None, seconds=2)

    clock.advance(timedelta(days=30))
    sweeping = settings.model_copy(update={"rescore_sweep_seconds": 0.1})
    with TestClient(create_app(sweeping, db)) as service:
        service.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        # No write: the sweep finds the deployment's 30 days, and its runbooks met, by itself.
        gone = eventually(lambda: warned(service) == [], seconds=10)
        page_after = focus_of(service, "claims-chatbot")

    assert on_the_page is not None
    assert on_the_page["pattern"] == "stalled"
    assert on_the_page["reason"].startswith(f"{ADVICE}: claims-triage in production since ")
    assert "runbooks not documented" in on_the_page["reason"]
    assert "operations and support not trained" in on_the_page["reason"]
    assert listed == on_the_page
    assert in_view == ["claims-chatbot"]
    assert trained.status_code == 201
    assert still
    assert gone
    assert page_after is None


def test_replicas_adjacent_expansions_of_stable_work_and_other_departments_are_not_told_to_focus(
    writer: TestClient, approver: TestClient
) -> None:
    deploy(writer, approver, "claims-triage", domain="claims")
    start_poc(writer, "claims-triage-apac", region="apac", replica_of="claims-triage")
    start_poc(writer, "marketing-poc", department="marketing")
    start_poc(writer, "home-claims", domain="claims", adjacent_to="claims-triage")
    start_poc(writer, "claims-idea", domain="claims")

    assert focus_of(writer, "claims-triage-apac") is None
    assert focus_of(writer, "marketing-poc") is None
    # Adjacent to a deployment that is not stable yet: no exemption.
    assert focus_of(writer, "home-claims") is not None
    assert eventually(lambda: warned(writer) == ["claims-idea", "home-claims"])


def test_moving_the_deployment_out_of_production_ends_the_focus_of_its_department(
    writer: TestClient, approver: TestClient
) -> None:
    deploy(writer, approver, "claims-triage")
    start_poc(writer, "claims-chatbot")
    assert eventually(lambda: warned(writer) == ["claims-chatbot"])

    back = writer.post(f"{PROJECTS}/claims-triage/stage-transitions", json={"to": "pilot", "reason": "Incidents"})

    assert back.status_code == 201
    assert focus_of(writer, "claims-chatbot") is None
    assert eventually(lambda: warned(writer) == [])
    assert eventually(lambda: stalled_focus(writer, "claims-chatbot") is None)


def test_after_an_upgrade_the_rows_of_deployments_and_of_the_projects_that_read_them_are_filled_in(
    writer: TestClient, approver: TestClient, db: Database
) -> None:
    deploy(writer, approver, "claims-triage")
    start_poc(writer, "claims-chatbot")
    assert settled(db)

    def as_before_the_upgrade(session: Session) -> None:
        session.execute(update(ProjectStatus).values(deployment=None, focus_on=None))

    db.work(as_before_the_upgrade, write=True)()
    assert warned(writer) == []
    refreshed = db.work(refresh_missing, write=True)()

    assert refreshed == 1
    assert warned(writer) == ["claims-chatbot"]
