"""Turning a bearer credential into a caller: API keys, OpenID Connect access tokens, and the limits
that keep guessing and floods out."""

import time
import uuid
from collections.abc import MutableMapping
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any, NoReturn, Protocol

from app.auth.service import CallerCache, KeyHolder, find_caller, hash_secret, note_use
from app.core.db import Database, utcnow
from app.core.errors import TooManyRequests, Unauthorized
from app.core.identity import Caller
from app.core.ratelimit import RATE_LIMIT_HEADERS_KEY, TokenBuckets, Verdict
from app.core.settings import Settings


class InvalidToken(Exception):
    """The credential is not a token this service accepts; the message says why, for the 401."""


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Caller:
        """The caller a valid access token stands for; raises InvalidToken, or Forbidden when the
        token is valid but maps to no role."""


def _looks_like_jwt(credential: str) -> bool:
    """Three dot-separated parts, the first a base64url JSON object: `eyJ` is how `{"` encodes.
    Anything else is looked up as an API key, the bootstrap key's free-form secret included."""
    return credential.count(".") == 2 and credential.startswith("eyJ")


def challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="ai-readiness"'
    if error:
        value += f', error="{error}"'
    if description:
        value += ', error_description="{}"'.format(description.replace('"', "'"))
    return {"WWW-Authenticate": value}


def _address_of(hop: str) -> IPv4Address | IPv6Address | None:
    """The address in an X-Forwarded-For hop, without the port some proxies append."""
    text = hop.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # 203.0.113.7:443
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _bucket_of(address: IPv4Address | IPv6Address) -> str:
    """Whom failures are counted against: an IPv6 client holds a whole /64, so the /64 is one client."""
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


class Authenticator:
    """One per application: verified keys cached for a few seconds, the token verifier, rate limits."""

    def __init__(self, *, db: Database, settings: Settings, tokens: TokenVerifier | None) -> None:
        self.db = db
        self.tokens = tokens
        self.keys = CallerCache(ttl=settings.api_key_cache_seconds)
        self.requests = TokenBuckets(rate=settings.rate_limit, period=1, burst=2 * settings.rate_limit, name="requests")
        self.failures = TokenBuckets(
            rate=settings.auth_failure_limit, period=60, burst=settings.auth_failure_limit, name="auth-failures"
        )
        self.trusted_proxies = [ip_network(network, strict=False) for network in settings.trusted_proxies]
        self._noted_use: dict[uuid.UUID, float] = {}

    def client_address(self, scope: MutableMapping[str, Any]) -> str:
        """The peer, or behind trusted proxies the last address in X-Forwarded-For that none of them added."""
        host = str((scope.get("client") or ("unknown", 0))[0])
        parsed = _address_of(host)
        peer = _bucket_of(parsed) if parsed is not None else host
        if not self.trusted_proxies or not self._trusted(host):
            return peer
        forwarded: list[str] = [
            hop
            for name, value in scope.get("headers", [])
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        for hop in reversed(forwarded):
            address = _address_of(hop)
            if address is None:
                return peer  # a hop nobody can vouch for: count the proxy that passed it on
            if not self._trusted(str(address)):
                return _bucket_of(address)
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.trusted_proxies)

    async def authenticate(self, scope: MutableMapping[str, Any], credential: str | None) -> Caller:
        """The caller, or a 401 (429 once the address has failed too often); within the request limit."""
        if credential is None:
            self._failed(scope, "Send a credential: Authorization: Bearer <API key or access token>.", None)
        caller = await self._verify(scope, credential)
        self.limit(scope, caller)
        return caller

    def limit(self, scope: MutableMapping[str, Any], caller: Caller) -> None:
        """Take one of the caller's requests from its rate limit: 429 beyond it. The dashboard's
        requests count as the same identity's as the API's."""
        if self.requests.enabled:
            verdict = self.requests.take(caller.identity)
            self._advertise(scope, self.requests, verdict)
            if not verdict.allowed:
                raise TooManyRequests(
                    f"More than {self.requests.rate:g} requests per second; slow down.",
                    headers=self.requests.headers(verdict),
                )

    async def _verify(self, scope: MutableMapping[str, Any], credential: str) -> Caller:
        if self.tokens is None or not _looks_like_jwt(credential):
            holder = await self._key(credential)
            if holder is None:
                return self._failed(scope, "The API key is unknown, expired or revoked.", "invalid_token")
            await self._note_use(holder)
            return holder.caller
        try:
            return await self.tokens.verify(credential)
        except InvalidToken as error:
            return self._failed(scope, f"The access token is not accepted: {error}", "invalid_token")

    async def _key(self, secret: str) -> KeyHolder | None:
        digest = hash_secret(secret)
        cached, holder = self.keys.get(digest)
        if not cached:
            holder = await self.db.read(find_caller, digest=digest)
            self.keys.put(digest, holder)
        if holder is not None and holder.valid_until is not None and holder.valid_until <= utcnow():
            return None
        return holder

    async def _note_use(self, holder: KeyHolder) -> None:
        """Keep `last_used_at` to the minute: at most one write per key per minute per replica."""
        key_id = holder.caller.key_id
        assert key_id is not None
        now = time.monotonic()
        if now - self._noted_use.get(key_id, float("-inf")) < 60:
            return
        self._noted_use[key_id] = now
        moment = utcnow()
        if holder.last_used_at is None or (moment - holder.last_used_at).total_seconds() >= 60:
            await self.db.write(note_use, key_id=key_id, at=moment)

    def count_failure(self, scope: MutableMapping[str, Any]) -> None:
        """One failed authentication from the request's address, however it failed (a wrong key, a
        refused sign-in through the OpenID provider): 429 once the address has failed too often."""
        if self.failures.enabled:
            verdict = self.failures.take(self.client_address(scope))
            if not verdict.allowed:
                raise TooManyRequests(
                    "Too many failed authentications from this address; wait before trying again.",
                    headers=self.failures.headers(verdict),
                )

    def _failed(self, scope: MutableMapping[str, Any], detail: str, error: str | None) -> NoReturn:
        self.count_failure(scope)
        raise Unauthorized(detail, headers=challenge(error))

    @staticmethod
    def _advertise(scope: MutableMapping[str, Any], buckets: TokenBuckets, verdict: Verdict) -> None:
        scope.setdefault("state", {})[RATE_LIMIT_HEADERS_KEY] = buckets.headers(verdict)
