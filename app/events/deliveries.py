"""The queue of webhook deliveries in the database: events fanned out to the subscriptions that want
them, due deliveries leased in runs per project, each attempt's outcome recorded with what follows
from it (a retry with backoff, a failure, a subscription disabled)."""

import itertools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, exists, func, insert, select, update
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.identity import Caller, Role
from app.core.storage import update_rows
from app.events import storage
from app.events.models import Attempt, Delivery, Event, Webhook
from app.events.schemas import PING, type_matches

DELIVERY_TABLE: Table = Delivery.__table__  # type: ignore[assignment]


ATTEMPT_TABLE: Table = Attempt.__table__  # type: ignore[assignment]


WEBHOOK_TABLE: Table = Webhook.__table__  # type: ignore[assignment]


RETRY_WINDOW = timedelta(hours=24)


FIRST_RETRY_SECONDS = 5.0


LONGEST_RETRY_SECONDS = 3600.0


# Longer than a request may take, so that a lease runs out only when its worker is gone.
DEFAULT_LEASE = timedelta(seconds=60)


FAN_OUT_BATCH = 2000


# How many of one project's deliveries a round may send, one after the other.
RUN_LENGTH = 50
# Who the audit trail names for what the dispatcher does by itself.
DISPATCHER = Caller(identity="system", name="webhook dispatcher", role=Role.admin)


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """5 s after the first attempt, doubling to at most an hour, each with up to half off at random
    so that retries of many deliveries spread out."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** (attempt - 1), LONGEST_RETRY_SECONDS)
    return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))


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

    @property
    def run_key(self) -> tuple[uuid.UUID, str]:
        return self.webhook_id, self.ordering_key


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
    webhooks = list(session.scalars(storage.skipping_locked(session, select(Webhook))))
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


Runs = dict[tuple[uuid.UUID, str], list[uuid.UUID]]


@dataclass(frozen=True)
class QueueTable:
    """Where a queue of deliveries lives, for the leasing every queue shares: its delivery rows
    (`id`, `state`, `ordering_key`, `next_attempt_at`, `leased_until`), the column naming what each
    belongs to (a subscription, a channel) and that owner's `enabled`, and the column ordering one
    owner's deliveries of one key. Webhooks and the notification channels each have one."""

    delivery: Any
    owner: Any
    owner_table: Any
    position: Any


WEBHOOK_QUEUE = QueueTable(Delivery, Delivery.webhook_id, Webhook, Delivery.event_position)


def _runs(session: Session, queue: QueueTable, now: datetime, *, limit: int, run: int) -> Runs:
    """For each owner and ordering key, its first pending deliveries in position order while each
    is due and not leased: up to `limit` deliveries, `run` at most of one key."""
    rows = queue.delivery
    place = (
        func.row_number().over(partition_by=(queue.owner, rows.ordering_key), order_by=queue.position).label("place")
    )
    pending = (
        select(
            rows.id,
            queue.owner.label("owner"),
            rows.ordering_key,
            queue.position.label("position"),
            rows.next_attempt_at,
            rows.leased_until,
            place,
        )
        .where(rows.state == "pending")
        .subquery()
    )
    heads = session.execute(
        select(pending)
        .join(queue.owner_table, queue.owner_table.id == pending.c.owner)
        .where(queue.owner_table.enabled.is_(True), pending.c.place <= run)
        .order_by(pending.c.position, pending.c.id)
    ).all()
    runs: Runs = {}
    blocked: set[tuple[uuid.UUID, str]] = set()
    taken = 0
    for row in heads:
        key = (row.owner, row.ordering_key)
        free = row.next_attempt_at <= now and (row.leased_until is None or row.leased_until < now)
        if key in blocked or not free:
            blocked.add(key)
            continue
        if key not in runs and taken >= limit:
            continue
        runs.setdefault(key, []).append(row.id)
        taken += 1
    return runs


def _still_free(session: Session, queue: QueueTable, runs: Runs, now: datetime) -> Runs:
    """Another worker may have leased some since they were read: lock what is still free, skip what
    it holds, and keep of each run only the part before the first row it took."""
    rows = queue.delivery
    wanted = [delivery_id for ids in runs.values() for delivery_id in ids]
    still_free = select(rows.id).where(
        rows.id.in_(wanted),
        rows.state == "pending",
        (rows.leased_until.is_(None)) | (rows.leased_until < now),
    )
    locked = set(session.scalars(storage.skipping_locked(session, still_free)))
    return {key: list(itertools.takewhile(locked.__contains__, ids)) for key, ids in runs.items()}


def lease_runs(
    session: Session, queue: QueueTable, *, limit: int, lease: timedelta = DEFAULT_LEASE, run: int = RUN_LENGTH
) -> list[uuid.UUID]:
    """Lease due deliveries of enabled owners, in runs: for each owner and ordering key, the first
    pending deliveries in position order, as long as each is due and not leased. The dispatcher
    sends a run one after the other and stops at its first failure, so that the deliveries of one
    key stay in order while many of them go out in one round. Returns the ids leased."""
    now = utcnow()
    runs = _runs(session, queue, now, limit=limit, run=run)
    if not runs:
        return []
    runs = _still_free(session, queue, runs, now)
    ids = [delivery_id for run_ids in runs.values() for delivery_id in run_ids]
    if ids:
        session.execute(
            update(queue.delivery)
            .where(queue.delivery.id.in_(ids))
            .values(leased_until=now + lease)
            .execution_options(synchronize_session=False)
        )
    return ids


def claim(session: Session, *, limit: int, lease: timedelta = DEFAULT_LEASE, run: int = RUN_LENGTH) -> list[Claimed]:
    """Lease due webhook deliveries in runs per subscription and project (`lease_runs`), with what
    sending them needs."""
    now = utcnow()
    ids = lease_runs(session, WEBHOOK_QUEUE, limit=limit, lease=lease, run=run)
    if not ids:
        return []
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
    # One function: every outcome of a round is stored in a handful of set-based statements, which
    # need the whole round's rows at once.
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
                "id": claimed.delivery_id,
                "state": state,
                "next_attempt_at": next_attempt_at or now,
                "finished_at": None if state == "pending" else now,
                "attempts": claimed.attempt,
                "leased_until": None,
            }
        )
    connection = session.connection()
    if attempts:
        connection.execute(insert(ATTEMPT_TABLE), attempts)
        update_rows(connection, DELIVERY_TABLE, "id", deliveries)
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
        entry = AuditEntry(
            DISPATCHER,
            "webhook.disable",
            "webhook",
            str(webhook_id),
            None,
            after={"url": url, "enabled": False, "reason": reason},
        )
        changes.record(session, Cause("webhook", str(webhook_id)), audit=entry, status="none", readiness=False)
        disabled.append(webhook_id)
    return disabled


def pending_summary(session: Session) -> tuple[int, datetime | None]:
    count, oldest = session.execute(
        select(func.count(), func.min(Delivery.created_at)).where(Delivery.state == "pending")
    ).one()
    return int(count), oldest
