"""Initiatives, and the weekly figures of their burn-ups kept once a week is over."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, SerialId, UTCDateTime, new_id, utcnow


class Initiative(Base):
    """A programme: a goal for the projects in a scope of the portfolio, by a target date."""

    __tablename__ = "initiative"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_name: Mapped[str] = mapped_column(String(200))
    owner_email: Mapped[str] = mapped_column(String(320))
    # {"criteria": [keys]}, {"gate": true} or {"level": "production_ready"}.
    goal: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    # The portfolio filters that select its projects, e.g. {"department": "claims", "stage": "production"}.
    scope: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    target_date: Mapped[date]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    # Bumped when the goal, the scope or the start change: the weekly figures kept for another
    # basis describe another question.
    basis: Mapped[int] = mapped_column(default=1)
    # The Monday of the last week whose figures are kept for the current basis.
    weeks_through: Mapped[date | None]
    # When `initiative.completed` and `initiative.overdue` were told; each is told once.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the watch saw last: the readiness history up to this row id, and when to look again
    # for what changes without a readiness change (a project moving out of scope, the date passing).
    checked_through: Mapped[int] = mapped_column(BigInteger, default=0)
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class InitiativeWeek(Base):
    """One department's figures in one finished week of an initiative's burn-up: the past does not
    change, so it is computed from the readiness history once and kept."""

    __tablename__ = "initiative_week"
    __table_args__ = (Index("ix_initiative_week_initiative_id_basis_week", "initiative_id", "basis", "week"),)

    id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    initiative_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"))
    basis: Mapped[int]
    # The week's Monday (ISO weeks, UTC).
    week: Mapped[date]
    department: Mapped[str | None] = mapped_column(String(100))
    in_scope: Mapped[int]
    done: Mapped[int]
    # Projects judged from a history row written before criteria statuses were kept.
    approximate: Mapped[int] = mapped_column(default=0)
