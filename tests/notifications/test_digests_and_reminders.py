"""Digests per recipient, and the decision reminders, told once each."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.core.clock import Clock
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.notifications.digests import period_before, period_key, period_start
from tests.conftest import ADMIN_SECRET, settled
from tests.events.receiver import Receiver
from tests.events.test_webhooks import deliver, make_ready
from tests.initiatives.helpers import MONITORING, create_initiative, post_facts
from tests.notifications.smtp import Relay
from tests.notifications.test_channels import (
    CHANNELS,
    PUBLIC_URL,
    chat_bodies,
    open_channel,
    with_channels,
    writer_of,
)
from tests.projects.factories import make_project
from tests.readiness.test_api import eventually

PARIS = "Europe/Paris"


def test_a_digest_on_an_owners_channel_mails_each_owner_only_their_projects(
    service: TestClient, relay: Relay, db: Database
) -> None:
    writer = writer_of(service)
    make_ready(writer)  # claims-triage: Ana and Bo own it, and nothing in it needs them
    due = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    make_project(
        writer,
        "fraud-scoring",
        name="Fraud scoring",
        business_owner={"name": "Cy Ames", "email": "cy@example.com"},
        technical_owner={"name": "Bo Lee", "email": "bo@example.com"},
        decision_date=due,
    )
    assert settled(db)
    channel = open_channel(service, kind="email", to="owners", event_types=[])

    sent = service.post(f"{CHANNELS}/{channel['id']}:digest")
    deliver(service)

    assert sent.status_code == 202, sent.text
    assert sorted(d["recipient"] for d in sent.json()["deliveries"]) == ["bo@example.com", "cy@example.com"]
    assert sent.json()["recipients_with_nothing"] == 1
    assert relay.to("ana@example.com") == []
    for owner in ("bo@example.com", "cy@example.com"):
        (mail,) = relay.to(owner)
        text = mail.text
        assert mail.message["Subject"] == "Current AI readiness digest: 1 project needs attention"
        assert "Fraud scoring (fraud-scoring)" in text
        assert "Claims triage" not in text
        assert "Go-live gate blocked: Business KPIs defined and measurable." in text
        assert "No KPI is defined, so nothing is measured." in text
        assert f"The go/no-go decision is due on {due}." in text
        assert f"{PUBLIC_URL}/ui/projects/fraud-scoring" in text


def test_a_digest_covers_the_channels_departments_and_is_for_email_channels_only(
    service: TestClient, relay: Relay, db: Database
) -> None:
    writer = writer_of(service)
    make_project(writer, "fraud-scoring", name="Fraud scoring", department="risk")
    make_project(writer, "claims-triage")
    assert settled(db)
    channel = open_channel(service, kind="email", to=["risk-board@example.com"], departments=["risk"])
    chat = open_channel(service, kind="slack", url="http://127.0.0.1:9/hooks")

    service.post(f"{CHANNELS}/{channel['id']}:digest")
    deliver(service)

    (mail,) = relay.to("risk-board@example.com")
    assert "Fraud scoring" in mail.text
    assert "Claims triage" not in mail.text
    assert service.post(f"{CHANNELS}/{chat['id']}:digest").status_code == 422


def test_digest_periods_start_on_monday_or_the_first_at_eight_in_the_time_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(PARIS)
    monday_early = datetime(2026, 12, 7, 6, 59, tzinfo=UTC)  # 07:59 in Paris
    monday_later = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert period_key("weekly", period_start("weekly", monday_early, zone)) == "2026-W49"
    assert period_key("weekly", period_start("weekly", monday_later, zone)) == "2026-W50"
    assert period_key("monthly", period_start("monthly", datetime(2026, 12, 1, 6, 0, tzinfo=UTC), zone)) == "2026-11"
    assert period_key("monthly", period_start("monthly", datetime(2026, 12, 1, 7, 0, tzinfo=UTC), zone)) == "2026-12"
    start = period_start("monthly", datetime(2026, 12, 15, tzinfo=UTC), zone)
    assert [day.isoformat() for day in period_before("monthly", start)] == ["2026-11-01", "2026-11-30"]
    start = period_start("weekly", monday_later, zone)
    assert [day.isoformat() for day in period_before("weekly", start)] == ["2026-11-30", "2026-12-06"]


def test_a_scheduled_digest_goes_once_per_period_across_restarts_with_the_report_attached(
    settings: Settings, db: Database, relay: Relay, clock: Clock
) -> None:
    configured = with_channels(settings, relay)
    with TestClient(create_app(configured, db)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        make_project(writer_of(admin))
        assert settled(db)
        open_channel(admin, kind="email", to=["steering@example.com"], digest="weekly", steering_report=True)
        deliver(admin)
        assert relay.received() == []  # the first digest waits for the next period
        clock.advance(timedelta(days=7))
        deliver(admin)
        assert len(relay.received()) == 1
    with TestClient(create_app(configured, db)) as restarted:
        deliver(restarted)

    (mail,) = relay.to("steering@example.com")
    assert mail.message["Subject"].startswith("Weekly AI readiness digest")
    (report,) = list(mail.message.iter_attachments())
    assert report.get_content_type() == "application/pdf"
    assert str(report.get_filename()).startswith("steering-report-")
    assert report.get_content()[:5] == b"%PDF-"


def events(client: TestClient, types: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/events", params={"types": types, "limit": 500}).json()["items"]
    return items


def catch_up(client: TestClient) -> None:
    """The re-scorer's sweep, as it runs within a minute of a moment."""
    rescorer = client.app.state.rescorer  # type: ignore[attr-defined]
    client.portal.call(rescorer.catch_up)  # type: ignore[union-attr]


def test_a_decision_six_days_away_is_due_once_and_overdue_the_day_after_without_a_decision(
    settings: Settings, db: Database, relay: Relay, clock: Clock
) -> None:
    configured = with_channels(settings, relay, timezone=PARIS)
    date = (datetime.now(UTC) + timedelta(days=6)).date()
    with TestClient(create_app(configured, db)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        make_project(writer_of(admin), decision_date=date.isoformat())
        assert eventually(lambda: len(events(admin, "decision.*")) == 1, seconds=5)
        catch_up(admin)
    with TestClient(create_app(configured, db)) as restarted:
        restarted.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        catch_up(restarted)
        (due,) = events(restarted, "decision.*")
        assert (due["type"], due["subject"]) == ("decision.due", "claims-triage")
        assert due["data"] == {"project": "claims-triage", "decision_date": date.isoformat(), "days_left": 6}

        clock.advance(timedelta(days=6))  # the date itself: due, not yet overdue
        catch_up(restarted)
        assert [e["type"] for e in events(restarted, "decision.*")] == ["decision.due"]
        clock.advance(timedelta(days=1, hours=1))
        catch_up(restarted)
        catch_up(restarted)
        told = events(restarted, "decision.*")
        assert [e["type"] for e in told] == ["decision.due", "decision.overdue"]
        assert told[1]["data"]["decision_date"] == date.isoformat()

        moved = (clock.now().date() + timedelta(days=3)).isoformat()
        response = restarted.patch(
            "/api/v1/projects/claims-triage",
            json={"decision_date": moved},
            headers={"content-type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text
        catch_up(restarted)
        told = events(restarted, "decision.*")
        assert [e["type"] for e in told] == ["decision.due", "decision.overdue", "decision.due"]
        assert told[2]["data"]["decision_date"] == moved


def test_reminders_are_also_told_to_channels_in_words(service: TestClient, relay: Relay, db: Database) -> None:
    date = (datetime.now(UTC) + timedelta(days=6)).date().isoformat()
    channel = open_channel(service, kind="email", to=["steering@example.com"], event_types=["decision.*"])
    make_project(writer_of(service), decision_date=date)
    assert settled(db)
    catch_up(service)
    deliver(service)

    (mail,) = relay.to("steering@example.com")
    assert mail.message["Subject"] == f"Claims triage: go/no-go decision due {date}"
    assert f"The go/no-go decision on Claims triage is planned for {date}, in 6 days." in mail.text
    log = service.get(f"{CHANNELS}/{channel['id']}/deliveries").json()["items"]
    assert [(d["event_type"], d["state"]) for d in log] == [("decision.due", "succeeded")]
    assert json.loads(service.get("/api/v1/events", params={"types": "decision.due"}).text)["items"]


def test_an_initiative_completed_reaches_a_chat_room_in_its_own_words(
    service: TestClient, receiver: Receiver, db: Database
) -> None:
    open_channel(service, kind="slack", url=receiver.url, event_types=["initiative.*"])
    writer = writer_of(service)
    make_project(writer, "claims-triage")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(service)
    assert settled(db)
    catch_up(service)
    deliver(service)

    (body,) = chat_bodies(receiver)
    assert "Monitoring in claims: complete" in body["text"]
    assert "all 1 projects in scope meet its goal" in json.dumps(body)
    assert f"{PUBLIC_URL}/ui/initiatives/monitoring" in json.dumps(body)
