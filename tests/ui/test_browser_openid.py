"""Signing in to the dashboard through a real OpenID provider, in a real browser: Debian's Chromium,
driven by Playwright, against `readiness serve` and oidc-provider with its development login pages.

The session cookie is SameSite=Strict and the way back from the provider is a navigation another
site began: this is where a browser would drop it, so this is where it is shown to arrive. The
browser reaches the dashboard as `localhost` and the provider as `127.0.0.1`: two sites, as in a
deployment (ports do not make sites).
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import DatabaseUrlFactory
from tests.oidc import AUDIENCE, OidcProvider
from tests.served import Served
from tests.ui.test_browser import CHROMIUM, DESKTOP, Console, _assert_accessible, seed


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, database_url_factory: DatabaseUrlFactory
) -> Iterator[tuple[Served, OidcProvider]]:
    directory = tmp_path_factory.mktemp("served-openid")
    service = Served(database_url_factory("sqlite"), directory)
    provider = OidcProvider(directory, redirect_uris=[f"{_dashboard(service)}/ui/auth/callback"])
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
                seed(api)
            yield service, provider
    finally:
        provider.stop()


def _dashboard(service: Served) -> str:
    """Where the browser reaches the dashboard: another site than the provider's 127.0.0.1."""
    return f"http://localhost:{service.port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def _sign_in_at_the_provider(page: Page, login: str) -> None:
    page.get_by_role("link", name="Sign in with Acme ID").click()
    page.get_by_placeholder("Enter any login").fill(login)
    page.get_by_placeholder("and password").fill("any password will do")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_people_sign_in_through_the_provider_see_their_departments_and_sign_out(
    browser: Browser, served: tuple[Served, OidcProvider]
) -> None:
    service, _provider = served
    base = _dashboard(service)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console(page)

    page.goto(f"{base}/ui/projects/churn-model")
    expect(page).to_have_url(f"{base}/ui/sign-in?next=%2Fui%2Fprojects%2Fchurn-model")
    _sign_in_at_the_provider(page, "ana")
    expect(page).to_have_url(f"{base}/ui/projects/churn-model")
    expect(page.get_by_role("heading", level=1)).to_have_text("Churn model")
    expect(page.locator(".who")).to_have_text("ana · reader")
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert cookies["readiness_session"]["sameSite"] == "Strict"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Portfolio").click()
    expect(page.locator("#figure-projects")).to_have_text("5")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/ui/sign-in")
    page.goto(f"{base}/ui/")
    expect(page).to_have_url(f"{base}/ui/sign-in?next=%2Fui%2F")
    assert [error for error in console.errors if base in error] == []
    context.close()

    scoped = browser.new_context(viewport=DESKTOP).new_page()
    scoped.goto(f"{base}/ui/")
    _sign_in_at_the_provider(scoped, "claims-analyst")
    expect(scoped).to_have_url(f"{base}/ui/")
    expect(scoped.locator(".who")).to_have_text("claims-analyst · reader · claims")
    expect(scoped.locator("#figure-projects")).to_have_text("2")
    expect(scoped.get_by_role("link", name="Churn model")).to_have_count(0)
    scoped.context.close()

    audit = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    _assert_accessible(audit, f"{base}/ui/sign-in")
    audit.close()
