from fastapi.testclient import TestClient

from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

EVENTS = "/api/v1/audit-events"


def test_every_mutation_leaves_an_audit_event_with_before_and_after(admin: TestClient, writer: TestClient) -> None:
    make_project(writer)
    writer.patch("/api/v1/projects/claims-triage", json={"region": "apac"}, headers={"X-Request-ID": "req-42"})
    writer.post("/api/v1/projects/claims-triage/stage-transitions", json={"to": "poc"})
    writer.put("/api/v1/projects/claims-triage/facts/ops.team_trained", json={"value": True})
    admin.delete("/api/v1/projects/claims-triage")

    events = admin.get(EVENTS, params={"entity_key": "claims-triage"}).json()["items"]

    assert [e["action"] for e in events] == [
        "project.delete",
        "project.stage_transition",
        "project.update",
        "project.create",
    ]
    update = events[2]
    assert update["before"]["region"] == "emea"
    assert update["after"]["region"] == "apac"
    assert update["client_request_id"] == "req-42"
    assert len(update["request_id"]) == 32
    assert update["actor_name"].startswith("writer-")
    assert events[0]["actor_name"] == "bootstrap-admin"
    assert admin.get(EVENTS, params={"action": "fact.put"}).json()["items"][0]["entity_key"] == (
        "claims-triage/ops.team_trained"
    )


def test_a_refused_change_leaves_no_event(admin: TestClient, writer: TestClient) -> None:
    make_project(writer)
    writer.patch("/api/v1/projects/claims-triage", json={"name": None})

    actions = [e["action"] for e in admin.get(EVENTS, params={"entity_type": "project"}).json()["items"]]

    assert actions == ["project.create"]


def test_the_audit_trail_pages_newest_first(admin: TestClient, writer: TestClient) -> None:
    for index in range(5):
        make_project(writer, f"project-{index}")

    first = admin.get(EVENTS, params={"entity_type": "project", "limit": 3}).json()
    second = admin.get(EVENTS, params={"entity_type": "project", "limit": 3, "cursor": first["next_cursor"]}).json()

    keys = [e["entity_key"] for e in first["items"] + second["items"]]
    assert keys == [f"project-{index}" for index in reversed(range(5))]
    assert second["next_cursor"] is None


def test_only_admins_read_the_audit_trail_and_nobody_changes_it(writer: TestClient, admin: TestClient) -> None:
    assert_problem(writer.get(EVENTS), 403)
    assert_problem(admin.delete(EVENTS), 405)
    assert_problem(admin.post(EVENTS, json={}), 405)
