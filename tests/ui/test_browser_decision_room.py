"""The decision room in a real browser, with people signed in through the OpenID provider: a writer
asks for a decision, an approver attests the rollback uploading the drill's report, another records
the go, and the project reaches production; the approver who supplied a gate's evidence is refused
the go on another project and sees why on the page; a committee of one department sees only its
queue. On both databases."""

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import DatabaseUrlFactory
from tests.evaluations.test_api import GO_LIVE_FACTS
from tests.evidence import files
from tests.kpis.factories import cost_kpi
from tests.oidc import AUDIENCE, OidcProvider
from tests.projects.factories import project_body
from tests.served import Served
from tests.ui.test_browser import CHROMIUM, DESKTOP, Console, _assert_accessible, _screenshot

ROLLBACK_TITLE = "Rollback procedure tested and documented"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _pilot(api: httpx.Client, key: str, name: str, department: str) -> None:
    """A pilot whose gate waits only for the rollback: every other go-live input posted by a system."""
    _ok(api.post("/projects", json=project_body(key, name=name, department=department)))
    _ok(api.post(f"/projects/{key}/kpis", json=cost_kpi()))
    _ok(api.post(f"/projects/{key}/kpis/handling-cost/measurements", json={"value": 31}))
    for stage in ("poc", "pilot"):
        _ok(api.post(f"/projects/{key}/stage-transitions", json={"to": stage}))
    for fact, value in GO_LIVE_FACTS.items():
        _ok(api.put(f"/projects/{key}/facts/{fact}", json={"value": value}))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, database_url_factory: DatabaseUrlFactory
) -> Iterator[tuple[Served, str]]:
    directory = tmp_path_factory.mktemp(f"decision-room-{request.param}")
    service = Served(database_url_factory(request.param), directory)
    dashboard = f"http://localhost:{service.port}"
    provider = OidcProvider(directory, redirect_uris=[f"{dashboard}/ui/auth/callback"])
    provider.start()
    service.env |= {
        "READINESS_OIDC_ISSUER": provider.issuer,
        "READINESS_OIDC_AUDIENCE": AUDIENCE,
        "READINESS_OIDC_CLIENT_ID": "dashboard",
        "READINESS_OIDC_PROVIDER_NAME": "Acme ID",
    }
    try:
        with service:
            with service.client() as api:
                _pilot(api, "claims-triage", "Claims triage", "claims")
                _pilot(api, "fraud-alerts", "Fraud alerts", "claims")
                _pilot(api, "churn-model", "Churn model", "marketing")
                _ok(api.post("/projects/churn-model/decision-requests", json={"note": "Marketing wants a go"}))
            yield service, dashboard
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def _signed_in(browser: Browser, dashboard: str, login: str, path: str) -> Page:
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{dashboard}{path}")
    page.get_by_role("link", name="Sign in with Acme ID").click()
    page.get_by_placeholder("Enter any login").fill(login)
    page.get_by_placeholder("and password").fill("any password will do")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{dashboard}{path}")
    return page


def _attest_rollback_with_the_report(page: Page) -> None:
    form = page.locator("form", has=page.get_by_role("heading", name="Attest a criterion"))
    form.get_by_label("Criterion").select_option(label=f"{ROLLBACK_TITLE} (gate) — needs evidence")
    form.get_by_label("Status").select_option("met")
    form.get_by_label("Note").fill("Rolled back the staging release in 40 seconds")
    form.get_by_label("Evidence file").set_input_files(
        {"name": "rollback-drill.pdf", "mimeType": "application/pdf", "buffer": files.pdf(400_000)}
    )
    form.get_by_role("button", name="Attest").click()


def _record(page: Page, decision: str, rationale: str) -> None:
    form = page.locator("form", has=page.get_by_role("heading", name="Record the go/no-go decision"))
    form.get_by_label(decision, exact=True).check()
    form.get_by_label("Rationale").fill(rationale)
    form.get_by_role("button", name="Record the decision").click()


def test_a_writer_asks_an_approver_attests_with_evidence_another_decides_and_four_eyes_holds(
    browser: Browser, served: tuple[Served, str]
) -> None:
    service, dashboard = served
    project = "/ui/projects/claims-triage"

    writer = _signed_in(browser, dashboard, "pilot-lead", project)
    console = Console(writer)
    writer.get_by_label("What the steering committee should look at").fill("Rollback drilled; ready for the go")
    writer.get_by_role("button", name="Request a decision").click()
    expect(writer.get_by_role("status")).to_have_text("Decision requested: it waits in the steering committee's queue.")

    attester = _signed_in(browser, dashboard, "risk-officer", "/ui/decisions")
    expect(attester.get_by_role("link", name="Claims triage")).to_be_visible()
    expect(attester.get_by_text("Rollback drilled; ready for the go")).to_be_visible()
    _screenshot(attester, "decisions")
    attester.get_by_role("link", name="Claims triage").click()
    _attest_rollback_with_the_report(attester)
    expect(attester.get_by_role("status")).to_have_text("Attestation recorded.")
    expect(attester.get_by_role("link", name="rollback-drill.pdf")).to_be_visible()

    chair = _signed_in(browser, dashboard, "committee-chair", project)
    _record(chair, "Go", "Gate passes; handling cost down a fifth in the pilot")
    expect(chair.get_by_role("status")).to_have_text("Decision recorded.")
    expect(chair.get_by_role("cell", name="Go", exact=True)).to_be_visible()
    _screenshot(chair, "decision-room")
    with service.client() as api:
        moved = api.post("/projects/claims-triage/stage-transitions", json={"to": "production"})
        assert moved.status_code == 201, moved.text
        request = api.get("/projects/claims-triage/decision-requests").json()["items"][0]
        decision = api.get("/projects/claims-triage/decisions").json()["items"][0]
    assert request["status"] == "closed"
    assert request["decision_id"] == decision["id"]
    assert decision["decided_by"] == "Committee Chair"

    attester.goto(f"{dashboard}/ui/projects/fraud-alerts")
    _attest_rollback_with_the_report(attester)
    expect(attester.get_by_role("status")).to_have_text("Attestation recorded.")
    _record(attester, "Go", "I drilled it myself")
    refusal = attester.get_by_role("alert")
    expect(refusal).to_contain_text("Four eyes")
    expect(refusal).to_contain_text("go_live.rollback_tested")
    with service.client() as api:
        assert api.get("/projects/fraud-alerts/decisions").json()["items"] == []
    assert [error for error in console.errors if dashboard in error] == []

    scoped = _signed_in(browser, dashboard, "claims-approver", "/ui/decisions")
    expect(scoped.locator(".who")).to_have_text("Claims Approver · approver · claims")
    expect(scoped.get_by_role("link", name="Churn model")).to_have_count(0)
    with service.client() as api:
        assert [item["project"] for item in api.get("/decision-requests").json()["items"]] == ["churn-model"]

    audit = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    audit.add_cookies(cast(Any, chair.context.cookies()))
    for path in ("/ui/decisions", project, "/ui/projects/fraud-alerts"):
        _assert_accessible(audit, f"{dashboard}{path}")
    audit.close()
