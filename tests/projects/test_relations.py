"""Relations between projects: replicas on their origin's platform, adjacent use cases in the same
domain, both ends re-scored on every change, and the relations validated."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import Database, utcnow
from app.engine import scoring
from app.engine.default_rubric import KEY as DEFAULT_RUBRIC_KEY
from app.projects.models import Project
from app.readiness import inputs
from app.rubrics.schemas import RubricVersionSpec
from migrations.data import published_definition
from tests.platforms.factories import PROJECTS, deploy, make_platform
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem
from tests.readiness.test_api import eventually, portfolio_row

MERGE = {"Content-Type": "application/merge-patch+json"}


def criterion(client: TestClient, project: str, key: str) -> dict[str, Any]:
    readiness = client.get(f"{PROJECTS}/{project}/readiness").json()
    found: dict[str, Any] = next(c for c in readiness["criteria"] if c["key"] == key)
    return found


@pytest.fixture
def origin(admin: TestClient, writer: TestClient, approver: TestClient) -> None:
    """claims-triage in production on the claims VPC platform, in domain claims."""
    make_platform(admin)
    make_platform(admin, "apac-dc", name="APAC data centre")
    deploy(writer, approver, "claims-triage", platform="claims-vpc", domain="claims")


def replicate(writer: TestClient, key: str, region: str, platform: str | None = "claims-vpc") -> None:
    make_project(writer, key, region=region, platform=platform, domain="claims", replica_of="claims-triage")


@pytest.mark.usefixtures("origin")
def test_two_replicas_on_their_origins_platform_meet_same_infrastructure_and_one_moved_away_is_partial(
    writer: TestClient,
) -> None:
    before = criterion(writer, "claims-triage", "scaling.same_infrastructure")
    replicate(writer, "claims-triage-americas", "americas")
    replicate(writer, "claims-triage-apac", "apac")

    met = criterion(writer, "claims-triage", "scaling.same_infrastructure")
    score_met = writer.get(f"{PROJECTS}/claims-triage/readiness").json()["score"]
    in_portfolio = eventually(lambda: portfolio_row(writer)["score"] == score_met)
    moved = writer.patch(f"{PROJECTS}/claims-triage-apac", json={"platform": "apac-dc"}, headers=MERGE)
    partial = criterion(writer, "claims-triage", "scaling.same_infrastructure")
    history = writer.get(f"{PROJECTS}/claims-triage/readiness/history").json()["items"]

    assert (before["status"], before["source"], before["reason"]) == (
        "not_met",
        "unanswered",
        "no project replicates it; not answered",
    )
    assert (met["status"], met["source"]) == ("met", "check")
    assert met["reason"] == (
        "2 of 2 replicas run on its platform claims-vpc: claims-triage-americas (claims, americas), "
        "claims-triage-apac (claims, apac)"
    )
    assert in_portfolio
    assert moved.status_code == 200, moved.text
    assert partial["status"] == "partial"
    assert "claims-triage-apac (claims, apac) runs on apac-dc" in partial["reason"]
    assert "its platform claims-vpc" in partial["reason"]
    assert history[0]["cause"] == [{"kind": "project", "name": "claims-triage-apac"}]


@pytest.mark.usefixtures("origin")
def test_a_project_adjacent_in_the_same_domain_meets_adjacent_use_cases_and_across_domains_is_refused(
    writer: TestClient,
) -> None:
    before = criterion(writer, "claims-triage", "scaling.adjacent_use_cases")
    across = writer.post(
        PROJECTS,
        json={"key": "pricing", "name": "Pricing", "domain": "underwriting", "adjacent_to": "claims-triage"},
    )
    make_project(writer, "home-claims-triage", domain="claims", adjacent_to="claims-triage")

    after = criterion(writer, "claims-triage", "scaling.adjacent_use_cases")

    assert before["status"] == "not_met"
    problem = assert_problem(across, 422)
    assert problem["errors"][0]["field"] == "body.adjacent_to"
    assert "adjacency stays in the domain" in problem["errors"][0]["message"]
    assert (after["status"], after["source"]) == ("met", "check")
    assert after["reason"] == "adjacent use cases in domain claims: home-claims-triage"


@pytest.mark.usefixtures("origin")
def test_deleting_a_replica_rescores_its_origin_and_deleting_the_origin_frees_its_replicas(
    admin: TestClient, writer: TestClient
) -> None:
    replicate(writer, "claims-triage-apac", "apac")
    assert criterion(writer, "claims-triage", "scaling.same_infrastructure")["status"] == "met"

    assert admin.delete(f"{PROJECTS}/claims-triage-apac").status_code == 204
    after_delete = criterion(writer, "claims-triage", "scaling.same_infrastructure")
    replicate(writer, "claims-triage-americas", "americas")
    etag = writer.get(f"{PROJECTS}/claims-triage-americas").headers["etag"]
    assert admin.delete(f"{PROJECTS}/claims-triage").status_code == 204
    freed = writer.get(f"{PROJECTS}/claims-triage-americas")

    assert after_delete["status"] == "not_met"
    assert after_delete["reason"].startswith("no project replicates it")
    assert freed.json()["replica_of"] is None
    assert freed.headers["etag"] != etag


@pytest.mark.usefixtures("origin")
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"department": "claims", "region": "emea", "replica_of": "claims-triage"},
            "body.replica_of",
            "a replica differs from its origin claims-triage in department or region",
        ),
        ({"replica_of": "no-such-project"}, "body.replica_of", "no project with key 'no-such-project'"),
        ({"adjacent_to": "claims-triage"}, "body.adjacent_to", "adjacency stays in the domain"),
        ({"domain": "claims", "adjacent_to": "mirror"}, "body.adjacent_to", "a project cannot relate to itself"),
        ({"platform": "nowhere"}, "body.platform", "no platform with key 'nowhere'"),
    ],
)
def test_relations_that_cannot_stand_are_422_and_change_nothing(
    writer: TestClient, body: dict[str, Any], field: str, message: str
) -> None:
    problem = assert_problem(writer.post(PROJECTS, json={"key": "mirror", "name": "Mirror", **body}), 422)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert message in problem["errors"][0]["message"]
    assert_problem(writer.get(f"{PROJECTS}/mirror"), 404)


@pytest.mark.usefixtures("origin")
def test_no_cycle_through_replica_of_and_adjacent_to(writer: TestClient) -> None:
    make_project(writer, "home-claims", domain="claims", adjacent_to="claims-triage")
    make_project(writer, "home-claims-apac", region="apac", domain="claims", replica_of="home-claims")

    closing = writer.patch(f"{PROJECTS}/claims-triage", json={"adjacent_to": "home-claims-apac"}, headers=MERGE)

    problem = assert_problem(closing, 422)
    assert problem["errors"][0]["message"] == (
        "no cycle through replica_of and adjacent_to: claims-triage → home-claims-apac → home-claims → claims-triage"
    )
    assert writer.get(f"{PROJECTS}/claims-triage").json()["adjacent_to"] is None


@pytest.mark.usefixtures("origin")
def test_an_origin_cannot_move_into_its_replicas_department_and_region(writer: TestClient) -> None:
    replicate(writer, "claims-triage-apac", "apac")

    problem = assert_problem(writer.patch(f"{PROJECTS}/claims-triage", json={"region": "apac"}, headers=MERGE), 422)

    assert problem["errors"][0]["field"] == "body.department"
    assert "claims-triage-apac" in problem["errors"][0]["message"]


@pytest.mark.usefixtures("origin")
def test_a_scoped_caller_points_only_at_projects_it_can_see(admin: TestClient, client: TestClient) -> None:
    response = admin.post(
        "/api/v1/api-keys", json={"name": "marketing-writer", "role": "writer", "departments": ["marketing"]}
    )
    scoped = TestClient(client.app, headers={"Authorization": f"Bearer {response.json()['secret']}"})

    hidden = scoped.post(
        PROJECTS,
        json={"key": "mkt-claims", "name": "M", "department": "marketing", "replica_of": "claims-triage"},
    )

    problem = assert_problem(hidden, 422)
    assert problem["errors"][0]["message"] == "no project with key 'claims-triage' within the caller's departments"


def test_only_projects_whose_relations_now_decide_them_score_differently_against_version_3(
    admin: TestClient, writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_platform(admin)
    deploy(writer, approver, "claims-triage", platform="claims-vpc", domain="claims")
    deploy(writer, approver, "invoice-matching", department="finance", platform="claims-vpc", domain="finance")
    replicate(writer, "claims-triage-apac", "apac")
    make_project(writer, "home-claims", domain="claims", adjacent_to="claims-triage")
    make_project(writer, "lead-scoring", department="marketing")
    related = {"claims-triage"}
    v2, v3 = (
        RubricVersionSpec.model_validate(published_definition(DEFAULT_RUBRIC_KEY, n)).to_engine(DEFAULT_RUBRIC_KEY, n)
        for n in (2, 3)
    )
    now = utcnow()

    def load(session: Session) -> tuple[list[Project], dict[Any, inputs.ReadinessInputs]]:
        projects = list(session.scalars(select(Project)))
        return projects, inputs.load(session, projects, now)

    projects, loaded = db.work(load, write=False)()

    moved = set()
    for project in projects:
        given = loaded[project.id]
        before, after = (
            scoring.evaluate(rubric, given.snapshot, given.attestations, given.exemptions, now) for rubric in (v2, v3)
        )
        statuses = ({c.key: c.status for c in r.criteria} for r in (before, after))
        if (before.score, before.level, before.gate_passed, before.blockers, next(statuses)) != (
            after.score,
            after.level,
            after.gate_passed,
            after.blockers,
            next(statuses),
        ):
            moved.add(project.key)
    assert len(projects) == 5
    assert moved == related
