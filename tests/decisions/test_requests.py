"""Decision requests: asking the steering committee for a go/no-go, the approvers' queue, and a
decision closing the request it answers."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook as Verifier

from tests.conftest import _client_with_key
from tests.evaluations.test_api import PROJECT, decide, evaluate, pilot  # noqa: F401 (a fixture)
from tests.events.receiver import Receiver
from tests.events.test_webhooks import deliver, events_of, subscribe
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

REQUESTS = f"{PROJECT}/decision-requests"
QUEUE = "/api/v1/decision-requests"


def ask(client: TestClient, note: str = "Rollback drill done; ready for the go") -> Any:
    return client.post(REQUESTS, json={"note": note})


def test_a_writer_asks_for_a_decision_once_and_a_second_open_request_is_409(writer: TestClient) -> None:
    make_project(writer)

    first = ask(writer)
    second = ask(writer, "again")

    assert first.status_code == 201, first.text
    request = first.json()
    assert request["status"] == "open"
    assert request["requested_by"].startswith("writer-")
    assert request["note"] == "Rollback drill done; ready for the go"
    assert request["decision_id"] is None
    assert request["id"] in assert_problem(second, 409)["detail"]
    assert [item["id"] for item in writer.get(REQUESTS).json()["items"]] == [request["id"]]


def test_the_queue_lists_open_requests_oldest_first_with_where_each_project_stands(
    writer: TestClient, reader: TestClient
) -> None:
    for key in ("claims-triage", "churn-model"):
        make_project(writer, key)
        writer.post(f"/api/v1/projects/{key}/decision-requests", json={"note": key})

    # Read first: a read of a project's readiness scores it at once; the queue follows within seconds.
    readiness = reader.get(f"{PROJECT}/readiness").json()
    queue = reader.get(QUEUE).json()["items"]

    assert [item["project"] for item in queue] == ["claims-triage", "churn-model"]
    first = queue[0]
    assert first["project_name"] == "Claims triage"
    assert first["department"] == "claims"
    assert first["stage"] == "idea"
    assert first["readiness"] == {
        "score": readiness["score"],
        "level": readiness["level"],
        "gate_passed": readiness["gate"]["passed"],
        "blockers": sorted(b["criterion"] for b in readiness["gate"]["blockers"]),
    }
    assert reader.get(QUEUE, params={"status": "closed"}).json()["items"] == []
    assert_problem(reader.get(QUEUE, params={"status": "pending"}), 422)


def test_a_scoped_reader_sees_only_its_departments_in_the_queue(writer: TestClient, admin: TestClient) -> None:
    make_project(writer, "claims-triage", department="claims")
    make_project(writer, "churn-model", department="marketing")
    for key in ("claims-triage", "churn-model"):
        writer.post(f"/api/v1/projects/{key}/decision-requests", json={})
    key = admin.post(
        "/api/v1/api-keys", json={"name": "claims-approver", "role": "approver", "departments": ["claims"]}
    )
    scoped = _client_with_key(admin, key.json()["secret"])

    assert [item["project"] for item in scoped.get(QUEUE).json()["items"]] == ["claims-triage"]
    assert_problem(scoped.get("/api/v1/projects/churn-model/decision-requests"), 404)


def test_only_the_requester_or_an_admin_withdraws_and_only_while_open(
    writer: TestClient, admin: TestClient, client: TestClient
) -> None:
    make_project(writer)
    request = ask(writer).json()
    other_writer = _client_with_key(
        client, admin.post("/api/v1/api-keys", json={"name": "w2", "role": "writer"}).json()["secret"]
    )
    withdraw = f"{REQUESTS}/{request['id']}:withdraw"

    by_other = other_writer.post(withdraw)
    by_requester = writer.post(withdraw)
    again = admin.post(withdraw)

    assert_problem(by_other, 403)
    assert by_requester.status_code == 200, by_requester.text
    assert by_requester.json()["status"] == "withdrawn"
    assert by_requester.json()["withdrawn_by"].startswith("writer-")
    assert_problem(again, 409)
    assert ask(writer).status_code == 201


@pytest.mark.usefixtures("pilot")
def test_recording_the_decision_closes_the_request_and_links_it(writer: TestClient, admin: TestClient) -> None:
    request = ask(writer).json()
    evaluation = evaluate(writer)

    decided = decide(admin, evaluation["id"], "no_go", rationale="Rollback not yet tested")

    assert decided.status_code == 201, decided.text
    closed = writer.get(REQUESTS).json()["items"][0]
    assert closed["status"] == "closed"
    assert closed["decision_id"] == decided.json()["id"]
    assert closed["closed_at"] is not None
    assert writer.get(QUEUE).json()["items"] == []
    assert writer.get(QUEUE, params={"status": "closed"}).json()["items"][0]["id"] == request["id"]
    audit = admin.get("/api/v1/audit-events", params={"action": "decision.create"}).json()["items"]
    assert audit[0]["after"]["request_id"] == request["id"]


def test_a_decision_request_is_told_to_subscribers_signed(
    service: TestClient,
    writer_of: TestClient,
    receiver: Receiver,
) -> None:
    make_project(writer_of)
    webhook = subscribe(service, receiver.url, "decision.*")

    request = writer_of.post(REQUESTS, json={"note": "please decide"}).json()
    deliver(service)

    told = [event for event in events_of(receiver) if event["type"] == "decision.requested"]
    assert len(told) == 1
    delivered = receiver.received()[-1]
    payload = Verifier(webhook["secret"]).verify(delivered.body, delivered.headers)
    assert payload["subject"] == "claims-triage"
    assert payload["data"] == {
        "project": "claims-triage",
        "request_id": request["id"],
        "note": "please decide",
        "requested_by": request["requested_by"],
    }
