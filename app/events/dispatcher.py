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
import itertools
import logging
import random
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Table, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Signer

from app.audit.models import AuditEvent
from app.core.db import Database, utcnow
from app.core.destinations import AllowList, CheckingResolver, DestinationRefused, check_url, refusal_of
from app.events.models import Attempt, Delivery, Event, Webhook
from app.events.schemas import PING, type_matches
from app.events.service import purge

log = logging.getLogger(__name__)

DELIVERY_TABLE: Table = Delivery.__table__  # type: ignore[assignment]
ATTEMPT_TABLE: Table = Attempt.__table__  # type: ignore[assignment]
WEBHOOK_TABLE: Table = Webhook.__table__  # type: ignore[assignment]
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 3600.0
REQUEST_TIMEOUT_SECONDS = 10.0
# Longer than a request may take, so that a lease runs out only when its worker is gone.
DEFAULT_LEASE = timedelta(seconds=60)
MAX_RESPONSE_BYTES = 64 * 1024
FAN_OUT_BATCH = 2000
# How many of one project's deliveries a round may send, one after the other.
RUN_LENGTH = 50
RETRIED_STATUSES = frozenset({408, 429})
PURGE_EVERY_SECONDS = 600.0


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """5 s after the first attempt, doubling to at most an hour, each with up to half off at random
    so that retries of many deliveries spread out."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** (attempt - 1), LONGEST_RETRY_SECONDS)
    return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))


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


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    attempt: int
    webhook_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    event_id: uuid.UUID
    body: str
    event_at: datetime
    delivery_created_at: datetime
    ordering_key: str


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    outcome: str
    attempted_at: datetime
    duration_ms: int
    response_status: int | None = None
    response_body: str | None = None
    error: str | None = None

    @property
    def retried(self) -> bool:
        return self.outcome in {"failed", "refused", "timeout", "error"}


def fan_out(session: Session, *, limit: int = FAN_OUT_BATCH) -> int:
    """Turn events after each subscription's cursor into its deliveries; returns how many."""
    query = select(Webhook)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    webhooks = list(session.scalars(query))
    if not webhooks:
        return 0
    start = min(webhook.cursor for webhook in webhooks)
    events = session.execute(
        select(Event.position, Event.type, Event.subject, Event.department, Event.occurred_at)
        .where(Event.position > start)
        .order_by(Event.position)
        .limit(limit)
    ).all()
    if not events:
        return 0
    last = events[-1].position
    rows = []
    for webhook in webhooks:
        for event in events:
            # A ping has its one delivery already.
            if event.position <= webhook.cursor or event.type == PING:
                continue
            if not any(type_matches(pattern, event.type) for pattern in webhook.event_types):
                continue
            if webhook.departments is not None and event.department not in webhook.departments:
                continue
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "webhook_id": webhook.id,
                    "event_position": event.position,
                    "ordering_key": event.subject,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": event.occurred_at,
                    "created_at": event.occurred_at,
                }
            )
        webhook.cursor = max(webhook.cursor, last)
    if rows:
        session.connection().execute(insert(DELIVERY_TABLE), rows)
    return len(rows)


def work_due(session: Session) -> tuple[bool, bool]:
    """Whether events wait to become deliveries, and whether a delivery is due."""
    now = utcnow()
    newest, oldest_cursor, due = session.execute(
        select(
            select(func.max(Event.position)).scalar_subquery(),
            select(func.min(Webhook.cursor)).scalar_subquery(),
            exists().where(
                Delivery.state == "pending",
                Delivery.next_attempt_at <= now,
                (Delivery.leased_until.is_(None)) | (Delivery.leased_until < now),
            ),
        )
    ).one()
    return oldest_cursor is not None and newest is not None and newest > oldest_cursor, bool(due)


def claim(session: Session, *, limit: int, lease: timedelta = DEFAULT_LEASE, run: int = RUN_LENGTH) -> list[Claimed]:
    """Lease due deliveries of enabled subscriptions, in runs: for each subscription and project,
    the first pending deliveries in position order, as long as each is due and not leased. The
    dispatcher sends a run one after the other and stops at its first failure, so a project's
    events stay in order while many of them go out in one round."""
    now = utcnow()
    place = (
        func.row_number()
        .over(partition_by=(Delivery.webhook_id, Delivery.ordering_key), order_by=Delivery.event_position)
        .label("place")
    )
    queue = (
        select(
            Delivery.id,
            Delivery.webhook_id,
            Delivery.ordering_key,
            Delivery.event_position,
            Delivery.next_attempt_at,
            Delivery.leased_until,
            place,
        )
        .where(Delivery.state == "pending")
        .subquery()
    )
    heads = session.execute(
        select(queue)
        .join(Webhook, Webhook.id == queue.c.webhook_id)
        .where(Webhook.enabled.is_(True), queue.c.place <= run)
        .order_by(queue.c.event_position)
    ).all()
    runs: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    blocked: set[tuple[uuid.UUID, str]] = set()
    taken = 0
    for row in heads:
        key = (row.webhook_id, row.ordering_key)
        free = row.next_attempt_at <= now and (row.leased_until is None or row.leased_until < now)
        if key in blocked or not free:
            blocked.add(key)
            continue
        if key not in runs and taken >= limit:
            continue
        runs.setdefault(key, []).append(row.id)
        taken += 1
    if not runs:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # Another worker may have leased some since they were read: lock what is still free, skip
        # what it holds, and keep of each run only the part before the first row it took.
        wanted = [delivery_id for ids in runs.values() for delivery_id in ids]
        locked = set(
            session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.id.in_(wanted),
                    Delivery.state == "pending",
                    (Delivery.leased_until.is_(None)) | (Delivery.leased_until < now),
                )
                .with_for_update(skip_locked=True)
            )
        )
        for key, ids in runs.items():
            kept = list(itertools.takewhile(locked.__contains__, ids))
            runs[key] = kept
    ids = [delivery_id for run_ids in runs.values() for delivery_id in run_ids]
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(leased_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.attempts,
            Delivery.created_at,
            Delivery.ordering_key,
            Webhook.id.label("webhook_id"),
            Webhook.url,
            Webhook.secret,
            Webhook.previous_secret,
            Webhook.previous_secret_expires_at,
            Event.id.label("event_id"),
            Event.body,
            Event.occurred_at,
        )
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .join(Event, Event.position == Delivery.event_position)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.event_position)
    ).all()
    return [
        Claimed(
            delivery_id=row.id,
            attempt=row.attempts + 1,
            webhook_id=row.webhook_id,
            url=row.url,
            secrets=(row.secret,)
            + (
                (row.previous_secret,)
                if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now
                else ()
            ),
            event_id=row.event_id,
            body=row.body,
            event_at=row.occurred_at,
            delivery_created_at=row.created_at,
            ordering_key=row.ordering_key,
        )
        for row in rows
    ]


def record(
    session: Session, outcomes: Sequence[Outcome], released: Sequence[Claimed], rng: random.Random
) -> list[uuid.UUID]:
    """Store each attempt and what follows from it, and give back the leases of deliveries left
    unsent behind a failure; returns the subscriptions disabled."""
    now = utcnow()
    if released:
        session.connection().execute(
            update(DELIVERY_TABLE)
            .where(DELIVERY_TABLE.c.id.in_([claimed.delivery_id for claimed in released]))
            .values(leased_until=None)
        )
    attempts, deliveries = [], []
    succeeded_webhooks: set[uuid.UUID] = set()
    failing_webhooks: set[uuid.UUID] = set()
    gone_webhooks: set[uuid.UUID] = set()
    for outcome in outcomes:
        claimed = outcome.claimed
        next_attempt_at = None
        if outcome.outcome == "succeeded":
            state = "succeeded"
            succeeded_webhooks.add(claimed.webhook_id)
        elif outcome.retried and now - claimed.delivery_created_at < RETRY_WINDOW:
            state = "pending"
            next_attempt_at = now + retry_delay(claimed.attempt, rng)
            failing_webhooks.add(claimed.webhook_id)
        else:
            state = "failed"
            failing_webhooks.add(claimed.webhook_id)
            if outcome.response_status == 410:
                gone_webhooks.add(claimed.webhook_id)
        attempts.append(
            {
                "id": uuid.uuid4(),
                "delivery_id": claimed.delivery_id,
                "number": claimed.attempt,
                "attempted_at": outcome.attempted_at,
                "outcome": outcome.outcome,
                "response_status": outcome.response_status,
                "response_body": outcome.response_body,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "next_attempt_at": next_attempt_at,
            }
        )
        deliveries.append(
            {
                "v_id": claimed.delivery_id,
                "v_state": state,
                "v_next_attempt_at": next_attempt_at or now,
                "v_finished_at": None if state == "pending" else now,
                "v_attempts": claimed.attempt,
            }
        )
    connection = session.connection()
    if attempts:
        connection.execute(insert(ATTEMPT_TABLE), attempts)
        connection.execute(
            update(DELIVERY_TABLE)
            .where(DELIVERY_TABLE.c.id == bindparam("v_id"))
            .values(
                state=bindparam("v_state"),
                next_attempt_at=bindparam("v_next_attempt_at"),
                finished_at=bindparam("v_finished_at"),
                attempts=bindparam("v_attempts"),
                leased_until=None,
            ),
            deliveries,
        )
    if succeeded_webhooks:
        connection.execute(
            update(WEBHOOK_TABLE).where(WEBHOOK_TABLE.c.id.in_(succeeded_webhooks)).values(failing_since=None)
        )
    still_failing = failing_webhooks - succeeded_webhooks
    if still_failing:
        connection.execute(
            update(WEBHOOK_TABLE)
            .where(WEBHOOK_TABLE.c.id.in_(still_failing), WEBHOOK_TABLE.c.failing_since.is_(None))
            .values(failing_since=now)
        )
    return _disable(session, still_failing, gone_webhooks, now)


def _disable(session: Session, failing: set[uuid.UUID], gone: set[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    if not failing and not gone:
        return []
    candidates = session.execute(
        select(Webhook.id, Webhook.url, Webhook.failing_since).where(
            Webhook.id.in_(failing | gone), Webhook.enabled.is_(True)
        )
    ).all()
    disabled = []
    for webhook_id, url, failing_since in candidates:
        if webhook_id in gone:
            reason = "the receiver answered 410 Gone"
        elif failing_since is not None and now - failing_since >= RETRY_WINDOW:
            reason = f"deliveries failed for 24 hours, since {failing_since.isoformat()}"
        else:
            continue
        session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(enabled=False, disabled_reason=reason, updated_at=now, version=Webhook.version + 1)
            .execution_options(synchronize_session=False)
        )
        session.add(
            AuditEvent(
                actor_key_id=None,
                actor_identity="system",
                actor_name="webhook dispatcher",
                action="webhook.disable",
                entity_type="webhook",
                entity_key=str(webhook_id),
                after={"url": url, "enabled": False, "reason": reason},
            )
        )
        disabled.append(webhook_id)
    return disabled


def pending_summary(session: Session) -> tuple[int, datetime | None]:
    count, oldest = session.execute(
        select(func.count(), func.min(Delivery.created_at)).where(Delivery.state == "pending")
    ).one()
    return int(count), oldest


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
    ) -> None:
        self.db = db
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
        """One round; returns how many attempts were made."""
        # A read first: most commits write no event anyone subscribed to, and on SQLite a write
        # transaction would queue request writers behind it for nothing.
        fan_out_due, delivery_due = await self.db.read(work_due)
        if fan_out_due:
            await self.db.write(fan_out)
        claimed = await self.db.write(claim, limit=self.batch, lease=self.lease) if fan_out_due or delivery_due else []
        if claimed:
            runs: dict[tuple[uuid.UUID, str], list[Claimed]] = {}
            for delivery in claimed:
                runs.setdefault((delivery.webhook_id, delivery.ordering_key), []).append(delivery)
            sent = await asyncio.gather(*(self._send_in_order(run) for run in runs.values()))
            outcomes = [outcome for run_outcomes, _ in sent for outcome in run_outcomes]
            released = [delivery for _, run_released in sent for delivery in run_released]
            disabled = await self.db.write(record, outcomes, released, self.rng)
            self._count(outcomes, disabled)
            return len(outcomes)
        await self._summarise()
        return len(claimed)

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

    async def _send_in_order(self, run: list[Claimed]) -> tuple[list[Outcome], list[Claimed]]:
        """One project's deliveries to one subscription, one after the other; after a failure that
        will be retried, the rest wait (they are given back unsent)."""
        async with self._concurrency:
            outcomes = []
            for index, claimed in enumerate(run):
                outcome = await self.send(claimed)
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
        if 200 <= status < 300:
            return done("succeeded", response_status=status, response_body=body)
        if status >= 500 or status in RETRIED_STATUSES:
            return done("failed", response_status=status, response_body=body)
        if 300 <= status < 400:
            return done("failed", response_status=status, response_body=body, error="redirects are not followed")
        return done("rejected", response_status=status, response_body=body)

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
