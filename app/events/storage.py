"""Where events meet the database's dialect: the lock that makes outbox positions commit in order,
and the row locks through which several workers share fan-out and deliveries (PostgreSQL; SQLite
has one writer at a time and needs neither)."""

from typing import Any, TypeVar

from sqlalchemy import Select, text
from sqlalchemy.orm import Session

OUTBOX_LOCK_ID = 7_201_117_001
Query = TypeVar("Query", bound=Select[Any])


def take_outbox_lock(session: Session) -> None:
    """Held from the outbox insert to the commit: ids from a sequence are taken before commit, and
    without the lock a feed follower reading past position 7 could miss a 6 committed later."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": OUTBOX_LOCK_ID})


def skipping_locked(session: Session, query: Query) -> Query:
    """The query's rows locked until commit, those another worker holds skipped."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query
