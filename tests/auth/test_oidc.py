"""OpenID Connect access tokens, from a real provider (oidc-provider, see tests/oidc), on the real app.

The tests of the verifier alone need no database and run once; those through the app run on both.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from app.auth.authenticator import InvalidToken
from app.auth.oidc import OidcVerifier, claim
from app.core.db import Database
from app.core.errors import Forbidden
from app.core.identity import Caller, Role
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET
from tests.oidc import AUDIENCE, OTHER_AUDIENCE, OidcProvider, b64url, new_rsa_key, public, sign
from tests.projects.factories import project_body
from tests.projects.test_api import assert_problem

PROJECTS = "/api/v1/projects"


def with_oidc(settings: Settings, issuer: str, **overrides: Any) -> Settings:
    # A refresh as soon as a key is missing: rotation tests need no waiting.
    return Settings.model_validate(
        settings.model_dump()
        | {"oidc_issuer": issuer, "oidc_audience": AUDIENCE, "oidc_jwks_min_refresh_seconds": 0}
        | {"rate_limit": 0, "auth_failure_limit": 0}
        | overrides
    )


def verifier_for(provider: OidcProvider, **overrides: Any) -> OidcVerifier:
    return OidcVerifier.from_settings(with_oidc(Settings(), provider.issuer, **overrides))


def verify(verifier: OidcVerifier, token: str) -> Caller:
    return asyncio.run(verifier.verify(token))


def refusal(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as refused:
        verify(verifier, token)
    return str(refused.value)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def encode(part: dict[str, Any]) -> str:
        return b64url(json.dumps(part).encode())

    return f"{encode(header)}.{encode(claims)}.{b64url(signature)}"


def hs256_with_the_public_key(provider: OidcProvider) -> str:
    """The classic confusion: the provider's public key, which anyone can fetch, as an HMAC secret."""
    public_key = RSAAlgorithm.from_jwk(public(provider.signing_key))
    assert isinstance(public_key, rsa.RSAPublicKey)
    secret = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": provider.signing_key["kid"]}
    signing_input = unsigned(header, provider.claims("admin", roles=["admin"])).rstrip(".")
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


@contextmanager
def oidc_app(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings, db)
    assert isinstance(app.state.authenticator.tokens, OidcVerifier)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def oidc_client(settings: Settings, db: Database, oidc_provider: OidcProvider) -> Iterator[TestClient]:
    with oidc_app(with_oidc(settings, oidc_provider.issuer), db) as client:
        yield client


# Through the app, on both databases.


def test_each_role_does_what_it_should(oidc_client: TestClient, oidc_provider: OidcProvider) -> None:
    reader, writer = bearer(oidc_provider.token("reader")), bearer(oidc_provider.token("writer"))
    approver, admin = bearer(oidc_provider.token("approver")), bearer(oidc_provider.token("admin"))

    assert oidc_client.get(PROJECTS, headers=reader).status_code == 200
    assert_problem(oidc_client.post(PROJECTS, json=project_body("r-1"), headers=reader), 403)
    assert oidc_client.post(PROJECTS, json=project_body("w-1"), headers=writer).status_code == 201
    decisions = f"{PROJECTS}/w-1/decisions"
    assert_problem(oidc_client.post(decisions, json={}, headers=writer), 403)
    assert_problem(oidc_client.post(decisions, json={}, headers=approver), 422)
    assert_problem(oidc_client.get("/api/v1/api-keys", headers=approver), 403)
    assert oidc_client.get("/api/v1/api-keys", headers=admin).status_code == 200


def test_api_keys_keep_working_beside_tokens_the_bootstrap_secret_included(
    oidc_client: TestClient, oidc_provider: OidcProvider
) -> None:
    assert not ADMIN_SECRET.startswith("rdy_")

    assert oidc_client.get("/api/v1/api-keys", headers=bearer(ADMIN_SECRET)).status_code == 200


def test_the_audit_log_names_the_client_and_keys_it_by_issuer_and_subject(
    oidc_client: TestClient, oidc_provider: OidcProvider
) -> None:
    oidc_client.post(PROJECTS, json=project_body("audited"), headers=bearer(oidc_provider.token("writer")))

    events = oidc_client.get("/api/v1/audit-events", headers=bearer(oidc_provider.token("admin"))).json()["items"]

    created = next(event for event in events if event["entity_key"] == "audited")
    assert created["actor_name"] == "writer"
    assert created["actor_identity"] == f"{oidc_provider.issuer}#writer"
    assert created["actor_key_id"] is None


def test_tokens_the_service_must_not_accept_are_401(oidc_client: TestClient, oidc_provider: OidcProvider) -> None:
    expired = oidc_provider.claims("admin", roles=["admin"], iat=int(time.time()) - 900, exp=int(time.time()) - 600)
    refused = {
        "another audience": oidc_provider.token("admin", resource=OTHER_AUDIENCE),
        "expired": oidc_provider.sign(expired),
        "an unknown key": sign(oidc_provider.claims("admin", roles=["admin"]), new_rsa_key()),
        "alg none": unsigned({"alg": "none"}, oidc_provider.claims("admin", roles=["admin"])),
        "HS256": hs256_with_the_public_key(oidc_provider),
    }
    for name, token in refused.items():
        response = oidc_client.get("/api/v1/api-keys", headers=bearer(token))
        assert_problem(response, 401)
        assert 'error="invalid_token"' in response.headers["www-authenticate"], name


def test_a_valid_token_without_a_role_of_this_service_is_403(
    oidc_client: TestClient, oidc_provider: OidcProvider
) -> None:
    problem = assert_problem(oidc_client.get(PROJECTS, headers=bearer(oidc_provider.token("norole"))), 403)

    assert "'roles'" in problem["detail"]


def test_a_departments_claim_scopes_the_token_except_an_admins(
    oidc_client: TestClient, oidc_provider: OidcProvider
) -> None:
    claims_writer, admin = bearer(oidc_provider.token("writer-claims")), bearer(oidc_provider.token("admin"))

    assert oidc_client.post(PROJECTS, json=project_body("c-1"), headers=claims_writer).status_code == 201
    outside = project_body("f-1", department="finance")
    assert_problem(oidc_client.post(PROJECTS, json=outside, headers=claims_writer), 403)
    assert oidc_client.post(PROJECTS, json=outside, headers=admin).status_code == 201
    assert {p["key"] for p in oidc_client.get(PROJECTS, headers=claims_writer).json()["items"]} == {"c-1"}
    assert {p["key"] for p in oidc_client.get(PROJECTS, headers=admin).json()["items"]} == {"c-1", "f-1"}


def test_a_claims_writer_token_posts_facts_to_claims_and_sees_nothing_else(
    oidc_client: TestClient, oidc_provider: OidcProvider
) -> None:
    admin, claims_writer = bearer(oidc_provider.token("admin")), bearer(oidc_provider.token("writer-claims"))
    oidc_client.post(PROJECTS, json=project_body("claims-triage", department="claims"), headers=admin)
    oidc_client.post(PROJECTS, json=project_body("campaign-copy", department="marketing"), headers=admin)

    posted = oidc_client.put(
        f"{PROJECTS}/claims-triage/facts/ops.team_trained", json={"value": True}, headers=claims_writer
    )
    hidden = oidc_client.put(
        f"{PROJECTS}/campaign-copy/facts/ops.team_trained", json={"value": True}, headers=claims_writer
    )
    rows = oidc_client.get("/api/v1/portfolio/readiness", headers=claims_writer).json()["items"]
    csv = oidc_client.get("/api/v1/portfolio/readiness", headers={**claims_writer, "Accept": "text/csv"}).text

    assert posted.status_code == 201, posted.text
    assert_problem(hidden, 404)
    assert [row["key"] for row in rows] == ["claims-triage"]
    assert "claims-triage" in csv
    assert "campaign-copy" not in csv


def test_a_rotated_key_is_taken_without_restarting_the_app(
    oidc_client: TestClient, oidc_provider: OidcProvider
) -> None:
    before = oidc_provider.signing_key
    assert oidc_client.get(PROJECTS, headers=bearer(oidc_provider.token("reader"))).status_code == 200

    after = oidc_provider.rotate()

    token = oidc_provider.token("reader")
    assert jwt.get_unverified_header(token)["kid"] == after["kid"]
    assert oidc_client.get(PROJECTS, headers=bearer(token)).status_code == 200
    still_published = sign(oidc_provider.claims("reader", roles=["reader"]), before)
    assert oidc_client.get(PROJECTS, headers=bearer(still_published)).status_code == 200


def test_a_provider_down_at_first_is_asked_again(settings: Settings, db: Database, tmp_path: Path) -> None:
    provider = OidcProvider(tmp_path)
    token = provider.sign(provider.claims("reader", roles=["reader"]))
    with oidc_app(with_oidc(settings, provider.issuer), db) as client:
        problem = assert_problem(client.get(PROJECTS, headers=bearer(token)), 401)
        assert "unavailable" in problem["detail"]
        provider.start()
        try:
            assert client.get(PROJECTS, headers=bearer(token)).status_code == 200
        finally:
            provider.stop()


# The verifier alone.


@pytest.fixture
def verifier(oidc_provider: OidcProvider) -> OidcVerifier:
    return verifier_for(oidc_provider)


@pytest.mark.parametrize(
    ("client_id", "role", "departments", "name"),
    [
        ("reader", Role.reader, None, "reader"),
        ("writer", Role.writer, None, "writer"),
        ("writer-claims", Role.writer, frozenset({"claims"}), "writer-claims"),
        ("approver-2", Role.approver, None, "Steering Committee"),
        ("admin", Role.admin, None, "admin"),
    ],
)
def test_a_token_becomes_a_caller(
    verifier: OidcVerifier,
    oidc_provider: OidcProvider,
    client_id: str,
    role: Role,
    departments: frozenset[str] | None,
    name: str,
) -> None:
    caller = verify(verifier, oidc_provider.token(client_id))

    assert caller == Caller(
        identity=f"{oidc_provider.issuer}#{client_id}", name=name, role=role, departments=departments
    )


def test_a_dotted_claim_path_and_a_role_map(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token("keycloak")
    mapped = verifier_for(
        oidc_provider, oidc_roles_claim="realm_access.roles", oidc_role_map={"Readiness.Writer": "writer"}
    )
    unmapped = verifier_for(oidc_provider, oidc_roles_claim="realm_access.roles")

    assert verify(mapped, token).role == Role.writer
    with pytest.raises(Forbidden, match="'realm_access.roles'"):
        verify(unmapped, token)


def test_our_role_names_cannot_be_mapped_away(oidc_provider: OidcProvider) -> None:
    verifier = verifier_for(oidc_provider, oidc_role_map={"admin": "reader"})

    assert verify(verifier, oidc_provider.token("admin")).role == Role.admin


def test_a_claim_named_with_dots_wins_over_the_path() -> None:
    claims = {"https://example.com/roles": ["writer"], "a.b": 1, "a": {"b": 2, "c": {"d": 3}}}

    assert claim(claims, "https://example.com/roles") == ["writer"]
    assert claim(claims, "a.b") == 1
    assert claim(claims, "a.c.d") == 3
    assert claim(claims, "a.c.d.e") is None
    assert claim(claims, "missing") is None


@pytest.mark.parametrize(
    ("value", "departments"),
    [("claims", frozenset({"claims"})), (["claims", "hr"], frozenset({"claims", "hr"})), ([], frozenset())],
)
def test_departments_claim_values(
    verifier: OidcVerifier, oidc_provider: OidcProvider, value: Any, departments: frozenset[str]
) -> None:
    token = oidc_provider.sign(oidc_provider.claims("reader", roles="reader", departments=value))

    assert verify(verifier, token).departments == departments


@pytest.mark.parametrize("value", [42, {"claims": True}, ["claims", 1]])
def test_a_malformed_departments_or_roles_claim_is_refused(
    verifier: OidcVerifier, oidc_provider: OidcProvider, value: Any
) -> None:
    assert "departments" in refusal(
        verifier, oidc_provider.sign(oidc_provider.claims("reader", roles="reader", departments=value))
    )
    assert "roles" in refusal(verifier, oidc_provider.sign(oidc_provider.claims("reader", roles=value)))


def test_the_name_comes_from_the_configured_claim_then_the_usual_ones(oidc_provider: OidcProvider) -> None:
    verifier = verifier_for(oidc_provider, oidc_name_claim="profile.display")
    claims = oidc_provider.claims("svc-1", roles=["reader"], azp="portal")

    named = verify(verifier, oidc_provider.sign(claims | {"profile": {"display": "x" * 150}}))
    assert named.name == "x" * 100
    assert verify(verifier, oidc_provider.sign(claims)).name == "portal"
    bare = {name: value for name, value in claims.items() if name not in {"azp", "client_id"}}
    assert verify(verifier, oidc_provider.sign(bare)).name == "svc-1"


def test_refusals_say_why(verifier: OidcVerifier, oidc_provider: OidcProvider) -> None:
    now = int(time.time())
    good = oidc_provider.claims("reader", roles=["reader"])
    kid = oidc_provider.signing_key["kid"]
    impostor = new_rsa_key(kid)
    cases = {
        "another audience": (oidc_provider.token("reader", resource=OTHER_AUDIENCE), "audience"),
        "expired": (oidc_provider.sign(good | {"exp": now - 120}), "expired"),
        "not yet valid": (oidc_provider.sign(good | {"nbf": now + 600}), "not valid yet"),
        "another issuer": (oidc_provider.sign(good | {"iss": "https://elsewhere.example"}), "not issued by"),
        "no exp": (oidc_provider.sign({k: v for k, v in good.items() if k != "exp"}), "'exp'"),
        "no sub": (oidc_provider.sign({k: v for k, v in good.items() if k != "sub"}), "'sub'"),
        "same kid, another key": (sign(good, impostor), "signature"),
        "an unknown kid": (sign(good, new_rsa_key()), "does not publish"),
        "an ES256 header on an RSA key": (unsigned({"alg": "ES256", "kid": kid}, good, b"x" * 64), "does not publish"),
        "alg none": (unsigned({"alg": "none", "kid": kid}, good), "'none'"),
        "HS256": (hs256_with_the_public_key(oidc_provider), "'HS256'"),
        "an ID token type": (oidc_provider.sign(good, headers={"typ": "id+jwt"}), "type"),
        "garbage": ("not-a-token", "well-formed"),
    }
    for name, (token, reason) in cases.items():
        assert reason in refusal(verifier, token), name


def test_a_token_without_a_kid_is_verified_only_when_one_key_fits(
    verifier: OidcVerifier, oidc_provider: OidcProvider
) -> None:
    oidc_provider.retire_all_but(oidc_provider.signing_key)
    claims = oidc_provider.claims("reader", roles=["reader"])

    assert verify(verifier, oidc_provider.sign(claims, headers={"kid": None})).role == Role.reader
    oidc_provider.rotate()
    several = verifier_for(oidc_provider)
    assert "does not publish" in refusal(several, oidc_provider.sign(claims, headers={"kid": None}))


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "JWT", None])
def test_access_token_types(verifier: OidcVerifier, oidc_provider: OidcProvider, typ: str | None) -> None:
    token = oidc_provider.sign(oidc_provider.claims("reader", roles=["reader"]), headers={"typ": typ})

    assert verify(verifier, token).role == Role.reader


def test_a_withdrawn_key_stops_verifying(oidc_provider: OidcProvider) -> None:
    verifier = verifier_for(oidc_provider)
    verifier.max_age = 0
    old = oidc_provider.signing_key
    assert verify(verifier, sign(oidc_provider.claims("reader", roles=["reader"]), old)).role == Role.reader

    new = oidc_provider.rotate()
    oidc_provider.retire_all_but(new)

    assert "does not publish" in refusal(verifier, sign(oidc_provider.claims("reader", roles=["reader"]), old))
    assert verify(verifier, oidc_provider.token("reader")).role == Role.reader


def test_unknown_keys_cannot_make_the_verifier_flood_the_provider(
    oidc_provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = verifier_for(oidc_provider, oidc_jwks_min_refresh_seconds=3600)
    caplog.set_level(logging.INFO, logger="app.auth.oidc")

    async def many_unknown_kids() -> list[str]:
        tokens = [sign(oidc_provider.claims("reader", roles=["reader"]), new_rsa_key()) for _ in range(3)] * 10
        results = await asyncio.gather(*(verifier.verify(token) for token in tokens), return_exceptions=True)
        return [str(result) for result in results]

    assert all("does not publish" in result for result in asyncio.run(many_unknown_kids()))
    oidc_provider.rotate()
    assert "does not publish" in refusal(verifier, oidc_provider.token("reader"))
    fetches = [record for record in caplog.records if record.getMessage().startswith("OpenID provider")]
    assert len(fetches) == 1


def test_concurrent_first_tokens_fetch_the_keys_once(
    oidc_provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = verifier_for(oidc_provider)
    caplog.set_level(logging.INFO, logger="app.auth.oidc")
    token = oidc_provider.token("reader")

    async def at_once() -> list[Caller]:
        return await asyncio.gather(*(verifier.verify(token) for _ in range(20)))

    assert {caller.role for caller in asyncio.run(at_once())} == {Role.reader}
    assert len([record for record in caplog.records if "keys" in record.getMessage()]) == 1


def test_a_discovery_document_for_another_issuer_is_refused(oidc_provider: OidcProvider) -> None:
    verifier = OidcVerifier.from_settings(with_oidc(Settings(), oidc_provider.issuer.replace("127.0.0.1", "localhost")))

    assert "names the issuer" in refusal(verifier, oidc_provider.token("reader"))


def test_keys_held_outlast_a_provider_gone_down(tmp_path: Path) -> None:
    provider = OidcProvider(tmp_path)
    provider.start()
    verifier = verifier_for(provider)
    verifier.max_age = 0
    try:
        assert verify(verifier, provider.token("reader")).role == Role.reader
    finally:
        provider.stop()

    assert verify(verifier, provider.sign(provider.claims("reader", roles=["reader"]))).role == Role.reader
