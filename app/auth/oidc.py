"""OpenID Connect tokens: access tokens (and the dashboard's ID tokens), signed JWTs from the
configured provider, checked against its published keys and turned into a caller by their role and
department claims."""

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cachetools import TLRUCache

from app.auth.authenticator import InvalidToken
from app.core.errors import Forbidden
from app.core.identity import Caller, Role
from app.core.settings import ASYMMETRIC_ALGORITHMS, Settings

logger = logging.getLogger(__name__)

# RFC 9068 names access tokens `at+jwt`; many providers still send `JWT`, or nothing.
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt", "jwt"})
# An ID token is a plain JWT: one typed as an access token is never taken for one.
ID_TOKEN_TYPES = frozenset({"jwt"})
NAME_CLAIMS = ("preferred_username", "azp", "client_id", "sub")
# In an ID token, `azp` and `client_id` name the dashboard that asked for it, not the person.
ID_TOKEN_NAME_CLAIMS = ("preferred_username", "sub")
ACCESS_TOKEN_CLAIMS = ("exp", "iss", "aud", "sub")
ID_TOKEN_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
ROLE_NAMES_IN_ORDER = [role.value for role in Role]
ROLE_NAMES = frozenset(ROLE_NAMES_IN_ORDER)
MAX_NAME_LENGTH = 100
# The width of the columns that record who acted (audit_event.actor_identity and the like).
MAX_IDENTITY_LENGTH = 300
# A verified token is trusted this long without checking it again, so a key the provider withdraws
# stops working within this bound.
VERIFIED_SECONDS = 60.0
VERIFIED_ENTRIES = 10_000
# Keys are fetched again once this old, so that a key the provider withdraws stops verifying even
# when no token with an unknown key comes along to prompt a fetch.
JWKS_MAX_AGE_SECONDS = 300.0
# While no key has ever been fetched every token fails, so a provider that was down is asked again
# sooner than the flood limit on refreshes would allow.
RETRY_UNREACHABLE_SECONDS = 5.0
HTTP_TIMEOUT_SECONDS = 5.0


class ProviderUnavailable(Exception):
    """The discovery document or the key set could not be fetched or made no sense."""


@dataclass(frozen=True)
class ProviderEndpoints:
    """Where the dashboard sends people to sign in, and where it redeems the code they bring back."""

    # As the provider spells it: the `iss` of its tokens and of its authorization responses.
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    # RFC 9207: the provider names itself in every authorization response (`iss`).
    names_itself: bool = False


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted path such as Keycloak's `realm_access.roles`, or None.

    A claim whose name is the whole path wins, so that names with dots in them (Auth0's
    `https://example.com/roles`) can be read too.
    """
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise InvalidToken(f"its {name!r} claim is neither a string nor a list of strings")


class OidcVerifier:
    """Verifies access tokens from one OpenID provider.

    The provider's discovery document and keys are fetched on the first token, not at start, so the
    service starts while the provider is down; a token that arrives then is refused and a later one
    tries again. A token signed by a key not yet known makes the verifier fetch the keys again, at
    most once per `jwks_min_refresh_seconds`, so tokens with made-up key ids cannot turn the service
    into a flood against its provider. Keys are also fetched again once `jwks_max_age_seconds` old,
    so that a key the provider withdraws stops verifying within that time (and a token verified
    with it within another minute, verified tokens being remembered that long); should that fetch
    fail, the keys held are kept.

    The caller's role is the highest of the token's roles that this service knows, after
    `role_map`; its departments are the departments claim's values, every department when the
    claim is absent. Admin tokens are never limited to departments: admins manage every department,
    so an admin token's departments claim is ignored, as an admin API key cannot be limited either.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        roles_claim: str = "roles",
        role_map: Mapping[str, str] | None = None,
        departments_claim: str = "departments",
        name_claim: str | None = None,
        leeway_seconds: float = 60,
        jwks_min_refresh_seconds: float = 60,
        jwks_max_age_seconds: float = JWKS_MAX_AGE_SECONDS,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        # The settings refuse symmetric algorithms already; this holds for any other caller too: an
        # HS* token "signed" with a public key, or an unsigned one, must never verify.
        self.algorithms = frozenset(algorithms) & ASYMMETRIC_ALGORITHMS
        if not self.algorithms:
            raise ValueError(f"no asymmetric algorithm among {algorithms}")
        self.roles_claim = roles_claim
        self.role_map = {name: Role(role) for name, role in (role_map or {}).items()}
        self.departments_claim = departments_claim
        self.name_claim = name_claim
        self.leeway = leeway_seconds
        self.min_refresh = jwks_min_refresh_seconds
        self.max_age = max(jwks_max_age_seconds, jwks_min_refresh_seconds)
        # The issuer as the provider spells it, which tokens must carry exactly; known after discovery.
        self._token_issuer: str | None = None
        self._jwks_uri: str | None = None
        self._discovery: dict[str, Any] | None = None
        self._jwks: list[dict[str, Any]] | None = None
        self._keys: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._next_fetch = float("-inf")
        self._fresh_until = float("-inf")
        self._fetches = 0
        self._fetch_error: str | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        # Each verified token until its expiry or for VERIFIED_SECONDS, whichever comes first.
        self._verified: TLRUCache[str, tuple[float, Caller]] = TLRUCache(
            VERIFIED_ENTRIES, ttu=lambda _digest, entry, _now: entry[0], timer=time.time
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "OidcVerifier":
        if settings.oidc_issuer is None or not settings.oidc_audience:
            raise ValueError("an OpenID verifier needs READINESS_OIDC_ISSUER and READINESS_OIDC_AUDIENCE")
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            algorithms=settings.oidc_algorithms,
            roles_claim=settings.oidc_roles_claim,
            role_map=settings.oidc_role_map,
            departments_claim=settings.oidc_departments_claim,
            name_claim=settings.oidc_name_claim,
            leeway_seconds=settings.oidc_leeway_seconds,
            jwks_min_refresh_seconds=settings.oidc_jwks_min_refresh_seconds,
        )

    async def aclose(self) -> None:
        """Nothing to release: each fetch opens and closes its own connection, fetches being rare.
        Here so that an application's shutdown need not know that."""

    async def verify(self, token: str) -> Caller:
        digest = hashlib.sha256(token.encode()).hexdigest()
        remembered = self._verified.get(digest)
        if remembered is not None:
            return remembered[1]
        claims = await self._claims(token, self.audience, ACCEPTED_TYPES, ACCESS_TOKEN_CLAIMS)
        caller = self._caller(claims)
        self._verified[digest] = (min(float(claims["exp"]), time.time() + VERIFIED_SECONDS), caller)
        return caller

    async def verify_id_token(self, token: str, *, client_id: str, nonce: str) -> Caller:
        """The person an ID token from the dashboard's sign-in stands for. Checked as access tokens
        are (an accepted asymmetric algorithm, the provider's keys, issuer, expiry with the leeway),
        for the dashboard's client as its audience, and carrying the nonce the sign-in began with;
        mapped by the same claims. Never remembered: each is redeemed once."""
        claims = await self._claims(token, client_id, ID_TOKEN_TYPES, ID_TOKEN_CLAIMS)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        party = claims.get("azp")
        # OpenID Connect Core 3.1.3.7: a token for several audiences names the party it was issued to.
        if (party is not None or len(audiences) > 1) and party != client_id:
            raise InvalidToken(f"it was issued to {party!r}, not to this dashboard ({client_id!r})")
        carried = claims.get("nonce")
        if not isinstance(carried, str) or not hmac.compare_digest(carried.encode(), nonce.encode()):
            raise InvalidToken("its nonce is not the one this sign-in began with")
        return self._caller(claims, kind="ID token", names=ID_TOKEN_NAME_CLAIMS)

    async def endpoints(self) -> ProviderEndpoints:
        """The provider's authorization and token endpoints, its discovery document read now if it
        was not yet; ProviderUnavailable when it cannot be read or offers no sign-in with PKCE."""
        if self._discovery is None:
            await self._refresh()
        if self._discovery is None or self._token_issuer is None:
            raise ProviderUnavailable(self._fetch_error or "its discovery document could not be read")
        return _endpoints(self._discovery, self._token_issuer)

    async def _claims(
        self, token: str, audience: str, types: frozenset[str], required: tuple[str, ...]
    ) -> dict[str, Any]:
        """The claims of a token signed by the provider, for `audience`, of one of `types`."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            if _kind_of(types) == "ID token":
                raise InvalidToken("it is not a JWT") from None
            raise InvalidToken("it is neither an API key nor a well-formed JWT") from None
        algorithm = header.get("alg")
        # Before any key is looked at: the algorithm must never be the token's choice alone.
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise InvalidToken(f"its signature algorithm {algorithm!r} is not accepted")
        token_type = header.get("typ")
        if token_type is not None and (not isinstance(token_type, str) or token_type.lower() not in types):
            raise InvalidToken(f"its type {token_type!r} is not that of an {_kind_of(types)}")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("its key id (kid) is not a string")
        key = await self._key(kid, algorithm)
        return self._decode(token, key, algorithm, audience, required)

    def _decode(
        self, token: str, key: jwt.PyJWK, algorithm: str, audience: str, required: tuple[str, ...]
    ) -> dict[str, Any]:
        assert self._token_issuer is not None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self._token_issuer,
                leeway=self.leeway,
                options={"require": list(required)},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("it has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("it is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken(f"it is not meant for this service (the audience must be {audience!r})") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken(f"it was not issued by {self._token_issuer}") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("its signature does not verify") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"it has no {error.claim!r} claim") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(f"it is malformed: {error}") from None
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise InvalidToken("its subject (sub) is empty")
        return claims

    def _caller(
        self, claims: Mapping[str, Any], *, kind: str = "access token", names: tuple[str, ...] = NAME_CLAIMS
    ) -> Caller:
        # Keyed by issuer and subject, so that a second provider's subjects can never collide with these.
        identity = f"{claims['iss']}#{claims['sub']}"
        if len(identity) > MAX_IDENTITY_LENGTH:
            raise InvalidToken(f"its issuer and subject are longer than {MAX_IDENTITY_LENGTH} characters")
        role = self._role(claims, kind)
        departments: frozenset[str] | None = None
        if role is not Role.admin:
            value = claim(claims, self.departments_claim)
            if value is not None:
                departments = frozenset(_strings(value, self.departments_claim))
        return Caller(identity=identity, name=self._name(claims, names), role=role, departments=departments)

    def _role(self, claims: Mapping[str, Any], kind: str) -> Role:
        value = claim(claims, self.roles_claim)
        names = _strings(value, self.roles_claim) if value is not None else []
        roles = [role for role in map(self._map_role, names) if role is not None]
        if not roles:
            mapped = f", or one mapped to them: {', '.join(sorted(self.role_map))}" if self.role_map else ""
            raise Forbidden(
                f"The {kind} carries no role of this service in its {self.roles_claim!r} claim: "
                f"{', '.join(ROLE_NAMES_IN_ORDER)}{mapped}."
            )
        return max(roles, key=lambda role: role.rank)

    def _map_role(self, name: str) -> Role | None:
        if name in ROLE_NAMES:
            return Role(name)
        return self.role_map.get(name)

    def _name(self, claims: Mapping[str, Any], fallbacks: tuple[str, ...]) -> str:
        names = ((self.name_claim,) if self.name_claim else ()) + fallbacks
        for name in names:
            value = claim(claims, name)
            if isinstance(value, str) and value.strip():
                return value[:MAX_NAME_LENGTH]
        return str(claims["sub"])[:MAX_NAME_LENGTH]

    async def _key(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        key = self._find(kid, algorithm)
        if key is not None and (time.monotonic() < self._fresh_until or self._refresh_lock().locked()):
            # Fresh keys, or keys being fetched anew already: meanwhile, the ones held do.
            return key
        await self._refresh()
        if self._jwks is None:
            raise InvalidToken(f"the OpenID provider's keys are unavailable ({self._fetch_error}); try again shortly")
        key = self._find(kid, algorithm)
        if key is None:
            raise InvalidToken(f"it is signed by a key the OpenID provider does not publish for {algorithm}")
        return key

    def _find(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        if self._jwks is None:
            return None
        key = self._keys.get((kid, algorithm))
        if key is None:
            fitting = [key for jwk in self._jwks if (key := _verifying_key(jwk, kid, algorithm)) is not None]
            # Without a kid, the key is unambiguous only when the provider publishes one that fits.
            if len(fitting) != 1:
                return None
            # Only keys found are kept: the kids of tokens are the caller's to invent, without limit.
            key = self._keys[kid, algorithm] = fitting[0]
        return key

    def _refresh_lock(self) -> asyncio.Lock:
        # A lock once waited on belongs to its event loop; the test client runs requests on loops of
        # their own, a server on one.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def _refresh(self) -> None:
        fetches = self._fetches
        async with self._refresh_lock():
            # The tokens that waited here while another one had the keys fetched look again first.
            if self._fetches != fetches or time.monotonic() < self._next_fetch:
                return
            try:
                # No connection is kept between fetches: they are minutes apart, and a pooled one
                # would be tied to the event loop that opened it.
                async with httpx.AsyncClient(
                    timeout=HTTP_TIMEOUT_SECONDS, headers={"Accept": "application/json"}
                ) as client:
                    if self._jwks_uri is None:
                        await self._discover(client)
                    assert self._jwks_uri is not None
                    self._set_keys(await _fetch(client, self._jwks_uri))
                self._fetch_error = None
                self._fresh_until = time.monotonic() + self.max_age
            except ProviderUnavailable as error:
                # Discovered afresh next time: the provider may have moved its keys.
                self._jwks_uri = self._discovery = None
                self._fetch_error = str(error)
                logger.warning("OpenID provider %s unavailable: %s", self.issuer, error)
            finally:
                self._fetches += 1
                wait = self.min_refresh if self._jwks is not None else min(self.min_refresh, RETRY_UNREACHABLE_SECONDS)
                self._next_fetch = time.monotonic() + wait

    async def _discover(self, client: httpx.AsyncClient) -> None:
        document = await _fetch(client, f"{self.issuer}/.well-known/openid-configuration")
        issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        # The settings drop a trailing slash that some providers (Auth0) keep in their issuer.
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.issuer:
            raise ProviderUnavailable(f"the discovery document names the issuer {issuer!r}, not {self.issuer!r}")
        if not isinstance(jwks_uri, str) or not _acceptable_url(jwks_uri, issuer):
            raise ProviderUnavailable(f"the discovery document's jwks_uri {jwks_uri!r} is not an https:// URL")
        self._token_issuer, self._jwks_uri, self._discovery = issuer, jwks_uri, document

    def _set_keys(self, document: Mapping[str, Any]) -> None:
        keys = document.get("keys")
        if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
            raise ProviderUnavailable("the key set has no list of keys")
        self._jwks = keys
        self._keys = {}
        logger.info(
            "OpenID provider %s keys: %s", self.issuer, ", ".join(str(key.get("kid")) for key in keys) or "none"
        )


def _verifying_key(jwk: Mapping[str, Any], kid: str | None, algorithm: str) -> jwt.PyJWK | None:
    """The JWK as a key that verifies `algorithm`, if it is one; a key of another type never is."""
    if kid is not None and jwk.get("kid") != kid:
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", algorithm) != algorithm:
        return None
    try:
        return jwt.PyJWK(dict(jwk), algorithm=algorithm)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


def _kind_of(types: frozenset[str]) -> str:
    return "ID token" if types == ID_TOKEN_TYPES else "access token"


def _endpoints(document: Mapping[str, Any], issuer: str) -> ProviderEndpoints:
    """The sign-in endpoints a discovery document names; PKCE with S256 only, never `plain`."""
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint"):
        url = document.get(name)
        if not isinstance(url, str) or not _acceptable_url(url, issuer):
            raise ProviderUnavailable(f"the discovery document's {name} {url!r} is not an https:// URL")
        endpoints[name] = url
    methods = document.get("code_challenge_methods_supported")
    if methods is not None and (not isinstance(methods, list) or "S256" not in methods):
        raise ProviderUnavailable(f"the provider offers PKCE with {methods!r}, not with S256")
    names_itself = document.get("authorization_response_iss_parameter_supported") is True
    return ProviderEndpoints(issuer=issuer, names_itself=names_itself, **endpoints)


def _acceptable_url(url: str, issuer: str) -> bool:
    parts = urlsplit(url)
    # Plain http only where the issuer itself is (the settings allow that on loopback addresses alone).
    return bool(parts.hostname) and (parts.scheme == "https" or parts.scheme == urlsplit(issuer).scheme == "http")


async def _fetch(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        response = await client.get(url)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailable(f"{url}: {str(error) or type(error).__name__}") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} did not answer with a JSON object")
    return document
