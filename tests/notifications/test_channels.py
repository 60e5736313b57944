"""Notification channels: news written for people, by email through a real SMTP server and to chat
rooms on loopback, delivered by the dispatcher; the destination rules; the delivery log."""

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.core.clock import Clock
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET, issue_key, settled
from tests.evaluations.test_api import PROJECT
from tests.events.receiver import Receiver, running_receiver
from tests.events.test_webhooks import deliver, make_ready
from tests.notifications.smtp import Relay, running_relay
from tests.projects.test_api import assert_problem
from tests.readiness.test_api import eventually

CHANNELS = "/api/v1/channels"
PUBLIC_URL = "https://readiness.example.com"
PASSWORD = "relay-password-that-must-never-show"


def with_channels(settings: Settings, relay: Relay, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": relay.host,
            "smtp_port": relay.port,
            "smtp_starttls": False,
            "smtp_from": "readiness@example.com",
            "public_url": PUBLIC_URL,
            "webhook_allowed_destinations": "127.0.0.1",
            "webhook_allow_http": True,
            **overrides,
        }
    )


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def service(settings: Settings, db: Database, relay: Relay) -> Iterator[TestClient]:
    """The service with a relay and chat rooms on loopback, its dispatcher driven by the test."""
    with TestClient(create_app(with_channels(settings, relay), db)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        yield client


def writer_of(admin: TestClient) -> TestClient:
    writer = TestClient(admin.app)
    writer.headers["Authorization"] = f"Bearer {issue_key(admin, 'writer')}"
    return writer


def open_channel(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(CHANNELS, json={"name": "AI news", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def chat_bodies(receiver: Receiver, path: str = "/hooks") -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.received() if request.path == path]


def test_a_readiness_drop_mails_the_business_owner_tells_slack_and_keeps_other_departments_out(
    settings: Settings, db: Database, relay: Relay, receiver: Receiver
) -> None:
    with TestClient(create_app(with_channels(settings, relay, dispatcher=True), db)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        writer = writer_of(admin)
        make_ready(writer)
        assert writer.get(f"{PROJECT}/readiness").json()["gate"]["passed"] is True
        assert settled(db)
        open_channel(admin, kind="email", to="owners", event_types=["readiness.changed"])
        open_channel(admin, kind="slack", url=receiver.url, event_types=["readiness.*"])
        open_channel(admin, kind="slack", url=f"{receiver.url}/marketing", event_types=["*"], departments=["marketing"])

        started = time.monotonic()
        assert writer.put(f"{PROJECT}/facts/security.review_completed", json={"value": False}).status_code == 200
        assert eventually(lambda: bool(relay.to("ana@example.com")), seconds=5.0)
        elapsed = time.monotonic() - started
        assert eventually(lambda: bool(chat_bodies(receiver)), seconds=5.0)

    assert elapsed < 5.0
    (mail,) = relay.to("ana@example.com")
    assert mail.recipients == ["ana@example.com"]
    assert mail.sender == "readiness@example.com"
    assert mail.message["Subject"] == "Claims triage: readiness dropped to 83"
    text = mail.text
    assert "The readiness of Claims triage dropped from" in text
    assert "Go-live is blocked by: Security and compliance review completed." in text
    assert "Why: the fact security.review_completed was reported." in text
    assert f"{PUBLIC_URL}/ui/projects/claims-triage" in text
    html = mail.message.get_body(("html",))
    assert html is not None
    assert f'href="{PUBLIC_URL}/ui/projects/claims-triage"' in str(html.get_content())

    (slack,) = chat_bodies(receiver)
    assert slack["text"].startswith("Claims triage: readiness dropped to 83")
    assert [block["type"] for block in slack["blocks"]] == ["header", "section"]
    section = slack["blocks"][1]["text"]
    assert section["type"] == "mrkdwn"
    assert "the fact security.review_completed was reported" in section["text"]
    assert f"<{PUBLIC_URL}/ui/projects/claims-triage|Open it in the dashboard>" in section["text"]
    assert chat_bodies(receiver, "/hooks/marketing") == []


def test_a_chat_url_outside_the_allow_list_is_refused_as_for_webhooks(
    settings: Settings, db: Database, relay: Relay
) -> None:
    only_chat = with_channels(
        settings, relay, webhook_allowed_destinations="chat.example.com", webhook_allow_http=False
    )
    with TestClient(create_app(only_chat, db)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        for url in (
            "https://hooks.slack.com/services/T0/B0/x",
            "http://chat.example.com/hooks",
            "https://169.254.169.254/latest",
        ):
            response = admin.post(CHANNELS, json={"name": "Slack", "kind": "slack", "url": url, "event_types": ["*"]})
            assert_problem(response, 422)
            assert response.json()["errors"][0]["field"] == "body.url"
        webhook = admin.post("/api/v1/webhooks", json={"url": "https://hooks.slack.com/x", "event_types": ["*"]})
        assert_problem(webhook, 422)
        allowed = open_channel(admin, kind="slack", url="https://chat.example.com/hooks/1", event_types=["*"])
        moved = admin.patch(
            f"{CHANNELS}/{allowed['id']}",
            json={"url": "https://hooks.slack.com/x"},
            headers={"content-type": "application/merge-patch+json"},
        )
        assert_problem(moved, 422)
        assert [c["url"] for c in admin.get(CHANNELS).json()["items"]] == ["https://chat.example.com/hooks/1"]


def test_each_kind_takes_only_its_own_fields(service: TestClient) -> None:
    cases: list[dict[str, Any]] = [
        {"kind": "email", "event_types": ["*"]},
        {"kind": "email", "to": ["a@example.com"], "url": "http://127.0.0.1/x"},
        {"kind": "teams", "to": "owners", "url": "http://127.0.0.1/x"},
        {"kind": "mattermost", "url": "http://127.0.0.1/x", "digest": "weekly"},
        {"kind": "email", "to": "owners", "digest": "weekly", "steering_report": True},
        {"kind": "email", "to": ["not-an-address"]},
        {"kind": "email", "to": ["a@example.com"], "event_types": ["nothing.known"]},
        {"kind": "pager", "url": "http://127.0.0.1/x"},
    ]
    for body in cases:
        assert_problem(service.post(CHANNELS, json={"name": "x", **body}), 422)
    assert service.get(CHANNELS).json()["items"] == []


def test_a_channel_is_created_read_changed_and_deleted_with_an_audit_trail(service: TestClient) -> None:
    created = open_channel(service, kind="email", to=["Steering@Example.com"], digest="weekly", steering_report=True)
    assert created["to"] == ["steering@example.com"]
    assert created["digest_period"] is not None
    assert service.get(f"{CHANNELS}/{created['id']}").json() == created
    changed = service.patch(
        f"{CHANNELS}/{created['id']}",
        json={"to": "owners", "steering_report": False, "event_types": ["decision.*"]},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["to"] == "owners"
    assert [c["id"] for c in service.get(CHANNELS).json()["items"]] == [created["id"]]
    assert service.delete(f"{CHANNELS}/{created['id']}").status_code == 204
    assert_problem(service.get(f"{CHANNELS}/{created['id']}"), 404)
    actions = [
        e["action"] for e in service.get("/api/v1/audit-events", params={"entity_type": "channel"}).json()["items"]
    ]
    assert {"channel.create", "channel.update", "channel.delete"} <= set(actions)


def test_each_chat_service_gets_the_format_it_expects(service: TestClient, receiver: Receiver) -> None:
    for kind in ("teams", "mattermost", "google_chat"):
        channel = open_channel(service, kind=kind, url=f"{receiver.url}/{kind}")
        sent = service.post(f"{CHANNELS}/{channel['id']}:test")
        assert sent.status_code == 202, sent.text
    deliver(service)

    (teams,) = chat_bodies(receiver, "/hooks/teams")
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "Test of “AI news”"
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "Open the dashboard", "url": f"{PUBLIC_URL}/ui/"}
    (mattermost,) = chat_bodies(receiver, "/hooks/mattermost")
    assert mattermost["text"].startswith("**Test of “AI news”**")
    assert f"[Open the dashboard]({PUBLIC_URL}/ui/)" in mattermost["text"]
    (google,) = chat_bodies(receiver, "/hooks/google_chat")
    assert google["text"].startswith("*Test of “AI news”*")
    assert f"<{PUBLIC_URL}/ui/|Open the dashboard>" in google["text"]


def test_the_log_has_one_delivery_per_event_channel_and_recipient(service: TestClient, relay: Relay) -> None:
    writer = writer_of(service)
    channel = open_channel(service, kind="email", to=["a@example.com", "b@example.com"], event_types=["project.*"])
    writer.post("/api/v1/projects", json={"key": "fraud-scoring", "name": "Fraud scoring", "department": "risk"})
    deliver(service)
    deliver(service)

    log = service.get(f"{CHANNELS}/{channel['id']}/deliveries").json()["items"]
    assert sorted((d["event_type"], d["recipient"], d["state"]) for d in log) == [
        ("project.created", "a@example.com", "succeeded"),
        ("project.created", "b@example.com", "succeeded"),
    ]
    assert all(d["subject"] == "fraud-scoring" and len(d["attempts"]) == 1 for d in log)
    assert [len(relay.to(address)) for address in ("a@example.com", "b@example.com")] == [1, 1]
    assert relay.to("a@example.com")[0].message["Subject"] == "Fraud scoring was created"


def test_a_recipient_the_relay_refused_is_retried_alone(service: TestClient, relay: Relay, clock: Clock) -> None:
    relay.refuse["b@example.com"] = 1
    channel = open_channel(service, kind="email", to=["a@example.com", "b@example.com"])
    service.post(f"{CHANNELS}/{channel['id']}:test")
    deliver(service)
    assert (len(relay.to("a@example.com")), len(relay.to("b@example.com"))) == (1, 0)
    refused = next(
        d
        for d in service.get(f"{CHANNELS}/{channel['id']}/deliveries").json()["items"]
        if d["recipient"] == "b@example.com"
    )
    assert refused["state"] == "pending"
    assert refused["attempts"][0]["outcome"] == "failed"
    assert refused["attempts"][0]["response_status"] == 450

    clock.advance(timedelta(seconds=10))
    deliver(service)

    assert (len(relay.to("a@example.com")), len(relay.to("b@example.com"))) == (1, 1)


# The test relay takes a login over plain text on loopback, which aiosmtpd rightly warns of.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_with_credentials_the_service_logs_in_and_never_sends_unauthenticated_nor_shows_the_password(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = {"smtp_username": "readiness", "smtp_password": SecretStr(PASSWORD)}
    answers: list[str] = []
    with running_relay(username="readiness", password=PASSWORD) as secured, running_relay() as open_relay:
        for relay, expected in ((secured, "succeeded"), (open_relay, "failed")):
            with TestClient(create_app(with_channels(settings, relay, **credentials), db)) as admin:
                admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
                channel = open_channel(admin, kind="email", to=["steering@example.com"])
                answers.append(admin.post(f"{CHANNELS}/{channel['id']}:test").text)
                deliver(admin)
                log = admin.get(f"{CHANNELS}/{channel['id']}/deliveries")
                answers.append(log.text)
                assert log.json()["items"][0]["attempts"][0]["outcome"] == expected
                answers.append(admin.get("/api/v1/audit-events").text)
                answers.append(admin.get("/openapi.json").text)
        assert secured.logins == ["readiness"]
        assert len(secured.to("steering@example.com")) == 1
        assert open_relay.received() == []
    refused = json.loads(answers[5])["items"][0]["attempts"][0]
    assert refused["error"] == "the relay offers no AUTH, and the service sends only after logging in"
    assert all(PASSWORD not in answer for answer in answers)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(with_channels(settings, secured, **credentials))
