"""Token buckets: the request limits per identity and the failed-authentication limits per address.

Buckets live in the process, so a limit holds per process: with three replicas of two workers each
behind a balancer, a caller gets up to six times the configured rate. That is the documented trade
for needing no shared store; the limits exist to stop floods and guessing, not to meter.
"""

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

# Where a request's limit fields wait in the ASGI scope's state for the middleware to send them.
RATE_LIMIT_HEADERS_KEY = "rate_limit_headers"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    reset_seconds: int
    """Seconds until the bucket is full again (`RateLimit`'s `t`), or until one token is back when refused."""


class TokenBuckets:
    """`rate` tokens per `period` seconds per key, holding at most `burst`; the oldest keys are forgotten."""

    def __init__(self, *, rate: float, period: float, burst: float, name: str, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.period = period
        self.burst = burst
        self.name = name
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    @property
    def policy(self) -> str:
        """The `RateLimit-Policy` field (draft-ietf-httpapi-ratelimit-headers)."""
        return f'"{self.name}";q={math.floor(self.burst)};w={math.ceil(self.period * self.burst / self.rate)}'

    def _refilled(self, key: str, now: float) -> float:
        tokens, at = self._buckets.pop(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate / self.period)

    def take(self, key: str) -> Verdict:
        """Spend a token for `key` if one is left."""
        now = time.monotonic()
        with self._lock:
            tokens = self._refilled(key, now)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._remember(key, tokens, now)
        return self._verdict(allowed, tokens)

    def peek(self, key: str) -> Verdict:
        """Whether `key` has a token left, spending nothing."""
        now = time.monotonic()
        with self._lock:
            tokens = self._refilled(key, now)
            self._remember(key, tokens, now)
        return self._verdict(tokens >= 1, tokens)

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def _verdict(self, allowed: bool, tokens: float) -> Verdict:
        per_token = self.period / self.rate
        if allowed:
            reset = (self.burst - tokens) * per_token
        else:
            reset = (1 - tokens) * per_token
        return Verdict(allowed=allowed, remaining=math.floor(tokens), reset_seconds=max(1, math.ceil(reset)))

    def headers(self, verdict: Verdict) -> dict[str, str]:
        fields = {
            "RateLimit-Policy": self.policy,
            "RateLimit": f'"{self.name}";r={verdict.remaining};t={verdict.reset_seconds}',
        }
        if not verdict.allowed:
            fields["Retry-After"] = str(verdict.reset_seconds)
        return fields
