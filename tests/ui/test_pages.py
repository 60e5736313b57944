"""The dashboard over HTTP: sign-in and sessions, the policy on every response, scopes and filters."""

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.core.clock import Clock
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.ui.web import COOKIE, POLICY, safe_next
from tests.conftest import ADMIN_SECRET, issue_key, settled
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project

BROWSER_POST = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}


def sign_in(client: TestClient, secret: str, next: str = "/ui/") -> TestClient:
    browser = TestClient(client.app)
    response = browser.post(
        "/ui/sign-in", data={"key": secret, "next": next}, headers=BROWSER_POST, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next
    return browser


def scoped_key(admin: TestClient, departments: list[str]) -> str:
    body = {"name": f"reader-{'-'.join(departments)}", "role": "reader", "departments": departments}
    response = admin.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="figure-{name}">([^<]*)<', html)
    assert found is not None, name
    return found.group(1).strip()


def assert_page(response: Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-security-policy"] == POLICY
    html = response.text
    assert "<script" not in html
    assert "<style" not in html
    assert " style=" not in html
    return html


@pytest.fixture
def portfolio(writer: TestClient) -> None:
    make_project(writer, "claims-triage", department="claims", region="emea")
    make_project(
        writer,
        "churn-model",
        name="Churn model",
        department="marketing",
        region="amer",
        workflow=None,
        business_owner=None,
        stakeholders=[{"role": "engineering", "name": "Bo Lee"}],
        deployment={"target": "notebook"},
    )
    make_kpi(writer, "claims-triage", cost_kpi())
    measured = writer.post("/api/v1/projects/claims-triage/kpis/handling-cost/measurements", json={"value": 31})
    assert measured.status_code == 201, measured.text
    make_kpi(
        writer,
        "churn-model",
        cost_kpi(
            key="accuracy",
            name="Model accuracy",
            category="model_accuracy",
            direction="increase",
            baseline=0.7,
            target=0.9,
            unit=None,
            value_per_unit=None,
        ),
    )


def test_signed_out_the_pages_lead_to_sign_in_and_the_root_to_the_dashboard(client: TestClient) -> None:
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/ui/")
    portfolio = client.get("/ui/?department=claims", follow_redirects=False)
    assert portfolio.status_code == 303
    assert portfolio.headers["location"] == "/ui/sign-in?next=%2Fui%2F%3Fdepartment%3Dclaims"
    assert portfolio.headers["content-security-policy"] == POLICY
    project = client.get("/ui/projects/claims-triage", follow_redirects=False)
    assert project.headers["location"] == "/ui/sign-in?next=%2Fui%2Fprojects%2Fclaims-triage"

    html = assert_page(client.get("/ui/sign-in", params={"next": "/ui/projects/claims-triage"}))
    assert '<label for="key">API key</label>' in html
    assert 'value="/ui/projects/claims-triage"' in html


def test_the_dashboard_serves_its_own_assets_under_the_policy(client: TestClient) -> None:
    for path, media_type in (
        ("/ui/static/dashboard.css", "text/css"),
        ("/ui/static/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/x-icon"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(media_type)
        assert response.headers["content-security-policy"] == POLICY


def test_a_wrong_key_is_refused_with_the_reason_on_the_form(client: TestClient) -> None:
    response = client.post("/ui/sign-in", data={"key": "rdy_wrong", "next": "/ui/"}, headers=BROWSER_POST)
    html = assert_page(response, 401)
    assert "That key is unknown, expired or revoked." in html
    assert "set-cookie" not in response.headers


def test_a_key_becomes_a_session_cookie_the_script_cannot_read_and_other_sites_cannot_send(
    client: TestClient, admin: TestClient
) -> None:
    response = client.post(
        "/ui/sign-in",
        data={"key": issue_key(admin, "reader"), "next": "/ui/projects/x"},
        headers=BROWSER_POST,
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("readiness_session=")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert attributes["httponly"]
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/ui"
    assert attributes["max-age"] == "Max-Age=28800"
    # Secure everywhere but on a developer's machine, which serves plain http.
    assert "secure" not in attributes


def test_the_cookie_is_secure_outside_development(client: TestClient, admin: TestClient) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.settings = settings.model_copy(update={"environment": "production"})  # type: ignore[attr-defined]
    try:
        response = client.post(
            "/ui/sign-in", data={"key": issue_key(admin, "reader")}, headers=BROWSER_POST, follow_redirects=False
        )
    finally:
        client.app.state.settings = settings  # type: ignore[attr-defined]
    assert response.status_code == 303
    assert "; secure" in response.headers["set-cookie"].lower()
    assert response.headers["set-cookie"].startswith(f"{COOKIE}=")


def test_forms_sent_from_another_site_are_refused(client: TestClient, admin: TestClient) -> None:
    secret = issue_key(admin, "reader")
    cross = client.post("/ui/sign-in", data={"key": secret}, headers={"Sec-Fetch-Site": "cross-site"})
    assert_page(cross, 403)
    foreign = client.post("/ui/sign-in", data={"key": secret}, headers={"Origin": "https://evil.example"})
    assert_page(foreign, 403)
    browser = sign_in(client, secret)
    out = browser.post("/ui/sign-out", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert out.status_code == 403
    assert browser.get("/ui/", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/ui/projects/a?x=1", "/ui/projects/a?x=1"),
        ("https://evil.example/ui/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/ui/\\evil.example", "/ui/"),
        ("/api/v1/projects", "/ui/"),
        (None, "/ui/"),
    ],
)
def test_after_sign_in_only_a_dashboard_path_is_followed(given: str | None, kept: str) -> None:
    assert safe_next(given) == kept


@pytest.mark.usefixtures("portfolio")
def test_the_portfolio_shows_funnel_stalled_projects_and_benefit(client: TestClient, admin: TestClient) -> None:
    browser = sign_in(client, issue_key(admin, "reader"))
    html = assert_page(browser.get("/ui/"))
    assert figure(html, "projects") == "2"
    assert "Projects per stage, idea to scaling" in html
    assert "Churn model" in html
    assert "measured by model accuracy alone, no business KPI" in html
    assert "Success metric:" in html
    # (40 − 31) × 1000 realized against (40 − 25) × 1000 projected, per month.
    assert "9,000" in html
    assert "15,000" in html
    assert "Projects live, go-live ready and stalling, month by month" in html


@pytest.mark.usefixtures("portfolio")
def test_filters_apply_to_every_figure_and_stay_in_the_address(client: TestClient, admin: TestClient) -> None:
    browser = sign_in(client, issue_key(admin, "reader"))
    html = assert_page(browser.get("/ui/", params={"department": "claims", "stage": "", "owner": ""}))
    assert figure(html, "projects") == "1"
    assert figure(html, "stalled") == "0"
    assert "Churn model" not in html
    assert "9,000" in html
    assert '<option value="claims" selected>' in html
    # The funnel's bars keep the filters when they add a stage.
    assert "?department=claims&amp;stage=poc" in html

    marketing = assert_page(browser.get("/ui/", params={"department": "marketing"}))
    assert figure(marketing, "projects") == "1"
    assert "Churn model" in marketing
    assert "Claims triage" not in marketing
    assert "9,000" not in marketing


@pytest.mark.usefixtures("portfolio")
def test_a_scoped_reader_sees_only_its_departments(client: TestClient, admin: TestClient) -> None:
    browser = sign_in(client, scoped_key(admin, ["claims"]))
    html = assert_page(browser.get("/ui/"))
    assert figure(html, "projects") == "1"
    assert "Claims triage" in html
    assert "Churn model" not in html
    assert '<option value="marketing"' not in html
    asked_for_marketing = assert_page(browser.get("/ui/", params={"department": "marketing"}))
    assert figure(asked_for_marketing, "projects") == "0"
    assert "Churn model" not in asked_for_marketing

    assert_page(browser.get("/ui/projects/churn-model"), 404)
    assert_page(browser.get("/ui/projects/claims-triage"))


@pytest.mark.usefixtures("portfolio")
def test_the_project_page_tells_what_blocks_go_live_and_why_it_stalls(client: TestClient, admin: TestClient) -> None:
    browser = sign_in(client, issue_key(admin, "reader"))
    html = assert_page(browser.get("/ui/projects/churn-model"))
    assert "<h1>Churn model</h1>" in html
    assert "The go-live gate is blocked. To do:" in html
    readiness = admin.get("/api/v1/projects/churn-model/readiness").json()
    blocker = readiness["gate"]["blockers"][0]
    assert f"<strong>{blocker['title']}</strong>: {blocker['reason']}" in html.replace("&#39;", "'")
    assert "like stalled teams" in html
    assert "measured by model accuracy alone, no business KPI" in html
    assert "Model accuracy" in html

    claims = assert_page(browser.get("/ui/projects/claims-triage"))
    assert "Handling cost per claim: measurements against baseline and target" in claims
    assert_page(browser.get("/ui/projects/nowhere"), 404)


def test_a_revoked_key_ends_its_sessions(client: TestClient, admin: TestClient) -> None:
    created = admin.post("/api/v1/api-keys", json={"name": "to-revoke", "role": "reader"}).json()
    browser = sign_in(client, created["secret"])
    assert browser.get("/ui/", follow_redirects=False).status_code == 200
    assert admin.delete(f"/api/v1/api-keys/{created['id']}").status_code in (200, 204)
    after = browser.get("/ui/", follow_redirects=False)
    assert (after.status_code, after.headers["location"]) == (303, "/ui/sign-in?next=%2Fui%2F")


def test_signing_out_ends_the_session_for_good(client: TestClient, admin: TestClient) -> None:
    browser = sign_in(client, issue_key(admin, "reader"))
    token = browser.cookies["readiness_session"]
    csrf = re.search(r'name="csrf" value="(\w+)"', browser.get("/ui/").text)
    assert csrf is not None
    without_token = browser.post("/ui/sign-out", headers=BROWSER_POST, follow_redirects=False)
    assert without_token.status_code == 403
    out = browser.post("/ui/sign-out", data={"csrf": csrf.group(1)}, headers=BROWSER_POST, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/ui/sign-in")
    assert 'readiness_session=""' in out.headers["set-cookie"]
    # The old cookie, replayed, opens nothing: the session is gone from the database.
    replay = TestClient(client.app, cookies={"readiness_session": token})
    assert replay.get("/ui/", follow_redirects=False).status_code == 303


def test_every_role_can_view(client: TestClient, admin: TestClient) -> None:
    roles: list[Any] = ["reader", "writer", "approver"]
    for role in roles:
        assert sign_in(client, issue_key(admin, role)).get("/ui/", follow_redirects=False).status_code == 200


@pytest.mark.usefixtures("portfolio")
def test_the_portfolio_says_what_holds_it_back_as_the_blockers_view_does(
    client: TestClient, admin: TestClient, db: Database
) -> None:
    browser = sign_in(client, issue_key(admin, "reader"))
    # Both reads after the re-scorer's last commit, or one of them may count a project it had not
    # re-scored yet.
    assert settled(db)
    html = assert_page(browser.get("/ui/")).replace("&#39;", "'")
    blockers = admin.get("/api/v1/portfolio/blockers").json()

    assert "What holds the portfolio back" in html
    top = blockers["gate"][0]
    assert f'<strong>{top["title"]}</strong> <span class="count">{top["count"]} projects</span>' in html
    assert top["guidance"] in html
    assert f'href="/ui/projects/{top["projects"][0]}"' in html


@pytest.mark.usefixtures("portfolio")
def test_each_criterion_shows_its_framework_references_with_strength(client: TestClient, admin: TestClient) -> None:
    browser = sign_in(client, issue_key(admin, "reader"))
    html = assert_page(browser.get("/ui/projects/claims-triage"))
    rubric = admin.get("/api/v1/rubrics/ai-production-readiness").json()
    business_kpi = next(c for c in rubric["criteria"] if c["key"] == "value.business_kpi")
    nist = next(r for r in business_kpi["references"] if r["framework"] == "nist-ai-rmf")

    assert f"NIST AI RMF {nist['id']}" in html
    assert f"strength-{nist['strength']}" in html
    assert 'tabindex="0"' in html
    assert "correspondence" in html


def test_rotating_a_key_ends_its_sessions_when_the_old_secret_stops_working(
    client: TestClient, admin: TestClient, clock: Clock
) -> None:
    at_once = admin.post("/api/v1/api-keys", json={"name": "rotated-at-once", "role": "reader"}).json()
    with_grace = admin.post("/api/v1/api-keys", json={"name": "rotated-with-grace", "role": "reader"}).json()
    ended, kept = sign_in(client, at_once["secret"]), sign_in(client, with_grace["secret"])

    rotate = "/api/v1/api-keys/{}:rotate"
    admin.post(rotate.format(at_once["id"]), json={"grace_period_seconds": 0})
    admin.post(rotate.format(with_grace["id"]), json={"grace_period_seconds": 3600})

    assert ended.get("/ui/", follow_redirects=False).status_code == 303
    assert kept.get("/ui/", follow_redirects=False).status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    assert kept.get("/ui/", follow_redirects=False).status_code == 303


def test_the_dashboard_counts_toward_the_callers_request_rate(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings.model_copy(update={"rate_limit": 2}), db)) as limited:
        admin = TestClient(limited.app, headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
        browser = sign_in(limited, issue_key(admin, "reader"))
        answers = [browser.get("/ui/", follow_redirects=False) for _ in range(10)]

    assert answers[0].status_code == 200
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused
    assert "retry-after" in refused[0].headers
    assert "text/html" in refused[0].headers["content-type"]
