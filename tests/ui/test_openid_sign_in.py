"""Dashboard sign-in through the OpenID provider, over HTTP, on both databases.

The refusals come from a scripted provider (tests/oidc/scripted.py), whose token endpoint answers
the ID tokens a real one cannot be made to issue; one sign-in goes through the real provider
(oidc-provider), as a confidential client.
"""

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from app.core.clock import Clock
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.ui.models import UiPendingSignIn, UiSession
from app.ui.sessions import csrf_token
from app.ui.web import COOKIE, POLICY
from tests.oidc import AUDIENCE, OidcProvider, b64url, new_rsa_key, sign
from tests.oidc.scripted import ScriptedProvider, scripted_provider
from tests.projects.factories import make_project

CALLBACK = "http://testserver/ui/auth/callback"


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedProvider]:
    with scripted_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def real_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-sign-in"), redirect_uris=[CALLBACK])
    provider.start()
    yield provider
    provider.stop()


def with_sign_in(settings: Settings, issuer: str, **overrides: Any) -> Settings:
    return Settings.model_validate(
        settings.model_dump()
        | {"oidc_issuer": issuer, "oidc_audience": AUDIENCE, "oidc_client_id": "dashboard"}
        | {"oidc_provider_name": "Acme ID", "oidc_jwks_min_refresh_seconds": 0}
        | {"oidc_role_map": {"Readiness.Writer": "writer"}}
        | overrides
    )


@pytest.fixture
def browser(settings: Settings, db: Database, scripted: ScriptedProvider) -> Iterator[TestClient]:
    """A browser on a dashboard that signs in through the scripted provider."""
    scripted.requests.clear()
    with TestClient(create_app(with_sign_in(settings, scripted.issuer), db)) as client:
        yield client


@dataclass(frozen=True)
class Begun:
    """A sign-in sent to the provider: what its authorization request said."""

    state: str
    nonce: str
    query: dict[str, list[str]]


def begin(browser: TestClient, next: str = "/ui/") -> Begun:
    response = browser.get("/ui/auth/login", params={"next": next}, follow_redirects=False)
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return Begun(state=query["state"][0], nonce=query["nonce"][0], query=query)


def come_back(browser: TestClient, begun: Begun, **params: str) -> Response:
    response: Response = browser.get("/ui/auth/callback", params={"code": "a-code", "state": begun.state, **params})
    return response


def sign_in(browser: TestClient, scripted: ScriptedProvider, next: str = "/ui/", **claims: Any) -> Response:
    begun = begin(browser, next)
    scripted.answer_with(scripted.id_token(scripted.claims(nonce=begun.nonce, roles=["reader"], **claims)))
    return come_back(browser, begun, iss=scripted.issuer)


def assert_refused(response: Response, status: int, message: str) -> str:
    """A refusal: the sign-in page with the reason, under the dashboard's policy, and no session."""
    assert response.status_code == status, response.text
    assert response.headers["content-security-policy"] == POLICY
    assert "Sign in to the dashboard" in response.text
    assert message in response.text.replace("&#39;", "'"), response.text
    assert "Traceback" not in response.text
    assert f"{COOKIE}=" not in response.headers.get("set-cookie", "")
    return response.text


def sessions_of(db: Database) -> list[UiSession]:
    return list(db.work(lambda session: list(session.scalars(select(UiSession))), write=False)())


def pending_count(db: Database) -> int:
    count = db.work(lambda session: session.scalar(select(func.count()).select_from(UiPendingSignIn)), write=False)
    return int(count() or 0)


def test_the_sign_in_page_offers_the_provider_beside_the_key(browser: TestClient, client: TestClient) -> None:
    offered = browser.get("/ui/sign-in", params={"next": "/ui/projects/a?x=1"}).text
    plain = client.get("/ui/sign-in").text

    assert 'href="/ui/auth/login?next=%2Fui%2Fprojects%2Fa%3Fx%3D1">Sign in with Acme ID</a>' in offered
    assert '<label for="key">API key</label>' in offered
    assert "Sign in with" not in plain
    unconfigured = client.get("/ui/auth/login", follow_redirects=False)
    assert unconfigured.status_code == 404
    assert "not configured here" in unconfigured.text


def test_login_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(
    browser: TestClient, scripted: ScriptedProvider, db: Database
) -> None:
    response = browser.get("/ui/auth/login", params={"next": "https://evil.example/"}, follow_redirects=False)

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{scripted.issuer}/authorize"
    query = parse_qs(location.query)
    assert query["tenant"] == ["acme"]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["dashboard"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["scope"] == ["openid profile email"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43
    assert len(query["nonce"][0]) >= 43
    binding = response.headers["set-cookie"]
    assert binding.startswith("readiness_sign_in_")
    for attribute in ("Path=/ui/auth", "HttpOnly", "SameSite=lax", "Max-Age=600"):
        assert attribute in binding
    assert pending_count(db) == 1
    stored = db.work(lambda session: session.scalars(select(UiPendingSignIn)).one(), write=False)()
    assert stored.next == "/ui/"
    # Only hashes: neither the state nor anything that redeems a code is kept.
    assert query["state"][0] not in repr(vars(stored))


def test_a_next_too_long_to_keep_leads_to_the_portfolio(browser: TestClient, db: Database) -> None:
    response = browser.get("/ui/auth/login", params={"next": "/ui/" + "a" * 3000}, follow_redirects=False)

    assert response.status_code == 303
    stored = db.work(lambda session: session.scalars(select(UiPendingSignIn)).one(), write=False)()
    assert stored.next == "/ui/"


def test_the_code_is_redeemed_with_the_verifier_and_the_session_takes_the_id_token_identity(
    browser: TestClient, scripted: ScriptedProvider, db: Database
) -> None:
    begun = begin(browser, "/ui/projects/claims-triage")
    claims = scripted.claims(nonce=begun.nonce, roles=["Readiness.Writer"], departments=["claims"])
    scripted.answer_with(scripted.id_token({**claims, "preferred_username": "Ana Souza"}))

    response = come_back(browser, begun, iss=scripted.issuer)

    assert response.status_code == 200, response.text
    assert response.headers["content-security-policy"] == POLICY
    assert '<meta http-equiv="refresh" content="0; url=/ui/projects/claims-triage">' in response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/ui;"):
        assert attribute in cookie
    (request,) = scripted.requests
    verifier = request.form["code_verifier"]
    assert b64url(hashlib.sha256(verifier.encode()).digest()) == begun.query["code_challenge"][0]
    assert request.form["grant_type"] == "authorization_code"
    assert request.form["code"] == "a-code"
    assert request.form["redirect_uri"] == CALLBACK
    # A public client: its id in the form, no secret anywhere.
    assert request.form["client_id"] == "dashboard"
    assert request.authorization is None
    (session,) = sessions_of(db)
    assert session.api_key_id is None
    assert (session.identity, session.name) == (f"{scripted.issuer}#ana", "Ana Souza")
    assert (session.role, session.departments) == ("writer", ["claims"])
    assert session.expires_at - session.created_at == timedelta(hours=8)
    page = browser.get("/ui/")
    assert page.status_code == 200
    assert "Ana Souza · writer · claims" in page.text
    assert pending_count(db) == 0


def test_a_confidential_client_authenticates_with_its_secret(
    settings: Settings, db: Database, scripted: ScriptedProvider
) -> None:
    scripted.requests.clear()
    configured = with_sign_in(settings, scripted.issuer, oidc_client_secret="s3cret:with/odd+chars")
    with TestClient(create_app(configured, db)) as browser:
        assert sign_in(browser, scripted).status_code == 200

    (request,) = scripted.requests
    assert request.authorization is not None
    scheme, encoded = request.authorization.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "dashboard:s3cret%3Awith%2Fodd%2Bchars"
    assert "client_secret" not in request.form
    assert "s3cret" not in json.dumps(request.form)


def test_a_scoped_person_sees_only_their_departments(
    browser: TestClient, scripted: ScriptedProvider, writer: TestClient
) -> None:
    make_project(writer, "claims-triage", department="claims")
    make_project(writer, "churn-model", department="marketing")

    sign_in(browser, scripted, departments=["claims"])

    portfolio = browser.get("/ui/").text
    assert "claims-triage" in portfolio
    assert "churn-model" not in portfolio
    assert browser.get("/ui/projects/churn-model").status_code == 404


def test_signing_out_ends_the_session_and_so_do_eight_hours(
    browser: TestClient, scripted: ScriptedProvider, clock: Clock
) -> None:
    sign_in(browser, scripted)
    token = browser.cookies[COOKIE]
    out = browser.post(
        "/ui/sign-out",
        data={"csrf": csrf_token(token)},
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert (out.status_code, out.headers["location"]) == (303, "/ui/sign-in")
    # The old cookie, replayed, opens nothing: the session is gone from the database.
    replay = TestClient(browser.app, cookies={COOKIE: token})
    assert replay.get("/ui/", follow_redirects=False).status_code == 303

    sign_in(browser, scripted)
    assert browser.get("/ui/", follow_redirects=False).status_code == 200
    clock.advance(timedelta(hours=8, seconds=1))
    assert browser.get("/ui/", follow_redirects=False).headers["location"] == "/ui/sign-in?next=%2Fui%2F"


def test_an_unknown_state_is_refused(browser: TestClient, scripted: ScriptedProvider) -> None:
    begin(browser)
    response = browser.get("/ui/auth/callback", params={"code": "a-code", "state": "made-up", "iss": scripted.issuer})

    assert_refused(response, 400, "This sign-in is unknown, or it was used already.")
    assert_refused(browser.get("/ui/auth/callback", params={"code": "a-code"}), 400, "carries no state")
    assert scripted.requests == []


def test_a_state_works_once(browser: TestClient, scripted: ScriptedProvider) -> None:
    begun = begin(browser)
    scripted.answer_with(scripted.id_token(scripted.claims(nonce=begun.nonce, roles=["reader"])))
    assert come_back(browser, begun).status_code == 200

    assert_refused(come_back(browser, begun), 400, "it was used already")
    assert len(scripted.requests) == 1


def test_a_sign_in_left_ten_minutes_is_refused(browser: TestClient, scripted: ScriptedProvider, clock: Clock) -> None:
    begun = begin(browser)
    clock.advance(timedelta(minutes=10, seconds=1))

    assert_refused(come_back(browser, begun), 400, "This sign-in took longer than 10 minutes.")
    assert scripted.requests == []


def test_a_code_brought_to_another_browser_signs_nobody_in(
    browser: TestClient, scripted: ScriptedProvider, db: Database
) -> None:
    begun = begin(browser)
    scripted.answer_with(scripted.id_token(scripted.claims(nonce=begun.nonce, roles=["reader"])))

    with TestClient(browser.app) as victim:
        assert_refused(come_back(victim, begun), 400, "This sign-in was begun in another browser")
    assert scripted.requests == []
    assert sessions_of(db) == []


def test_an_answer_naming_another_issuer_is_refused(browser: TestClient, scripted: ScriptedProvider) -> None:
    begun = begin(browser)

    assert_refused(come_back(browser, begun, iss="https://attacker.example"), 400, "names the issuer")
    assert scripted.requests == []


def test_an_answer_without_its_issuer_is_refused_where_the_provider_always_names_itself(
    settings: Settings, db: Database, scripted: ScriptedProvider
) -> None:
    scripted.requests.clear()
    scripted.names_itself = True
    try:
        with TestClient(create_app(with_sign_in(settings, scripted.issuer), db)) as browser:
            refused = come_back(browser, begin(browser))
    finally:
        scripted.names_itself = False

    assert_refused(refused, 400, "The answer does not name its issuer, which this provider always does.")
    assert scripted.requests == []


def test_the_providers_refusal_is_told(browser: TestClient, scripted: ScriptedProvider) -> None:
    denied = begin(browser)
    response = browser.get(
        "/ui/auth/callback",
        params={"state": denied.state, "error": "access_denied", "error_description": "End-User aborted interaction"},
    )
    assert_refused(response, 400, "The provider did not sign you in (access_denied: End-User aborted interaction).")

    refused = begin(browser)
    scripted.answer = (400, {"error": "invalid_grant", "error_description": "grant request is invalid"})
    said = "would not redeem the code (invalid_grant: grant request is invalid)"
    assert_refused(come_back(browser, refused), 400, said)


def _alg_none(scripted: ScriptedProvider, nonce: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return b64url(json.dumps(value).encode())

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(scripted.claims(nonce=nonce, roles=['admin']))}."


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong nonce", "its nonce is not the one this sign-in began with"),
        ("another audience", "the audience must be 'dashboard'"),
        ("expired", "it has expired"),
        ("alg none", "its signature algorithm 'none' is not accepted"),
        ("an unknown key", "signed by a key the OpenID provider does not publish"),
        ("another issuer", "it was not issued by"),
        ("issued to another party", "it was issued to 'portal'"),
        ("an access token", "is not that of an ID token"),
    ],
)
def test_an_id_token_the_service_must_not_accept_is_refused(
    browser: TestClient, scripted: ScriptedProvider, db: Database, case: str, reason: str
) -> None:
    begun = begin(browser)
    claims = scripted.claims(nonce=begun.nonce, roles=["admin"])
    tokens = {
        "wrong nonce": lambda: scripted.id_token({**claims, "nonce": "another-nonce"}),
        "another audience": lambda: scripted.id_token({**claims, "aud": "portal"}),
        "expired": lambda: scripted.id_token({**claims, "iat": claims["iat"] - 900, "exp": claims["iat"] - 600}),
        "alg none": lambda: _alg_none(scripted, begun.nonce),
        "an unknown key": lambda: scripted.id_token(claims, key=new_rsa_key()),
        "another issuer": lambda: scripted.id_token({**claims, "iss": "https://attacker.example"}),
        "issued to another party": lambda: scripted.id_token(
            {**claims, "aud": ["dashboard", "portal"], "azp": "portal"}
        ),
        "an access token": lambda: _typed(scripted, claims, "at+jwt"),
    }
    scripted.answer_with(tokens[case]())

    assert_refused(come_back(browser, begun), 401, reason)
    assert sessions_of(db) == []


def _typed(scripted: ScriptedProvider, claims: dict[str, Any], token_type: str) -> str:
    return sign(claims, scripted.key, headers={"typ": token_type})


def test_an_id_token_without_a_role_of_this_service_is_403(
    browser: TestClient, scripted: ScriptedProvider, db: Database
) -> None:
    begun = begin(browser)
    scripted.answer_with(scripted.id_token(scripted.claims(nonce=begun.nonce, roles=["Unknown.Role"])))

    assert_refused(come_back(browser, begun), 403, "The ID token carries no role of this service in its 'roles' claim")
    assert sessions_of(db) == []


def test_refused_sign_ins_count_toward_the_addresss_failure_limit(
    settings: Settings, db: Database, scripted: ScriptedProvider
) -> None:
    scripted.answer = (400, {"error": "invalid_grant"})
    with TestClient(create_app(with_sign_in(settings, scripted.issuer, auth_failure_limit=2), db)) as browser:
        refused = [come_back(browser, begin(browser)) for _ in range(3)]
        key = browser.post("/ui/sign-in", data={"key": "rdy_wrong"}, headers={"Sec-Fetch-Site": "same-origin"})

    assert [response.status_code for response in refused] == [400, 400, 429]
    assert_refused(refused[2], 429, "Too many failed authentications from this address")
    assert int(refused[2].headers["retry-after"]) > 0
    # One limit for both ways in.
    assert key.status_code == 429


def test_an_unreachable_provider_is_a_message_not_an_error_page(settings: Settings, db: Database) -> None:
    with scripted_provider() as gone:
        issuer = gone.issuer
    with TestClient(create_app(with_sign_in(settings, issuer), db)) as browser:
        response = browser.get("/ui/auth/login", follow_redirects=False)

    assert_refused(response, 503, "The OpenID provider cannot be reached just now")


def test_the_redirect_uri_is_built_on_the_public_url_where_one_is_set(
    settings: Settings, db: Database, scripted: ScriptedProvider
) -> None:
    configured = with_sign_in(settings, scripted.issuer, public_url="https://readiness.example.com/")
    with TestClient(create_app(configured, db)) as browser:
        begun = begin(browser)

    assert begun.query["redirect_uri"] == ["https://readiness.example.com/ui/auth/callback"]


def test_a_person_signs_in_at_the_real_provider_as_a_confidential_client(
    settings: Settings, db: Database, real_provider: OidcProvider
) -> None:
    configured = with_sign_in(
        settings,
        real_provider.issuer,
        oidc_client_id="dashboard-confidential",
        oidc_client_secret="dashboard-confidential-secret",
    )
    with TestClient(create_app(configured, db)) as browser:
        location = browser.get("/ui/auth/login", follow_redirects=False).headers["location"]
        answer = _through_the_login_pages(location, login="claims-analyst")
        assert answer.startswith(CALLBACK)
        signed_in = browser.get(answer)
        assert signed_in.status_code == 200, signed_in.text
        assert "claims-analyst · reader · claims" in browser.get("/ui/").text

    (session,) = sessions_of(db)
    assert session.identity == f"{real_provider.issuer}#claims-analyst"


def _through_the_login_pages(location: str, *, login: str) -> str:
    """What a person does at the provider's development pages: log in (any password), then consent.
    Returns where the provider sends the browser back to."""
    with httpx.Client(follow_redirects=False, timeout=10) as provider:
        response = provider.get(location)
        while response.status_code in (302, 303) and not response.headers["location"].startswith(CALLBACK):
            url = urljoin(str(response.url), response.headers["location"])
            response = provider.get(url)
            if response.status_code == 200:
                prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
                action = re.search(r'action="([^"]+)"', response.text)
                assert prompt is not None, response.text
                assert action is not None, response.text
                form = {"prompt": prompt.group(1)}
                if form["prompt"] == "login":
                    form |= {"login": login, "password": "any"}
                response = provider.post(urljoin(url, action.group(1)), data=form)
        return response.headers["location"]
