"""Department scopes on API keys: out of scope is not found, lists are filtered, writes refused."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import _client_with_key
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project, project_body
from tests.projects.test_api import assert_problem

CLAIMS = "/api/v1/projects/claims-triage"
MARKETING = "/api/v1/projects/campaign-copy"


def scoped(client: TestClient, admin: TestClient, role: str, departments: list[str] | None) -> TestClient:
    body: dict[str, Any] = {"name": f"{role}-{'-'.join(departments or ['all'])}", "role": role}
    if departments is not None:
        body["departments"] = departments
    response = admin.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["departments"] == (sorted(departments) if departments is not None else None)
    return _client_with_key(client, response.json()["secret"])


@pytest.fixture
def portfolio(writer: TestClient) -> None:
    make_project(writer, "claims-triage", department="claims")
    make_project(writer, "campaign-copy", department="marketing", name="Campaign copy")
    make_project(writer, "no-department", department=None, name="Shared search")
    for key in ("claims-triage", "campaign-copy"):
        make_kpi(writer, key, cost_kpi())


@pytest.mark.usefixtures("portfolio")
def test_a_claims_writer_works_on_claims_and_sees_nothing_of_marketing(client: TestClient, admin: TestClient) -> None:
    claims = scoped(client, admin, "writer", ["claims"])

    assert claims.put(f"{CLAIMS}/facts/ops.team_trained", json={"value": True}).status_code == 201
    for path in (MARKETING, f"{MARKETING}/readiness", f"{MARKETING}/kpis", f"{MARKETING}/facts"):
        assert_problem(claims.get(path), 404)
    assert_problem(claims.put(f"{MARKETING}/facts/ops.team_trained", json={"value": True}), 404)
    assert_problem(claims.post(f"{MARKETING}/kpis/handling-cost/measurements", json={"value": 3}), 404)
    assert_problem(claims.delete(f"{MARKETING}/attestations/stakeholders.weekly_sync"), 404)
    put_over = claims.put(MARKETING, json=project_body("campaign-copy", department="claims"))
    assert_problem(put_over, 404)

    assert [p["key"] for p in claims.get("/api/v1/projects").json()["items"]] == ["claims-triage"]
    rows = claims.get("/api/v1/portfolio/readiness").json()["items"]
    assert [row["key"] for row in rows] == ["claims-triage"]
    csv = claims.get("/api/v1/portfolio/readiness", headers={"Accept": "text/csv"}).text
    assert "claims-triage" in csv
    assert "campaign-copy" not in csv
    assert "no-department" not in csv
    summary = claims.get("/api/v1/portfolio/summary", params={"group_by": "department"}).json()
    assert summary["overall"]["projects"] == 1
    assert [group["group"] for group in summary["groups"]] == ["claims"]
    subjects = {event["subject"] for event in claims.get("/api/v1/events").json()["items"]}
    assert subjects == {"claims-triage"}


@pytest.mark.usefixtures("portfolio")
def test_creating_or_moving_a_project_outside_the_scope_is_403(client: TestClient, admin: TestClient) -> None:
    claims = scoped(client, admin, "writer", ["claims"])

    assert_problem(claims.post("/api/v1/projects", json=project_body("ads", department="marketing")), 403)
    assert_problem(claims.post("/api/v1/projects", json=project_body("ads", department=None)), 403)
    assert_problem(claims.put("/api/v1/projects/ads", json=project_body("ads", department="marketing")), 403)
    moved = claims.patch(
        CLAIMS, json={"department": "marketing"}, headers={"content-type": "application/merge-patch+json"}
    )
    assert_problem(moved, 403)
    assert admin.get(CLAIMS).json()["department"] == "claims"
    assert claims.post("/api/v1/projects", json=project_body("claims-ocr", department="claims")).status_code == 201


@pytest.mark.usefixtures("portfolio")
def test_a_batch_item_out_of_scope_is_a_422_naming_it_and_nothing_is_stored(
    client: TestClient, admin: TestClient
) -> None:
    claims = scoped(client, admin, "writer", ["claims"])
    facts = [
        {"project": "claims-triage", "name": "ops.team_trained", "value": True},
        {"project": "campaign-copy", "name": "ops.team_trained", "value": True},
    ]
    measurements = [
        {"project": "claims-triage", "kpi": "handling-cost", "value": 30},
        {"project": "campaign-copy", "kpi": "handling-cost", "value": 30},
    ]

    for path, items, field in (
        ("/api/v1/facts:batch", facts, "body.items.1.project"),
        ("/api/v1/measurements:batch", measurements, "body.items.1.kpi"),
    ):
        response = claims.post(path, json={"items": items})
        assert_problem(response, 422)
        assert [error["field"] for error in response.json()["errors"]] == [field]
    assert admin.get(f"{CLAIMS}/facts").json()["items"] == []
    assert admin.get(f"{CLAIMS}/kpis/handling-cost/measurements").json()["items"] == []


@pytest.mark.usefixtures("portfolio")
def test_an_empty_scope_sees_no_project_and_admin_keys_cannot_be_scoped(client: TestClient, admin: TestClient) -> None:
    nothing = scoped(client, admin, "reader", [])

    assert nothing.get("/api/v1/projects").json()["items"] == []
    assert nothing.get("/api/v1/portfolio/summary").json()["overall"]["projects"] == 0
    assert_problem(nothing.get(CLAIMS), 404)
    refused = admin.post("/api/v1/api-keys", json={"name": "scoped-admin", "role": "admin", "departments": ["x"]})
    assert_problem(refused, 422)


@pytest.mark.usefixtures("portfolio")
def test_a_scoped_caller_cannot_tell_a_project_elsewhere_from_one_that_does_not_exist(
    client: TestClient, admin: TestClient
) -> None:
    claims = scoped(client, admin, "writer", ["claims"])

    elsewhere = claims.put(f"{MARKETING}/facts/ops.team_trained", json={"value": {"not": "valid"}})
    nowhere = claims.put("/api/v1/projects/ghost/facts/ops.team_trained", json={"value": {"not": "valid"}})

    assert_problem(elsewhere, 404)
    assert_problem(nowhere, 404)
    assert claims.put("/api/v1/projects/claims-new", json=project_body("claims-new")).status_code == 201
    assert claims.get("/api/v1/rubrics/ai-production-readiness/rescoring").json()["governed"] == 2
