"""Webhooks: subscriptions, signed deliveries in order, retries, refusals, and the event feed."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook as Verifier

from app.core.clock import Clock
from app.core.db import Database
from app.core.destinations import AllowList
from app.core.settings import Settings
from app.events.deliveries import claim, fan_out
from app.events.dispatcher import Dispatcher
from app.events.service import purge
from app.main import create_app
from app.portfolio import watch
from app.readiness.service import rescore_due
from tests.conftest import ADMIN_SECRET, issue_key, settled
from tests.evaluations.test_api import PROJECT
from tests.events.receiver import Receiver, running_receiver
from tests.kpis.factories import cost_kpi, make_kpi, time_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem
from tests.readiness.test_api import eventually, ready

WEBHOOKS = "/api/v1/webhooks"


def with_webhooks(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={"webhook_allowed_destinations": "127.0.0.1", "webhook_allow_http": True, **overrides}
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def service(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The service with webhooks to loopback allowed and its dispatcher driven by the test."""
    with TestClient(create_app(with_webhooks(settings, dispatcher=False), db)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        yield client


@pytest.fixture
def writer_of(service: TestClient) -> TestClient:
    writer = TestClient(service.app)
    writer.headers["Authorization"] = f"Bearer {issue_key(service, 'writer')}"
    return writer


def make_ready(writer: TestClient) -> None:
    """A pilot whose go-live gate passes, written through this app (another app on the same
    database would run a dispatcher of its own)."""
    ready.__wrapped__(writer)  # type: ignore[attr-defined]


def dispatcher(client: TestClient) -> Dispatcher:
    found: Dispatcher = client.app.state.dispatcher  # type: ignore[attr-defined]
    return found


def deliver(client: TestClient) -> int:
    """One dispatcher's rounds until nothing is due, as a worker would run them."""
    made: int = client.portal.call(dispatcher(client).drain)  # type: ignore[union-attr]
    return made


def subscribe(client: TestClient, url: str, *types: str, **extra: Any) -> dict[str, Any]:
    response = client.post(WEBHOOKS, json={"url": url, "event_types": list(types) or ["*"], **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def events_of(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.received()]


def test_a_receiver_gets_a_signed_readiness_changed_event_within_two_seconds(
    settings: Settings, db: Database, receiver: Receiver
) -> None:
    with TestClient(create_app(with_webhooks(settings, dispatcher=True), db)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        writer = TestClient(admin.app)
        writer.headers["Authorization"] = f"Bearer {issue_key(admin, 'writer')}"
        make_ready(writer)
        assert writer.get(f"{PROJECT}/readiness").json()["gate"]["passed"] is True
        webhook = subscribe(admin, receiver.url, "readiness.*")
        assert webhook["secret"].startswith("whsec_")

        started = time.monotonic()
        assert writer.put(f"{PROJECT}/facts/security.review_completed", json={"value": False}).status_code == 200
        assert eventually(lambda: any(e["type"] == "readiness.changed" for e in events_of(receiver)), seconds=2.0)
        elapsed = time.monotonic() - started

    assert elapsed < 2.0
    request = receiver.received()[-1]
    payload = Verifier(webhook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "readiness.changed"
    assert payload["subject"] == "claims-triage"
    assert payload["specversion"] == "1.0"
    assert payload["data"]["cause"] == [{"kind": "fact", "name": "security.review_completed"}]
    assert request.headers["webhook-id"] == payload["id"]
    assert request.headers["content-type"] == "application/cloudevents+json"


def test_a_first_readiness_is_a_change_from_nothing(
    service: TestClient, writer_of: TestClient, receiver: Receiver
) -> None:
    subscribe(service, receiver.url, "readiness.changed")
    make_project(writer_of)
    writer_of.get(f"{PROJECT}/readiness")
    deliver(service)

    (event,) = events_of(receiver)
    assert event["data"]["before"] is None
    assert event["data"]["after"]["level"] == "not_ready"


def test_project_decision_and_rubric_events_carry_their_documented_data(
    service: TestClient, writer_of: TestClient, receiver: Receiver
) -> None:
    subscribe(service, receiver.url, "project.*", "rubric.published")
    make_project(writer_of, department="Claims")
    writer_of.patch(
        PROJECT, json={"name": "Claims triage assistant"}, headers={"content-type": "application/merge-patch+json"}
    )
    writer_of.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})
    service.delete(PROJECT)
    deliver(service)

    events = events_of(receiver)
    assert [e["type"] for e in events] == [
        "project.created",
        "project.updated",
        "project.stage_changed",
        "project.deleted",
    ]
    assert events[0]["data"]["project"]["department"] == "Claims"
    assert events[1]["data"]["project"]["name"] == "Claims triage assistant"
    assert events[1]["data"]["before"]["name"] != "Claims triage assistant"
    assert events[2]["data"] == {"project": "claims-triage", "from": "idea", "to": "poc", "reason": None}
    assert all(e["source"] == "urn:ai-readiness:local" for e in events)


def test_an_earlier_event_being_retried_holds_back_the_projects_later_ones(
    service: TestClient, writer_of: TestClient, receiver: Receiver, clock: Clock
) -> None:
    subscribe(service, receiver.url, "project.*")
    make_project(writer_of)
    make_project(writer_of, "fraud-screening")
    writer_of.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})
    receiver.answer(500, 503)

    deliver(service)  # claims-triage created: 500; fraud-screening created: 503; the stage change waits
    assert sorted(e["subject"] for e in events_of(receiver)) == ["claims-triage", "fraud-screening"]
    assert deliver(service) == 0  # nothing due before the backoff

    clock.advance(timedelta(seconds=6))
    deliver(service)

    events = events_of(receiver)
    mine = [e["type"] for e in events if e["subject"] == "claims-triage"]
    assert mine == ["project.created", "project.created", "project.stage_changed"]
    assert len(events) == 5


def test_every_attempt_is_listed_with_its_outcome_and_the_next_retry(
    service: TestClient, writer_of: TestClient, receiver: Receiver, clock: Clock
) -> None:
    webhook = subscribe(service, receiver.url, "project.created")
    make_project(writer_of)
    receiver.answer(500)
    deliver(service)
    clock.advance(timedelta(seconds=6))
    deliver(service)

    (delivery,) = service.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["items"]
    first, second = delivery["attempts"]
    assert delivery["state"] == "succeeded"
    assert (first["outcome"], first["response_status"], first["response_body"]) == ("failed", 500, "thanks")
    assert first["next_attempt_at"] is not None
    assert (second["outcome"], second["response_status"]) == ("succeeded", 204)
    assert delivery["event_type"] == "project.created"


def test_a_receiver_that_answers_410_is_disabled_at_once(
    service: TestClient, writer_of: TestClient, receiver: Receiver
) -> None:
    webhook = subscribe(service, receiver.url, "project.*")
    receiver.answer(410)
    make_project(writer_of)
    deliver(service)
    make_project(writer_of, "fraud-screening")
    deliver(service)

    shown = service.get(f"{WEBHOOKS}/{webhook['id']}").json()
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    assert len(receiver.received()) == 1
    audit = service.get("/api/v1/audit-events", params={"entity_type": "webhook"}).json()["items"]
    assert any(event["action"] == "webhook.disable" for event in audit)


def test_a_receiver_failing_for_a_day_is_disabled_and_its_event_ends_failed(
    service: TestClient, writer_of: TestClient, clock: Clock
) -> None:
    webhook = subscribe(service, "http://127.0.0.1:9/unreachable", "project.*")
    make_project(writer_of)
    deliver(service)
    for _ in range(30):
        clock.advance(timedelta(hours=1))
        deliver(service)

    shown = service.get(f"{WEBHOOKS}/{webhook['id']}").json()
    (delivery,) = service.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["items"]
    assert shown["enabled"] is False
    assert "24 hours" in shown["disabled_reason"]
    assert delivery["state"] == "failed"
    assert {attempt["outcome"] for attempt in delivery["attempts"]} == {"error"}
    delays = [
        attempt["next_attempt_at"] for attempt in delivery["attempts"][:3] if attempt["next_attempt_at"] is not None
    ]
    assert len(delays) == 3


def test_a_lease_that_runs_out_is_delivered_again_with_the_same_id(
    service: TestClient, writer_of: TestClient, receiver: Receiver, clock: Clock
) -> None:
    subscribe(service, receiver.url, "project.created")
    make_project(writer_of)
    db: Database = service.app.state.db  # type: ignore[attr-defined]
    db.work(fan_out, write=True)()
    lost = db.work(claim, write=True)(limit=10)  # a worker takes it and is killed before it answers
    assert len(lost) == 1
    assert deliver(service) == 0

    clock.advance(timedelta(seconds=61))
    deliver(service)

    (request,) = receiver.received()
    assert request.headers["webhook-id"] == str(lost[0].event_id)


def test_a_destination_the_operator_does_not_allow_is_refused_at_creation(service: TestClient) -> None:
    for url, reason in [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("ftp://127.0.0.1/x", "scheme"),
    ]:
        response = service.post(WEBHOOKS, json={"url": url, "event_types": ["*"]})
        assert_problem(response, 422)
        assert reason in json.dumps(response.json()), response.text
    assert service.get(WEBHOOKS).json()["items"] == []


def test_a_destination_refused_at_delivery_gets_no_request_and_the_attempt_says_why(
    service: TestClient, writer_of: TestClient, receiver: Receiver
) -> None:
    webhook = subscribe(service, receiver.url, "project.*")
    dispatcher(service).allowed = AllowList.parse("10.0.0.0/8")  # the operator narrowed the list since
    make_project(writer_of)
    deliver(service)

    (delivery,) = service.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["items"]
    assert receiver.received() == []
    assert delivery["attempts"][0]["outcome"] == "refused"
    assert "127.0.0.1" in delivery["attempts"][0]["error"]


def test_a_redirect_is_not_followed(service: TestClient, writer_of: TestClient, receiver: Receiver) -> None:
    webhook = subscribe(service, receiver.url, "project.*")
    receiver.answer(302, headers={"location": "http://169.254.169.254/latest/meta-data"})
    make_project(writer_of)
    deliver(service)

    (delivery,) = service.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["items"]
    assert len(receiver.received()) == 1
    assert delivery["attempts"][0]["error"] == "redirects are not followed"
    assert delivery["state"] == "pending"


def test_during_a_rotation_both_secrets_sign(service: TestClient, writer_of: TestClient, receiver: Receiver) -> None:
    webhook = subscribe(service, receiver.url, "project.*")
    rotated = service.post(f"{WEBHOOKS}/{webhook['id']}/secret:rotate", json={"overlap_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    make_project(writer_of)
    deliver(service)

    (request,) = receiver.received()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (webhook["secret"], rotated.json()["secret"]):
        assert Verifier(secret).verify(request.body, request.headers)["type"] == "project.created"


def test_a_ping_and_a_redelivery_reach_the_receiver(service: TestClient, receiver: Receiver) -> None:
    webhook = subscribe(service, receiver.url, "project.*")
    pinged = service.post(f"{WEBHOOKS}/{webhook['id']}:ping")
    assert pinged.status_code == 202, pinged.text
    deliver(service)
    again = service.post(f"{WEBHOOKS}/{webhook['id']}/deliveries/{pinged.json()['id']}:redeliver")
    assert again.status_code == 202
    deliver(service)

    first, second = receiver.received()
    assert json.loads(first.body)["type"] == "webhook.ping"
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_webhooks_are_for_admins(writer_of: TestClient) -> None:
    assert_problem(writer_of.get(WEBHOOKS), 403)
    assert_problem(writer_of.post(WEBHOOKS, json={"url": "http://127.0.0.1/x", "event_types": ["*"]}), 403)


def test_a_subscription_can_be_changed_listed_and_deleted(service: TestClient, receiver: Receiver) -> None:
    webhook = subscribe(service, receiver.url, "project.*", departments=["Claims"])
    changed = service.patch(f"{WEBHOOKS}/{webhook['id']}", json={"event_types": ["readiness.*"], "enabled": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["event_types"], changed.json()["enabled"]) == (["readiness.*"], False)
    assert "secret" not in changed.json()
    assert [w["id"] for w in service.get(WEBHOOKS).json()["items"]] == [webhook["id"]]
    assert_problem(service.patch(f"{WEBHOOKS}/{webhook['id']}", json={"event_types": ["nothing.*"]}), 422)

    assert service.delete(f"{WEBHOOKS}/{webhook['id']}").status_code == 204
    assert_problem(service.get(f"{WEBHOOKS}/{webhook['id']}"), 404)


def test_the_department_filter_keeps_other_departments_events_away(
    service: TestClient, writer_of: TestClient, receiver: Receiver
) -> None:
    subscribe(service, receiver.url, "project.created", departments=["Claims"])
    make_project(writer_of, department="Claims")
    make_project(writer_of, "fraud-screening", department="Risk")
    deliver(service)

    assert [e["subject"] for e in events_of(receiver)] == ["claims-triage"]


def follow(client: TestClient, after: str | None = None, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/events", params={**({"after": after} if after else {}), **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_the_feed_follows_the_same_changes_with_a_cursor(writer_of: TestClient) -> None:
    start = follow(writer_of)["next_cursor"]
    make_project(writer_of)
    writer_of.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})
    writer_of.get(f"{PROJECT}/readiness")

    page = follow(writer_of, start)
    types = [event["type"] for event in page["items"]]
    assert types[:2] == ["project.created", "project.stage_changed"]
    assert "readiness.changed" in types
    assert follow(writer_of, page["next_cursor"]) == {"items": [], "next_cursor": page["next_cursor"]}
    only = follow(writer_of, start, types="readiness.*", project="claims-triage")
    assert {event["type"] for event in only["items"]} == {"readiness.changed"}
    assert_problem(writer_of.get("/api/v1/events", params={"after": "not-a-cursor"}), 400)
    assert_problem(writer_of.get("/api/v1/events", params={"types": "nothing.*"}), 422)


def test_the_feed_long_polls_until_an_event_arrives(writer_of: TestClient) -> None:
    start = follow(writer_of)["next_cursor"]
    answers: list[dict[str, Any]] = []

    def poll() -> None:
        answers.append(follow(writer_of, start, wait=10))

    poller = threading.Thread(target=poll)
    began = time.monotonic()
    poller.start()
    time.sleep(0.3)
    make_project(writer_of)
    poller.join(timeout=10)

    assert time.monotonic() - began < 5
    assert answers[0]["items"][0]["type"] == "project.created"


def test_a_cursor_older_than_the_retention_is_gone(writer_of: TestClient, clock: Clock) -> None:
    start = follow(writer_of)["next_cursor"]
    make_project(writer_of)
    db: Database = writer_of.app.state.db  # type: ignore[attr-defined]
    assert settled(db)  # its readiness is told before the clock moves, and purged with the project's events
    clock.advance(timedelta(days=31))
    db.work(purge, write=True)(older_than=clock.now() - timedelta(days=30))

    assert_problem(writer_of.get("/api/v1/events", params={"after": start}), 410)
    assert follow(writer_of)["items"] == []


def sweep(client: TestClient) -> None:
    """What the re-scorer does when a write wakes it, and every few seconds."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    while db.work(watch.tell_due, write=True)():
        pass


def test_a_kpi_falling_behind_its_schedule_is_told_once_and_a_measurement_that_catches_up_too(
    writer_of: TestClient, clock: Clock
) -> None:
    make_project(writer_of)
    make_kpi(writer_of, "claims-triage", cost_kpi())
    writer_of.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 37})  # 20 % of the way
    sweep(writer_of)
    (measured,) = follow(writer_of, types="kpi.*")["items"]
    assert (measured["data"]["before"], measured["data"]["after"]) == ("no_data", "on_track")
    start = follow(writer_of)["next_cursor"]
    sweep(writer_of)
    assert follow(writer_of, start, types="kpi.*")["items"] == []

    clock.advance(timedelta(days=50))  # a quarter of the time to the target date has passed
    sweep(writer_of)
    sweep(writer_of)
    (behind,) = follow(writer_of, start, types="kpi.*")["items"]
    writer_of.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 25})
    sweep(writer_of)

    assert behind["subject"] == "claims-triage"
    assert behind["data"] == {
        "project": "claims-triage",
        "kpi": "handling-cost",
        "before": "on_track",
        "after": "at_risk",
        "progress": pytest.approx(0.2),
        "cause": "time",
    }
    caught_up = follow(writer_of, start, types="kpi.*")["items"][-1]["data"]
    assert (caught_up["before"], caught_up["after"], caught_up["cause"]) == ("at_risk", "on_track", "write")


def test_a_project_quiet_past_its_stage_limit_is_told_its_stall_risk_rose_once(
    writer_of: TestClient, clock: Clock
) -> None:
    make_project(writer_of)
    make_kpi(writer_of, "claims-triage", cost_kpi())  # a business KPI: a success metric, risk low
    sweep(writer_of)
    start = follow(writer_of)["next_cursor"]

    clock.advance(timedelta(days=61))  # longer in idea than its 60 days
    sweep(writer_of)
    sweep(writer_of)

    (risen,) = follow(writer_of, start, types="project.stall_risk_changed")["items"]
    assert (risen["data"]["before"], risen["data"]["after"], risen["data"]["cause"]) == ("low", "medium", "time")
    assert risen["data"]["signals"][-1]["pattern"] == "stalled"
    stalled = writer_of.get("/api/v1/portfolio/stalled").json()["items"]
    assert [row["key"] for row in stalled] == ["claims-triage"]


def test_a_batch_of_measurements_tells_what_it_changed_as_caused_by_a_write(
    writer_of: TestClient, clock: Clock
) -> None:
    make_project(writer_of)
    writer_of.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})  # a stage that expects measurements
    make_kpi(writer_of, "claims-triage", cost_kpi())
    make_kpi(writer_of, "claims-triage", time_kpi())
    batch = {"items": [{"project": "claims-triage", "kpi": "handling-cost", "value": 37}]}
    assert writer_of.post("/api/v1/measurements:batch", json=batch).status_code == 201
    sweep(writer_of)
    clock.advance(timedelta(days=50))  # behind its schedule, and no measurement for 50 days
    sweep(writer_of)
    start = follow(writer_of)["next_cursor"]
    stalled = writer_of.get("/api/v1/portfolio/stalled").json()["items"]
    assert [row["key"] for row in stalled] == ["claims-triage"]

    batch = {"items": [{"project": "claims-triage", "kpi": "handling-cost", "value": 25}]}
    assert writer_of.post("/api/v1/measurements:batch", json=batch).status_code == 201
    sweep(writer_of)

    told = follow(writer_of, start, types="kpi.*,project.stall_risk_changed")["items"]
    assert [
        (event["type"], event["data"]["before"], event["data"]["after"], event["data"]["cause"]) for event in told
    ] == [
        ("kpi.status_changed", "at_risk", "on_track", "write"),
        ("project.stall_risk_changed", "medium", "low", "write"),
    ]
    assert writer_of.get("/api/v1/portfolio/stalled").json()["items"] == []


def test_a_fact_ageing_out_is_a_readiness_change_told_once(writer_of: TestClient, clock: Clock) -> None:
    make_ready(writer_of)
    assert writer_of.get(f"{PROJECT}/readiness").json()["gate"]["passed"] is True
    start = follow(writer_of)["next_cursor"]

    clock.advance(timedelta(days=171))  # the rollback test, 10 days old, passes its 180 days
    writer_of.get(f"{PROJECT}/readiness")
    writer_of.get(f"{PROJECT}/readiness")
    db: Database = writer_of.app.state.db  # type: ignore[attr-defined]
    db.work(rescore_due, write=True)(limit=100)

    (aged,) = follow(writer_of, start, types="readiness.changed")["items"]
    assert {"kind": "time", "name": "fact ops.rollback_tested_at older than 180 days"} in aged["data"]["cause"]
    assert {cause["kind"] for cause in aged["data"]["cause"]} == {"time"}
    assert aged["data"]["before"]["gate_passed"] is True
    assert aged["data"]["after"]["gate_passed"] is False


def test_a_receiver_too_slow_to_answer_is_retried_and_counted(
    service: TestClient, writer_of: TestClient, receiver: Receiver, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.events.dispatcher.REQUEST_TIMEOUT_SECONDS", 0.3)
    webhook = subscribe(service, receiver.url, "project.created")
    receiver.answer(204, after_seconds=1.0)
    make_project(writer_of)
    deliver(service)
    clock.advance(timedelta(seconds=6))
    deliver(service)

    (delivery,) = service.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["items"]
    assert [attempt["outcome"] for attempt in delivery["attempts"]] == ["timeout", "succeeded"]
    metrics = service.get("/metrics").text
    assert 'readiness_webhook_attempts_total{outcome="timeout"} 1.0' in metrics
    assert 'readiness_webhook_attempts_total{outcome="succeeded"} 1.0' in metrics
    assert "readiness_webhook_deliveries_pending" in metrics


def test_a_retried_subscription_with_the_same_idempotency_key_is_the_same_one_without_its_secret(
    service: TestClient, receiver: Receiver
) -> None:
    body = {"url": receiver.url, "event_types": ["readiness.*"]}
    headers = {"Idempotency-Key": "subscribe-portal-1"}

    first = service.post("/api/v1/webhooks", json=body, headers=headers)
    again = service.post("/api/v1/webhooks", json=body, headers=headers)
    other_body = service.post("/api/v1/webhooks", json={**body, "event_types": ["*"]}, headers=headers)

    assert first.status_code == 201, first.text
    assert first.json()["secret"]
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**first.json(), "secret": None}
    assert again.headers["location"] == first.headers["location"]
    assert_problem(other_body, 422)
    assert len(service.get("/api/v1/webhooks").json()["items"]) == 1
