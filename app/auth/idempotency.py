"""Idempotency keys for POST, after Stripe's: a retry with the same key replays the first response.

The record is written in the transaction of the effect, so an acknowledged effect always has its
record and a rolled-back one never does. Keys are scoped to the caller's identity (an API key, or a
token's issuer and subject, whichever token it sends) and kept 24 hours. The
same key with another request is 422. On PostgreSQL a concurrent retry waits on the key's unique
index until the first request commits, then replays its response; SQLite serialises writers.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy import Index, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.responses import Response

from app.auth.dependencies import authenticate
from app.core.changes import forgotten_on_error
from app.core.db import Base, Database, JSONDocument, UTCDateTime, new_id, utcnow
from app.core.errors import Conflict, ProblemError, Unprocessable, problem_response
from app.core.identity import Caller

P = ParamSpec("P")
T = TypeVar("T")

RETENTION = timedelta(hours=24)
REPLAYED_HEADERS = ("content-type", "etag", "location")
CLEANUP_BATCH = 100


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_record_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class IdempotentRequest:
    scope: str
    key: str
    fingerprint: str


async def idempotent_request(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Retries with the same key replay the first response for 24 hours.",
        ),
    ] = None,
) -> IdempotentRequest | None:
    if idempotency_key is None:
        return None
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    scope = hashlib.sha256(caller.identity.encode()).hexdigest()
    return IdempotentRequest(scope=scope, key=idempotency_key, fingerprint=digest.hexdigest())


IdempotencyDep = Annotated[IdempotentRequest | None, Depends(idempotent_request)]


def _replay(record: IdempotencyRecord, request: IdempotentRequest) -> Response:
    if record.fingerprint != request.fingerprint:
        raise Unprocessable("This Idempotency-Key was used for a different request; use a new key for a new request.")
    if record.status_code is None:
        raise Conflict(
            "A request with this Idempotency-Key is still running; retry shortly.", headers={"Retry-After": "1"}
        )
    headers = {**(record.response_headers or {}), "Idempotent-Replayed": "true"}
    return Response(record.response_body or b"", status_code=record.status_code, headers=headers)


def _find(session: Session, request: IdempotentRequest, now: datetime) -> IdempotencyRecord | None:
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == request.scope, IdempotencyRecord.key == request.key)
    )
    if record is not None and record.expires_at <= now:
        session.delete(record)
        session.flush()
        return None
    return record


def _forget_expired(session: Session, now: datetime) -> None:
    expired = select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now).limit(CLEANUP_BATCH)
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(expired.scalar_subquery())))


def respond(
    session: Session,
    request: IdempotentRequest | None,
    produce: Callable[[], Response],
    remember: Callable[[Response], bytes] | None = None,
) -> Response:
    """Produce the response once per idempotency key, inside the caller's transaction.

    `remember` gives the body kept for replays when it must differ from the one sent, so that a
    secret shown once is never stored.
    """
    if request is None:
        return produce()
    now = utcnow()
    existing = _find(session, request, now)
    if existing is not None:
        return _replay(existing, request)
    record = IdempotencyRecord(
        scope=request.scope,
        key=request.key,
        fingerprint=request.fingerprint,
        created_at=now,
        expires_at=now + RETENTION,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        concurrent = _find(session, request, now)
        if concurrent is None:
            raise
        return _replay(concurrent, request)
    try:
        with forgotten_on_error(session), session.begin_nested():
            response = produce()
    except ProblemError as error:
        # A refusal is an answer too: recorded and replayed, with nothing of the effect kept.
        response = problem_response(error.status, error.slug, error.detail, errors=error.errors, headers=error.headers)
    record.status_code = response.status_code
    record.response_headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    kept = remember(response) if remember is not None and response.status_code < 300 else bytes(response.body)
    record.response_body = kept.decode()
    _forget_expired(session, now)
    return response


def without_secret(response: Response) -> bytes:
    """What a replay answers for a resource whose secret is shown once: the same resource, its
    `secret` null."""
    return json.dumps({**json.loads(bytes(response.body)), "secret": None}).encode()


async def idempotent(
    db: Database,
    request: IdempotentRequest | None,
    fn: Callable[Concatenate[Session, P], T],
    render: Callable[[T], Response],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response:
    """Run a write and render its response in one transaction, once per idempotency key."""

    def unit(session: Session) -> Response:
        return respond(session, request, lambda: render(fn(session, *args, **kwargs)))

    return await db.write(unit)
