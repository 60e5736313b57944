"""The dispatcher: delivers the outbox to webhook subscriptions, at least once, in order per
project and subscription, retried with backoff, never to a destination the operator did not allow.

Each round: new events become deliveries of the subscriptions that want them (fan-out, advancing
each subscription's cursor); due deliveries are leased (a delivery whose project has an earlier
one pending waits behind it); they are sent concurrently; the outcomes are recorded. A lease, not
a held transaction, marks a delivery in flight, so a worker killed mid-delivery only delays it:
once the lease runs out another round sends it again. Several workers share the work: fan-out and
leasing lock the rows they take and skip rows others hold (PostgreSQL); SQLite has one writer.

aiohttp rather than httpx sends the requests: on this kind of machine httpx's client topped out
below 900 requests a second with one process, aiohttp above 3,000; and aiohttp lets a resolver
judge the very address it connects to, which is what makes the destination check safe from DNS
rebinding.
"""

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Signer

from app.core.db import Database, utcnow
from app.core.destinations import AllowList, CheckingResolver, DestinationRefused, check_url, refusal_of
from app.events.deliveries import (
    DEFAULT_LEASE,
    Claimed,
    Outcome,
    claim,
    fan_out,
    pending_summary,
    record,
    work_due,
)
from app.events.service import purge

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
RETRIED_STATUSES = frozenset({408, 429})
PURGE_EVERY_SECONDS = 600.0


class Queued(Protocol):
    """A leased delivery: deliveries with the same run key go out one after the other, in order."""

    @property
    def run_key(self) -> tuple[uuid.UUID, str]: ...


class Attempted(Protocol):
    @property
    def outcome(self) -> str: ...

    @property
    def retried(self) -> bool: ...


ClaimT = TypeVar("ClaimT", bound=Queued)
OutcomeT = TypeVar("OutcomeT", bound=Attempted)


class DeliveryQueue(Protocol[ClaimT, OutcomeT]):
    """Another kind of delivery the dispatcher works beside webhooks, in the same rounds and with
    the same machinery (`deliveries.lease_runs`, `retry_delay`, the retry window): the
    notification channels. Each round: `work_due` (a read), `fan_out` and `claim` (writes), `send`
    for each claimed delivery, runs concurrently, and `record` of what came of them."""

    name: str

    def work_due(self, session: Session) -> bool: ...

    def fan_out(self, session: Session) -> int: ...

    def claim(self, session: Session, *, limit: int, lease: timedelta) -> Sequence[ClaimT]: ...

    async def send(self, claimed: ClaimT, http: aiohttp.ClientSession) -> OutcomeT: ...

    def record(
        self, session: Session, outcomes: Sequence[OutcomeT], released: Sequence[ClaimT], rng: random.Random
    ) -> None: ...


def judge_status(status: int) -> tuple[str, str | None]:
    """What an HTTP answer means for a delivery: its outcome, and why when the status alone does
    not say: 2xx succeeded; 5xx, 408, 429 and redirects (never followed) are retried; any other 4xx
    ends the delivery."""
    if 200 <= status < 300:
        return "succeeded", None
    if status >= 500 or status in RETRIED_STATUSES:
        return "failed", None
    if 300 <= status < 400:
        return "failed", "redirects are not followed"
    return "rejected", None


class DispatcherMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.pending = Gauge(
            "readiness_webhook_deliveries_pending", "Webhook deliveries not yet succeeded or failed.", registry=registry
        )
        self.oldest_pending = Gauge(
            "readiness_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery.",
            registry=registry,
        )
        self.attempts = Counter(
            "readiness_webhook_attempts", "Webhook delivery attempts, by outcome.", ["outcome"], registry=registry
        )
        self.latency = Histogram(
            "readiness_webhook_latency_seconds",
            "From an event's creation to its successful delivery.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
            registry=registry,
        )
        self.disabled = Counter(
            "readiness_webhook_subscriptions_disabled",
            "Subscriptions disabled after failing for 24 hours or answering 410 Gone.",
            registry=registry,
        )
        self.queued_attempts = Counter(
            "readiness_notification_attempts",
            "Notification attempts (email and chat channels), by queue and outcome.",
            ["queue", "outcome"],
            registry=registry,
        )


def signature_headers(claimed: Claimed, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers; during a rotation's overlap, one signature per secret."""
    message_id = str(claimed.event_id)
    signatures = " ".join(Signer(secret).sign(message_id, at, claimed.body) for secret in claimed.secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/cloudevents+json",
        "user-agent": "ai-readiness-webhooks/1",
    }


class Dispatcher:
    def __init__(
        self,
        db: Database,
        *,
        allowed: AllowList,
        allow_http: bool,
        metrics: DispatcherMetrics,
        batch: int = 500,
        concurrency: int = 128,
        retention: timedelta = timedelta(days=30),
        lease: timedelta = DEFAULT_LEASE,
        poll_seconds: float = 1.0,
        gather_seconds: float = 0.01,
        queues: Sequence[DeliveryQueue[Any, Any]] = (),
    ) -> None:
        self.db = db
        self.queues = list(queues)
        self.allowed = allowed
        self.allow_http = allow_http
        self.metrics = metrics
        self.batch = batch
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.gather_seconds = gather_seconds
        self.retention = retention
        self.lease = lease
        self._purged_at = 0.0
        self.rng = random.Random()
        self._stopping = False
        self._wanted = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._concurrency = asyncio.Semaphore(concurrency)
        self._summarised_at = 0.0

    def wake(self) -> None:
        """Called from any thread once a write that added events or deliveries has committed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wanted.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Finish the deliveries in flight (each has a 10 s timeout) and record them, then stop."""
        self._stopping = True
        self._wanted.set()
        if self._task is not None:
            await self._task
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def http(self) -> aiohttp.ClientSession:
        """The client every HTTP delivery goes through: it connects only to allowed addresses."""
        return self._session()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            connector = aiohttp.TCPConnector(
                resolver=CheckingResolver(self.allowed), limit=self.concurrency, ttl_dns_cache=None, use_dns_cache=False
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
                auto_decompress=False,
            )
        return self._http

    async def run_once(self) -> int:
        """One round of webhooks and of every other queue; returns how many attempts were made."""
        made = await self._webhooks_once()
        for queue in self.queues:
            made += await self._queue_once(queue)
        if made == 0:
            await self._summarise()
        return made

    async def _webhooks_once(self) -> int:
        # A read first: most commits write no event anyone subscribed to, and on SQLite a write
        # transaction would queue request writers behind it for nothing.
        fan_out_due, delivery_due = await self.db.read(work_due)
        if fan_out_due:
            await self.db.write(fan_out)
        claimed = await self.db.write(claim, limit=self.batch, lease=self.lease) if fan_out_due or delivery_due else []
        if not claimed:
            return 0
        outcomes, released = await self._send_runs(claimed, self.send)
        disabled = await self.db.write(record, outcomes, released, self.rng)
        self._count(outcomes, disabled)
        return len(outcomes)

    async def _queue_once(self, queue: DeliveryQueue[Any, Any]) -> int:
        if not await self.db.read(queue.work_due):
            return 0
        await self.db.write(queue.fan_out)
        claimed = await self.db.write(queue.claim, limit=self.batch, lease=self.lease)
        if not claimed:
            return 0
        http = self._session()
        outcomes, released = await self._send_runs(claimed, lambda delivery: queue.send(delivery, http))
        await self.db.write(queue.record, outcomes, released, self.rng)
        for outcome in outcomes:
            self.metrics.queued_attempts.labels(queue.name, outcome.outcome).inc()
        return len(outcomes)

    async def _send_runs(
        self, claimed: Sequence[ClaimT], send: Callable[[ClaimT], Awaitable[OutcomeT]]
    ) -> tuple[list[OutcomeT], list[ClaimT]]:
        """Every run concurrently, each one's deliveries one after the other; returns the outcomes
        and the deliveries left unsent behind a failure."""
        runs: dict[tuple[uuid.UUID, str], list[ClaimT]] = {}
        for delivery in claimed:
            runs.setdefault(delivery.run_key, []).append(delivery)
        sent = await asyncio.gather(*(self._send_in_order(run, send) for run in runs.values()))
        outcomes = [outcome for run_outcomes, _ in sent for outcome in run_outcomes]
        released = [delivery for _, run_released in sent for delivery in run_released]
        return outcomes, released

    async def drain(self) -> int:
        """Rounds until nothing is due; returns the attempts made."""
        total = 0
        while not self._stopping:
            made = await self.run_once()
            total += made
            if made == 0:
                break
        return total

    def _count(self, outcomes: Sequence[Outcome], disabled: list[uuid.UUID]) -> None:
        now = datetime.now(UTC)
        for outcome in outcomes:
            self.metrics.attempts.labels(outcome.outcome).inc()
            if outcome.outcome == "succeeded":
                self.metrics.latency.observe(max(0.0, (now - outcome.claimed.event_at).total_seconds()))
        for webhook_id in disabled:
            self.metrics.disabled.inc()
            log.warning("webhook %s disabled", webhook_id)

    async def _summarise(self) -> None:
        if time.monotonic() - self._summarised_at < 1.0:
            return
        self._summarised_at = time.monotonic()
        count, oldest = await self.db.read(pending_summary)
        self.metrics.pending.set(count)
        self.metrics.oldest_pending.set(0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds()))

    async def _purge(self) -> None:
        if time.monotonic() - self._purged_at < PURGE_EVERY_SECONDS:
            return
        self._purged_at = time.monotonic()
        deleted = await self.db.write(purge, older_than=utcnow() - self.retention)
        if deleted:
            log.info("deleted %d events past retention", deleted)

    async def _send_in_order(
        self, run: list[ClaimT], send: Callable[[ClaimT], Awaitable[OutcomeT]]
    ) -> tuple[list[OutcomeT], list[ClaimT]]:
        """One run's deliveries, one after the other; after a failure that will be retried, the
        rest wait (they are given back unsent)."""
        async with self._concurrency:
            outcomes = []
            for index, claimed in enumerate(run):
                outcome = await send(claimed)
                outcomes.append(outcome)
                if outcome.retried:
                    return outcomes, run[index + 1 :]
            return outcomes, []

    async def send(self, claimed: Claimed) -> Outcome:
        attempted_at = utcnow()
        started = time.perf_counter()

        def done(outcome: str, **details: object) -> Outcome:
            duration_ms = int((time.perf_counter() - started) * 1000)
            return Outcome(claimed, outcome, attempted_at, duration_ms, **details)  # type: ignore[arg-type]

        try:
            check_url(claimed.url, self.allowed, allow_http=self.allow_http)
            headers = signature_headers(claimed, datetime.now(UTC))
            async with self._session().post(
                claimed.url, data=claimed.body.encode(), headers=headers, allow_redirects=False
            ) as response:
                body = (await response.content.read(MAX_RESPONSE_BYTES)).decode("utf-8", errors="replace")
                status = response.status
        except DestinationRefused as refused:
            return done("refused", error=refused.reason[:500])
        except TimeoutError:
            return done("timeout", error=f"no answer within {REQUEST_TIMEOUT_SECONDS:.0f} seconds")
        except aiohttp.ClientError as error:
            refused_by = refusal_of(error)
            if refused_by is not None:
                return done("refused", error=refused_by.reason[:500])
            return done("error", error=f"{type(error).__name__}: {error}"[:500])
        outcome, why = judge_status(status)
        return done(outcome, response_status=status, response_body=body, error=why)

    async def _run(self) -> None:
        while not self._stopping:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), timeout=self.poll_seconds)
                await asyncio.sleep(self.gather_seconds)
            self._wanted.clear()
            try:
                await self.drain()
                await self._purge()
            except Exception:
                # The database may be away for a while; the outbox waits in it meanwhile.
                log.exception("webhook delivery round failed; retrying shortly")
