"""Signing people in through the OpenID provider: the authorization code flow with PKCE (RFC 7636,
S256 only: `plain` is never sent), `state` and `nonce`. The code is redeemed at the provider's token
endpoint, and its ID token verified as access tokens are and mapped by the same claims."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from app.auth.oidc import HTTP_TIMEOUT_SECONDS, OidcVerifier, ProviderUnavailable
from app.core.identity import Caller
from app.core.settings import Settings

MAX_ERROR_TEXT = 200


class TokenRequestRefused(Exception):
    """The token endpoint would not exchange the code; the message says what it answered."""


def new_secret() -> str:
    """A 256-bit random value, URL-safe: states, nonces, the browser's binding to its sign-in."""
    return secrets.token_urlsafe(32)


def code_challenge(code_verifier: str) -> str:
    """The S256 challenge of a verifier: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _basic(client_id: str, secret: SecretStr) -> str:
    # RFC 6749 §2.3.1: each part form-urlencoded before they are joined and base64-encoded.
    pair = f"{quote_plus(client_id)}:{quote_plus(secret.get_secret_value())}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _short(text: object) -> str:
    return str(text)[:MAX_ERROR_TEXT]


class CodeFlow:
    """The dashboard's client at the provider: where to send a person, and what the code they bring
    back makes of them. With a secret it authenticates as a confidential client
    (client_secret_basic); without, it is a public client that PKCE alone protects."""

    def __init__(
        self, verifier: OidcVerifier, *, client_id: str, client_secret: SecretStr | None, scopes: list[str]
    ) -> None:
        self.verifier = verifier
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = " ".join(scopes)

    @classmethod
    def from_settings(cls, settings: Settings, verifier: OidcVerifier) -> "CodeFlow":
        if settings.oidc_client_id is None:
            raise ValueError("sign-in through the OpenID provider needs READINESS_OIDC_CLIENT_ID")
        return cls(
            verifier,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scopes=settings.oidc_scopes,
        )

    async def check_issuer(self, iss: str | None) -> str | None:
        """Why an authorization response's `iss` shows that it does not come from this provider
        (RFC 9207: another issuer, or none from a provider that always names itself); None if it may."""
        endpoints = await self.verifier.endpoints()
        if iss is None:
            unnamed = "The answer does not name its issuer, which this provider always does."
            return unnamed if endpoints.names_itself else None
        if iss != endpoints.issuer:
            return f"The answer names the issuer {_short(iss)!r}, not {endpoints.issuer!r}."
        return None

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        """The provider's authorization endpoint with this sign-in's request (ProviderUnavailable
        when the provider cannot be asked)."""
        endpoint = (await self.verifier.endpoints()).authorization_endpoint
        parts = urlsplit(endpoint)
        query = parse_qsl(parts.query, keep_blank_values=True) + [
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", self.scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", code_challenge(code_verifier)),
            ("code_challenge_method", "S256"),
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))

    async def redeem(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> Caller:
        """The caller the code stands for: the code exchanged at the token endpoint, and the ID token
        that comes back verified. Raises ProviderUnavailable, TokenRequestRefused, InvalidToken, or
        Forbidden for a token that maps to no role of this service."""
        endpoint = (await self.verifier.endpoints()).token_endpoint
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        if self.client_secret is not None:
            headers["Authorization"] = _basic(self.client_id, self.client_secret)
        else:
            form["client_id"] = self.client_id
        id_token = await self._id_token(endpoint, form, headers)
        return await self.verifier.verify_id_token(id_token, client_id=self.client_id, nonce=nonce)

    async def _id_token(self, endpoint: str, form: dict[str, str], headers: dict[str, str]) -> str:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
                response = await client.post(endpoint, data=form, headers=headers)
            answer = response.json()
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{endpoint}: {str(error) or type(error).__name__}") from None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ProviderUnavailable(f"{endpoint} answered {response.status_code} without a JSON object")
        if response.status_code != 200:
            if response.status_code >= 500 or "error" not in answer:
                raise ProviderUnavailable(f"{endpoint} answered {response.status_code}")
            description = answer.get("error_description")
            raise TokenRequestRefused(_short(answer["error"]) + (f": {_short(description)}" if description else ""))
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise TokenRequestRefused("the provider answered without an ID token (is `openid` among the scopes?)")
        return id_token
