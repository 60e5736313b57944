"""The dashboard's initiatives: the list, and a page per initiative with its burn-up and the
projects remaining by department, within the signed-in caller's departments."""

from fastapi.testclient import TestClient

from app.core.db import Database
from tests.conftest import ADMIN_SECRET, settled
from tests.initiatives.helpers import MONITORING, create_initiative, post_facts, starts
from tests.projects.factories import make_project
from tests.ui.test_pages import assert_page, scoped_key, sign_in


def test_the_initiatives_are_listed_with_how_far_each_has_come(
    client: TestClient, writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "claims-docs")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(approver)
    assert settled(db)

    html = assert_page(sign_in(client, ADMIN_SECRET).get("/ui/initiatives"))

    assert 'href="/ui/initiatives/monitoring"' in html
    assert "Monitoring in claims" in html
    assert "go_live.monitoring_alerting and stakeholders.business_owner met, exempt or not applicable" in html
    assert 'href="/ui/initiatives">Initiatives</a>' in html


def test_an_initiatives_page_draws_its_burn_up_and_the_projects_remaining_by_department(
    client: TestClient, writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "claims-docs", name="Claims documents")
    make_project(writer, "churn-model", name="Churn model", department="marketing")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(approver, scope={}, starts_at=starts(-21))
    assert settled(db)

    html = assert_page(sign_in(client, ADMIN_SECRET).get("/ui/initiatives/monitoring"))

    assert "<svg" in html
    assert "Burn-up: projects in scope and done, week by week" in html
    assert html.index("<h3>claims") < html.index("<h3>marketing")
    assert 'href="/ui/projects/claims-docs">Claims documents</a>' in html
    assert 'href="/ui/projects/churn-model">Churn model</a>' in html
    assert "go_live.monitoring_alerting" in html


def test_a_scoped_reader_sees_only_its_departments_of_an_initiative(
    client: TestClient, admin: TestClient, writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "churn-model", name="Churn model", department="marketing")
    create_initiative(approver, scope={})
    assert settled(db)
    browser = sign_in(client, scoped_key(admin, ["marketing"]))

    html = assert_page(browser.get("/ui/initiatives/monitoring"))

    assert "Churn model" in html
    assert "claims-triage" not in html
    assert "<h3>claims" not in html


def test_an_unknown_initiative_is_a_page_that_says_so(client: TestClient) -> None:
    html = assert_page(sign_in(client, ADMIN_SECRET).get("/ui/initiatives/nothing-here"), 404)

    assert "No initiative with key" in html
