"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against `readiness serve`.

One database (SQLite) is enough here: the pages' data paths run on both in `test_pages.py`.
Screenshots of both pages, desktop and phone, land in `tests/ui/screenshots/` for review; with
READINESS_UPDATE_SCREENSHOTS=1 the desktop ones also replace the README's and the documentation site's in
`docs/screenshots/`.
"""

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize, expect, sync_playwright

from tests.conftest import DatabaseUrlFactory
from tests.kpis.factories import cost_kpi
from tests.projects.factories import project_body
from tests.served import Served

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).parent
AXE = HERE / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
README_SCREENSHOTS = HERE.parent.parent / "docs" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=375, height=812)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _measure(api: httpx.Client, project: str, kpi: str, values: list[float]) -> None:
    now = datetime.now(UTC)
    for months_ago, value in zip(range(len(values) - 1, -1, -1), values, strict=True):
        at = (now - timedelta(days=30 * months_ago + 1)).isoformat()
        _ok(api.post(f"/projects/{project}/kpis/{kpi}/measurements", json={"value": value, "measured_at": at}))


def _go_live(api: httpx.Client, project: str) -> None:
    """The go recorded by another admin than the one who posted the KPIs: four eyes."""
    chair = _ok(api.post("/api-keys", json={"name": f"chair-{project}", "role": "admin"}))
    evaluation = _ok(api.post(f"/projects/{project}/evaluations", json={}))
    decision = {
        "evaluation_id": evaluation["id"],
        "decision": "go",
        "on_behalf_of": "Steering committee",
        "override_reason": "Rollback rehearsed by hand; the fact follows next sprint",
        "rationale": "Handling cost down a quarter in the pilot",
    }
    headers = {"Authorization": f"Bearer {chair['secret']}"}
    _ok(api.post(f"/projects/{project}/decisions", json=decision, headers=headers))


def seed(api: httpx.Client) -> None:
    """The playbook's two stories, and a few projects around them in other stages and departments."""
    _ok(api.post("/projects", json=project_body("claims-triage")))
    _ok(api.post("/projects/claims-triage/kpis", json=cost_kpi()))
    _measure(api, "claims-triage", "handling-cost", [40, 37, 33, 31, 29])
    for stage in ("poc", "pilot"):
        _ok(api.post("/projects/claims-triage/stage-transitions", json={"to": stage, "reason": "KPI on track"}))
    _go_live(api, "claims-triage")
    _ok(api.post("/projects/claims-triage/stage-transitions", json={"to": "production", "reason": "Go"}))

    churn = project_body(
        "churn-model",
        name="Churn model",
        department="marketing",
        region="amer",
        workflow=None,
        business_owner=None,
        stakeholders=[{"role": "engineering", "name": "Bo Lee"}],
        deployment={"target": "notebook"},
        costs={"build_cost": 80000, "currency": "USD"},
    )
    _ok(api.post("/projects", json=churn))
    accuracy = cost_kpi(
        key="accuracy",
        name="Model accuracy",
        category="model_accuracy",
        direction="increase",
        baseline=0.7,
        target=0.9,
        unit="share",
        value_per_unit=None,
    )
    _ok(api.post("/projects/churn-model/kpis", json=accuracy))
    _measure(api, "churn-model", "accuracy", [0.71, 0.78, 0.83])
    _ok(api.post("/projects/churn-model/stage-transitions", json={"to": "poc", "reason": "Data science idea"}))

    for key, name, department, region in (
        ("invoice-matching", "Invoice matching", "finance", "emea"),
        ("contract-search", "Contract search", "legal", "apac"),
        ("fraud-alerts", "Fraud alerts", "claims", "amer"),
    ):
        _ok(api.post("/projects", json=project_body(key, name=name, department=department, region=region)))
    _ok(api.post("/projects/fraud-alerts/stage-transitions", json={"to": "poc", "reason": "Sponsor found"}))
    programme = {
        "key": "claims-go-live-gate",
        "name": "Gate criteria met in claims",
        "owner": {"name": "Ana Souza", "email": "ana@example.com"},
        "goal": {"gate": True},
        "scope": {"department": "claims"},
        "starts_at": (datetime.now(UTC) - timedelta(days=60)).isoformat(),
        "target_date": (datetime.now(UTC) + timedelta(days=60)).date().isoformat(),
    }
    _ok(api.post("/initiatives", json=programme))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, database_url_factory: DatabaseUrlFactory) -> Iterator[Served]:
    with Served(database_url_factory("sqlite"), tmp_path_factory.mktemp("served")) as service:
        with service.client() as api:
            seed(api)
        yield service


@pytest.fixture(scope="module")
def reader_key(served: Served) -> str:
    with served.client() as api:
        return str(_ok(api.post("/api-keys", json={"name": "steering-committee", "role": "reader"}))["secret"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


class Console:
    """Every error the page logs: failed loads (any 4xx or 5xx), policy violations, script errors."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} at {message.location.get('url')}")


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{name} scrolls sideways at {size['width']} px"
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    if os.environ.get("READINESS_UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOTS / f"{name}-desktop.png", README_SCREENSHOTS / f"{name}.png")


def _figure(page: Page, name: str) -> int:
    return int(page.locator(f"#figure-{name}").inner_text())


def test_a_reader_signs_in_follows_a_stalled_project_and_signs_out(
    browser: Browser, served: Served, reader_key: str
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console(page)

    page.goto(f"{served.base}/")
    expect(page).to_have_url(f"{served.base}/ui/sign-in?next=%2Fui%2F")
    page.get_by_label("API key").fill(reader_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{served.base}/ui/")

    expect(page.get_by_role("heading", name="Funnel")).to_be_visible()
    expect(page.locator("svg.chart-bar").first).to_be_visible()
    stalled = page.get_by_role("region", name="Stalling projects")
    expect(stalled.get_by_role("link", name="Churn model")).to_be_visible()
    expect(stalled).to_contain_text("Success metric: measured by model accuracy alone, no business KPI")
    expect(page.get_by_role("heading", name="Monthly benefit, realized against projected")).to_be_visible()
    expect(page.get_by_role("region", name="Trend").locator("svg.chart-line")).to_have_count(3)
    everything = _figure(page, "projects")
    assert everything == 5
    _screenshot(page, "portfolio")

    page.get_by_label("Department").select_option("claims")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(f"{served.base}/ui/?department=claims&region=&stage=&risk_tier=&owner=")
    assert _figure(page, "projects") == 2
    expect(stalled.get_by_role("link", name="Churn model")).to_have_count(0)
    page.get_by_role("link", name="Clear filters").click()
    assert _figure(page, "projects") == everything

    stalled.get_by_role("link", name="Churn model").click()
    expect(page).to_have_url(f"{served.base}/ui/projects/churn-model")
    expect(page.get_by_role("heading", level=1)).to_have_text("Churn model")
    signals = page.get_by_role("region", name="Stall signals")
    expect(signals).to_contain_text("measured by model accuracy alone, no business KPI")
    expect(signals).to_contain_text("IT-only: no business owner or business stakeholder")
    kpis = page.get_by_role("region", name="Business KPIs")
    expect(kpis.locator("svg.chart-line")).to_have_count(1)
    expect(kpis.get_by_role("img", name="Model accuracy: measurements against baseline and target")).to_be_visible()
    expect(page.get_by_role("region", name="Before go-live").locator("li").first).to_be_visible()
    _screenshot(page, "project")

    # axe-core is a script, which the dashboard's policy refuses: it runs in a context that
    # bypasses the policy, signed in with the same session.
    audit = browser.new_context(viewport=DESKTOP, bypass_csp=True, storage_state=context.storage_state())
    for path in (
        "/ui/",
        "/ui/projects/churn-model",
        "/ui/projects/claims-triage",
        "/ui/initiatives",
        "/ui/initiatives/claims-go-live-gate",
    ):
        _assert_accessible(audit, f"{served.base}{path}")
    audit.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{served.base}/ui/sign-in")
    page.goto(f"{served.base}/ui/projects/churn-model")
    expect(page).to_have_url(f"{served.base}/ui/sign-in?next=%2Fui%2Fprojects%2Fchurn-model")

    assert console.errors == []
    context.close()


def test_the_sign_in_page_is_accessible(browser: Browser, served: Served) -> None:
    audit = browser.new_context(viewport=PHONE, bypass_csp=True)
    _assert_accessible(audit, f"{served.base}/ui/sign-in")
    audit.close()


def _assert_accessible(context: BrowserContext, url: str) -> None:
    page = context.new_page()
    page.goto(url)
    page.add_script_tag(path=AXE)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{url}: {serious}"
    page.close()
