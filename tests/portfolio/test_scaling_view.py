"""`GET /portfolio/scaling`: validated use cases with their replicas by department and region,
adjacent expansions, projects per platform and the focus warnings, filtered and scoped."""

import pytest
from fastapi.testclient import TestClient

from tests.platforms.factories import deploy, make_platform
from tests.projects.factories import make_project
from tests.readiness.test_api import eventually

SCALING = "/api/v1/portfolio/scaling"


@pytest.fixture
def replicated(admin: TestClient, writer: TestClient, approver: TestClient) -> None:
    """claims-triage in production, replicated to two regions on its platform and one other
    department elsewhere, expanded to home claims; a new POC beside it; a marketing pilot."""
    make_platform(admin)
    make_platform(admin, "legacy-dc", name="Legacy data centre")
    deploy(writer, approver, "claims-triage", platform="claims-vpc", domain="claims")
    for key, department, region, platform in (
        ("claims-triage-americas", "claims", "americas", "claims-vpc"),
        ("claims-triage-apac", "claims", "apac", "claims-vpc"),
        ("claims-triage-broker", "broker", "emea", "legacy-dc"),
    ):
        make_project(writer, key, department=department, region=region, platform=platform, replica_of="claims-triage")
    make_project(writer, "home-claims", domain="claims", adjacent_to="claims-triage")
    make_project(writer, "claims-chatbot")
    writer.post("/api/v1/projects/claims-chatbot/stage-transitions", json={"to": "poc"})
    make_project(writer, "next-best-offer", department="marketing", platform="legacy-dc")


def scoped(admin: TestClient, client: TestClient, department: str) -> TestClient:
    body = {"name": f"reader-{department}", "role": "reader", "departments": [department]}
    secret = admin.post("/api/v1/api-keys", json=body).json()["secret"]
    return TestClient(client.app, headers={"Authorization": f"Bearer {secret}"})


@pytest.mark.usefixtures("replicated")
def test_the_view_shows_each_use_case_with_its_replicas_by_department_and_region(reader: TestClient) -> None:
    assert eventually(lambda: reader.get(SCALING).json()["focus_total"] == 2)
    view = reader.get(SCALING).json()

    (use_case,) = view["use_cases"]
    assert (use_case["key"], use_case["stage"], use_case["platform"]) == ("claims-triage", "production", "claims-vpc")
    assert [(r["key"], r["department"], r["region"], r["same_platform"]) for r in use_case["replicas"]] == [
        ("claims-triage-americas", "claims", "americas", True),
        ("claims-triage-apac", "claims", "apac", True),
        ("claims-triage-broker", "broker", "emea", False),
    ]
    assert [(e["key"], e["domain"]) for e in use_case["adjacent"]] == [("home-claims", "claims")]
    assert view["places"] == [
        {"department": "broker", "region": "emea"},
        {"department": "claims", "region": "americas"},
        {"department": "claims", "region": "apac"},
        {"department": "claims", "region": "emea"},
    ]
    assert view["platforms"] == [
        {"platform": "claims-vpc", "name": "Claims VPC platform", "projects": 3, "in_production": 1},
        {"platform": "legacy-dc", "name": "Legacy data centre", "projects": 2, "in_production": 0},
    ]
    # home-claims expands claims-triage, which is not stable yet: no exemption.
    assert [(w["key"], w["unstable"]) for w in view["focus"]] == [
        ("claims-chatbot", ["claims-triage"]),
        ("home-claims", ["claims-triage"]),
    ]
    assert view["focus"][0]["reason"].startswith("resist the temptation to jump to entirely new use cases")
    assert view["next_cursor"] is None


@pytest.mark.usefixtures("replicated")
def test_a_scoped_reader_sees_only_its_departments(admin: TestClient, client: TestClient) -> None:
    broker = scoped(admin, client, "broker").get(SCALING).json()
    claims = scoped(admin, client, "claims").get(SCALING).json()

    assert broker["use_cases"] == []
    assert broker["platforms"] == [
        {"platform": "legacy-dc", "name": "Legacy data centre", "projects": 1, "in_production": 0}
    ]
    assert broker["focus"] == []
    assert [r["key"] for r in claims["use_cases"][0]["replicas"]] == ["claims-triage-americas", "claims-triage-apac"]
    assert "broker" not in str(claims)


@pytest.mark.usefixtures("replicated")
def test_filters_select_every_project_shown(reader: TestClient) -> None:
    apac = reader.get(SCALING, params={"region": "apac"}).json()
    claims = reader.get(SCALING, params={"department": "claims"}).json()
    pilots = reader.get(SCALING, params={"stage": "pilot"}).json()
    unknown = reader.get(SCALING, params={"colour": "blue"})

    assert apac["use_cases"] == []
    assert [r["key"] for r in claims["use_cases"][0]["replicas"]] == ["claims-triage-americas", "claims-triage-apac"]
    assert pilots["use_cases"] == []
    assert unknown.status_code == 422


def test_use_cases_come_a_page_at_a_time(writer: TestClient, approver: TestClient, reader: TestClient) -> None:
    for key in ("a-triage", "b-triage"):
        deploy(writer, approver, key)

    first = reader.get(SCALING, params={"limit": 1}).json()
    second = reader.get(SCALING, params={"limit": 1, "cursor": first["next_cursor"]}).json()
    etag = reader.get(SCALING).headers["etag"]

    assert [u["key"] for u in first["use_cases"] + second["use_cases"]] == ["a-triage", "b-triage"]
    assert second["next_cursor"] is None
    assert reader.get(SCALING, headers={"If-None-Match": etag}).status_code == 304
