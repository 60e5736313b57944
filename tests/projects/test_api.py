from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.projects.factories import make_project, project_body

PROJECTS = "/api/v1/projects"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= problem.keys()
    return problem


def test_created_project_is_returned_with_its_etag_and_location(writer: TestClient) -> None:
    response = writer.post(PROJECTS, json=project_body())

    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/projects/claims-triage"
    assert response.headers["etag"]
    body = response.json()
    assert body["stage"] == "idea"
    assert body["costs"] == {"build_cost": 120000, "run_cost_per_month": 4000.5, "currency": "EUR"}
    assert body["rubric"] == "ai-production-readiness"
    assert body["created_at"].endswith("Z")
    assert writer.get(f"{PROJECTS}/claims-triage").json() == body


def test_creating_a_taken_key_is_a_conflict(writer: TestClient) -> None:
    make_project(writer)

    assert_problem(writer.post(PROJECTS, json=project_body()), 409)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"key": "Not A Slug"}, "body.key"),
        ({"key": "x"}, "body.key"),
        ({"name": "n" * 201}, "body.name"),
        ({"costs": {"build_cost": -1}}, "body.costs.build_cost"),
        ({"costs": {"currency": "euro"}}, "body.costs.currency"),
        ({"deployment": {"target": "mainframe"}}, "body.deployment.target"),
        ({"stakeholders": [{"role": "cfo", "name": "X"}]}, "body.stakeholders.0.role"),
        ({"business_owner": {"name": "A", "email": "not-an-email"}}, "body.business_owner.email"),
        ({"sync_cadence_days": 0}, "body.sync_cadence_days"),
        ({"tags": ["Has Spaces"]}, "body.tags.0"),
        ({"colour": "blue"}, "body.colour"),
    ],
)
def test_invalid_fields_are_422_with_their_paths_and_nothing_is_stored(
    writer: TestClient, overrides: dict[str, Any], field: str
) -> None:
    problem = assert_problem(writer.post(PROJECTS, json={**project_body("bad-project"), **overrides}), 422)

    assert field in [error["field"] for error in problem["errors"]]
    assert writer.get(f"{PROJECTS}/bad-project").status_code == 404


def test_non_finite_numbers_are_rejected(writer: TestClient) -> None:
    body = '{"key": "nan-project", "name": "N", "costs": {"build_cost": NaN}}'
    response = writer.post(PROJECTS, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_read_only_fields_from_a_get_are_ignored_on_put(writer: TestClient) -> None:
    project = make_project(writer)
    edited = {**project, "name": "Claims triage v2", "stage": "production"}

    response = writer.put(f"{PROJECTS}/claims-triage", json=edited)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Claims triage v2"
    assert response.json()["stage"] == "idea"


def test_put_creates_then_replaces(writer: TestClient) -> None:
    created = writer.put(f"{PROJECTS}/fraud-scoring", json={"name": "Fraud scoring"})
    replaced = writer.put(f"{PROJECTS}/fraud-scoring", json={"name": "Fraud scoring", "department": "risk"})

    assert created.status_code == 201
    assert replaced.status_code == 200
    assert replaced.json()["department"] == "risk"
    assert replaced.json()["id"] == created.json()["id"]
    assert replaced.headers["etag"] != created.headers["etag"]


def test_put_with_an_unchanged_body_keeps_the_etag(writer: TestClient) -> None:
    created = writer.put(f"{PROJECTS}/fraud-scoring", json={"name": "Fraud scoring"})
    again = writer.put(f"{PROJECTS}/fraud-scoring", json={"name": "Fraud scoring"})

    assert again.headers["etag"] == created.headers["etag"]


def test_put_refuses_a_body_key_that_differs_from_the_path(writer: TestClient) -> None:
    problem = assert_problem(writer.put(f"{PROJECTS}/fraud-scoring", json={"key": "other", "name": "F"}), 422)

    assert problem["errors"][0]["field"] == "body.key"


def test_put_refuses_an_invalid_key_in_the_path(writer: TestClient) -> None:
    assert_problem(writer.put(f"{PROJECTS}/Bad_Key", json={"name": "F"}), 422)


def test_update_with_the_current_etag_succeeds_and_a_stale_one_is_412(writer: TestClient) -> None:
    etag = writer.post(PROJECTS, json=project_body()).headers["etag"]

    first = writer.patch(f"{PROJECTS}/claims-triage", json={"region": "apac"}, headers={"If-Match": etag})
    stale = writer.patch(f"{PROJECTS}/claims-triage", json={"region": "amer"}, headers={"If-Match": etag})

    assert first.status_code == 200
    assert_problem(stale, 412)
    assert writer.get(f"{PROJECTS}/claims-triage").json()["region"] == "apac"


def test_a_patch_that_could_never_apply_is_422_whatever_if_match_says(writer: TestClient) -> None:
    writer.post(PROJECTS, json=project_body())

    invalid = writer.patch(f"{PROJECTS}/claims-triage", json={"deployment": 5107}, headers={"If-Match": "null"})

    assert assert_problem(invalid, 422)["errors"][0]["field"].startswith("body.deployment")


def test_put_and_delete_honour_if_match(writer: TestClient, admin: TestClient) -> None:
    etag = writer.post(PROJECTS, json=project_body()).headers["etag"]
    writer.patch(f"{PROJECTS}/claims-triage", json={"region": "apac"})

    assert_problem(writer.put(f"{PROJECTS}/claims-triage", json={"name": "X"}, headers={"If-Match": etag}), 412)
    assert_problem(admin.delete(f"{PROJECTS}/claims-triage", headers={"If-Match": etag}), 412)
    assert writer.get(f"{PROJECTS}/claims-triage").json()["name"] == "Claims triage"


def test_put_with_if_match_on_a_missing_project_is_412(writer: TestClient) -> None:
    assert_problem(writer.put(f"{PROJECTS}/ghost", json={"name": "G"}, headers={"If-Match": "*"}), 412)
    assert writer.get(f"{PROJECTS}/ghost").status_code == 404


def test_get_with_a_matching_if_none_match_is_304_and_reading_never_changes_the_etag(writer: TestClient) -> None:
    etag = writer.post(PROJECTS, json=project_body()).headers["etag"]

    for _ in range(2):
        response = writer.get(f"{PROJECTS}/claims-triage", headers={"If-None-Match": etag})
        assert response.status_code == 304
        assert response.headers["etag"] == etag
    assert writer.get(f"{PROJECTS}/claims-triage", headers={"If-None-Match": '"other"'}).status_code == 200


def test_patch_merges_objects_and_null_clears(writer: TestClient) -> None:
    make_project(writer)

    response = writer.patch(
        f"{PROJECTS}/claims-triage",
        json={"deployment": {"sovereign": True}, "technical_owner": None, "tags": ["fraud"]},
        headers={"Content-Type": "application/merge-patch+json"},
    )

    body = response.json()
    assert response.status_code == 200, response.text
    assert body["deployment"] == {"target": "vpc", "same_runtime_as_production": True, "sovereign": True}
    assert body["technical_owner"] is None
    assert body["tags"] == ["fraud"]
    assert body["business_owner"]["name"] == "Ana Souza"


def test_patch_cannot_clear_a_required_field_or_rename_the_key(writer: TestClient) -> None:
    make_project(writer)

    assert_problem(writer.patch(f"{PROJECTS}/claims-triage", json={"name": None}), 422)
    assert_problem(writer.patch(f"{PROJECTS}/claims-triage", json={"key": "renamed"}), 422)
    assert_problem(writer.patch(f"{PROJECTS}/claims-triage", json={"unknown": 1}), 422)


def test_patch_of_a_missing_project_is_404(writer: TestClient) -> None:
    assert_problem(writer.patch(f"{PROJECTS}/ghost", json={"name": "G"}), 404)


def test_delete_needs_admin_and_removes_the_project(writer: TestClient, admin: TestClient) -> None:
    make_project(writer)

    assert_problem(writer.delete(f"{PROJECTS}/claims-triage"), 403)
    assert admin.delete(f"{PROJECTS}/claims-triage").status_code == 204
    assert_problem(writer.get(f"{PROJECTS}/claims-triage"), 404)
    assert_problem(admin.delete(f"{PROJECTS}/claims-triage"), 404)


def test_list_filters_by_stage_department_region_tag_and_text(writer: TestClient) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "fraud-scoring", name="Fraud scoring", department="risk", tags=["fraud"], region="apac")
    make_project(writer, "churn-model", name="Churn", department="marketing", tags=[], workflow="Retention offers")
    writer.post(f"{PROJECTS}/churn-model/stage-transitions", json={"to": "poc"})

    def keys(**params: str) -> list[str]:
        response = writer.get(PROJECTS, params=params)
        assert response.status_code == 200, response.text
        return [item["key"] for item in response.json()["items"]]

    assert keys() == ["churn-model", "claims-triage", "fraud-scoring"]
    assert keys(stage="poc") == ["churn-model"]
    assert keys(department="risk") == ["fraud-scoring"]
    assert keys(region="emea") == ["churn-model", "claims-triage"]
    assert keys(tag="genai") == ["claims-triage"]
    assert keys(tag="fraud") == ["fraud-scoring"]
    assert keys(q="RETENTION") == ["churn-model"]
    assert keys(q="100%_") == []


def test_list_pages_with_a_cursor_that_is_stable_under_inserts(writer: TestClient) -> None:
    for index in range(5):
        make_project(writer, f"project-{index}")

    first = writer.get(PROJECTS, params={"limit": 2}).json()
    make_project(writer, "project-0a")
    second = writer.get(PROJECTS, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = writer.get(PROJECTS, params={"limit": 2, "cursor": second["next_cursor"]}).json()

    assert [p["key"] for p in first["items"]] == ["project-0", "project-1"]
    assert [p["key"] for p in second["items"]] == ["project-2", "project-3"]
    assert [p["key"] for p in third["items"]] == ["project-4"]
    assert third["next_cursor"] is None


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "501"}, {"stage": "done"}])
def test_list_rejects_bad_parameters(writer: TestClient, params: dict[str, str]) -> None:
    assert_problem(writer.get(PROJECTS, params=params), 422)


def test_list_rejects_a_forged_cursor(writer: TestClient) -> None:
    assert_problem(writer.get(PROJECTS, params={"cursor": "not-a-cursor"}), 400)
    assert_problem(writer.get(PROJECTS, params={"cursor": "WzEsMl0"}), 400)


def go_by_override(admin: TestClient, key: str) -> None:
    """Record a go the quick way, by an admin's override: these tests are about stages, not readiness."""
    evaluation = admin.post(f"{PROJECTS}/{key}/evaluations", json={})
    assert evaluation.status_code == 201, evaluation.text
    decision = admin.post(
        f"{PROJECTS}/{key}/decisions",
        json={
            "evaluation_id": evaluation.json()["id"],
            "decision": "go",
            "on_behalf_of": "Steering committee",
            "override_reason": "Stage tests",
        },
    )
    assert decision.status_code == 201, decision.text


def test_stage_moves_forward_one_at_a_time(writer: TestClient, admin: TestClient) -> None:
    make_project(writer)
    transitions = f"{PROJECTS}/claims-triage/stage-transitions"

    assert_problem(writer.post(transitions, json={"to": "pilot"}), 409)
    for stage in ("poc", "pilot"):
        assert writer.post(transitions, json={"to": stage}).status_code == 201
    go_by_override(admin, "claims-triage")
    for stage in ("production", "scaling"):
        response = writer.post(transitions, json={"to": stage})
        assert response.status_code == 201, response.text
    project = writer.get(f"{PROJECTS}/claims-triage").json()
    assert project["stage"] == "scaling"
    history = writer.get(transitions).json()["items"]
    assert [(t["from"], t["to"]) for t in history] == [
        ("idea", "poc"),
        ("poc", "pilot"),
        ("pilot", "production"),
        ("production", "scaling"),
    ]
    assert project["stage_entered_at"] == history[-1]["transitioned_at"]


def test_moving_back_needs_a_reason(writer: TestClient) -> None:
    make_project(writer)
    transitions = f"{PROJECTS}/claims-triage/stage-transitions"
    writer.post(transitions, json={"to": "poc"})
    writer.post(transitions, json={"to": "pilot"})

    problem = assert_problem(writer.post(transitions, json={"to": "idea"}), 422)
    back = writer.post(transitions, json={"to": "idea", "reason": "Scope was too broad"})

    assert problem["errors"][0]["field"] == "body.reason"
    assert back.status_code == 201
    assert back.json()["reason"] == "Scope was too broad"
    assert writer.get(f"{PROJECTS}/claims-triage").json()["stage"] == "idea"


def test_retiring_needs_a_reason_and_only_an_admin_brings_the_project_back(
    writer: TestClient, approver: TestClient
) -> None:
    make_project(writer)
    transitions = f"{PROJECTS}/claims-triage/stage-transitions"

    assert_problem(approver.post(transitions, json={"to": "retired"}), 422)
    assert approver.post(transitions, json={"to": "retired", "reason": "No business owner"}).status_code == 201
    assert_problem(approver.post(transitions, json={"to": "poc", "reason": "Owner found"}), 403)
    assert_problem(writer.post(transitions, json={"to": "poc", "reason": "Owner found"}), 403)


def test_moving_to_the_current_stage_is_a_conflict(writer: TestClient) -> None:
    make_project(writer)

    assert_problem(writer.post(f"{PROJECTS}/claims-triage/stage-transitions", json={"to": "idea"}), 409)


def test_stage_transition_of_a_missing_project_is_404(writer: TestClient) -> None:
    assert_problem(writer.post(f"{PROJECTS}/ghost/stage-transitions", json={"to": "poc"}), 404)


def test_stage_history_pages(writer: TestClient) -> None:
    make_project(writer)
    transitions = f"{PROJECTS}/claims-triage/stage-transitions"
    writer.post(transitions, json={"to": "poc"})
    writer.post(transitions, json={"to": "pilot"})
    writer.post(transitions, json={"to": "idea", "reason": "Start over"})

    first = writer.get(transitions, params={"limit": 2}).json()
    second = writer.get(transitions, params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [t["to"] for t in first["items"] + second["items"]] == ["poc", "pilot", "idea"]
    assert second["next_cursor"] is None


def test_a_project_must_be_governed_by_an_existing_rubric(approver: TestClient) -> None:
    # Another rubric than the default needs an approver; an unknown one is 422 even for them.
    problem = assert_problem(approver.post(PROJECTS, json=project_body(rubric="no-such-rubric")), 422)

    assert problem["errors"][0]["field"] == "body.rubric"
