"""The dashboard's scaling panel: the replication grid, projects per platform and the focus
warnings, scoped like every figure; the focus signal on a project's page."""

import re

import pytest
from fastapi.testclient import TestClient

from app.core.db import Database
from tests.conftest import ADMIN_SECRET, settled
from tests.platforms.factories import deploy, make_platform
from tests.projects.factories import make_project
from tests.ui.test_pages import assert_page, scoped_key, sign_in


@pytest.fixture
def replicated(admin: TestClient, writer: TestClient, approver: TestClient, db: Database) -> None:
    make_platform(admin)
    deploy(writer, approver, "claims-triage", name="Claims triage", platform="claims-vpc", domain="claims")
    make_project(writer, "claims-triage-apac", region="apac", platform="claims-vpc", replica_of="claims-triage")
    make_project(writer, "home-claims", domain="claims", adjacent_to="claims-triage")
    make_project(writer, "claims-chatbot", name="Claims chatbot")
    writer.post("/api/v1/projects/claims-chatbot/stage-transitions", json={"to": "poc"})
    assert settled(db)


def grid(html: str) -> str:
    found = re.search(r'<table class="replication">.*?</table>', html, re.S)
    assert found is not None
    return found.group(0)


@pytest.mark.usefixtures("replicated")
def test_the_portfolio_page_draws_the_replication_grid_and_the_focus_warnings(client: TestClient) -> None:
    html = assert_page(sign_in(client, ADMIN_SECRET).get("/ui/"))

    table = grid(html)
    assert "Replication grid" in table
    assert re.search(r"<th scope=\"col\">claims<span class=\"sub\">apac</span></th>", table)
    assert 'class="cell origin"' in table
    assert re.search(r'class="cell replica same-platform"><a href="/ui/projects/claims-triage-apac">', table)
    assert 'href="/ui/projects/home-claims"' in table
    assert "Resist the temptation to jump to entirely new use cases before the first one is stable." in html
    assert re.search(r'<a href="/ui/projects/claims-chatbot">Claims chatbot</a> \(claims, POC\): claims-triage', html)
    assert re.search(r"Claims VPC platform<span class=\"sub\">claims-vpc</span></th><td class=\"number\">2</td>", html)


@pytest.mark.usefixtures("replicated")
def test_a_scoped_reader_sees_no_grid_row_of_another_department(admin: TestClient, client: TestClient) -> None:
    html = assert_page(sign_in(client, scoped_key(admin, ["marketing"])).get("/ui/"))

    assert '<table class="replication">' not in html
    assert "claims-triage" not in html
    assert "No use case is in production yet." in html


@pytest.mark.usefixtures("replicated")
def test_the_project_page_names_the_unstable_deployment_in_its_focus_signal(client: TestClient) -> None:
    html = assert_page(sign_in(client, ADMIN_SECRET).get("/ui/projects/claims-chatbot"))

    assert "<strong>Focus</strong>" in html
    assert (
        "resist the temptation to jump to entirely new use cases before the first one is stable: claims-triage" in html
    )
