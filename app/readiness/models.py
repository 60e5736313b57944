import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, SerialId, UTCDateTime, new_id, utcnow


class ProjectReadiness(Base):
    """A project's current readiness against its governing rubric, kept current by the service."""

    __tablename__ = "project_readiness"
    __table_args__ = (Index("ix_project_readiness_changes_at", "changes_at"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    rubric_key: Mapped[str] = mapped_column(String(63))
    rubric_version: Mapped[int]
    score: Mapped[float]
    level: Mapped[str] = mapped_column(String(20))
    gate_passed: Mapped[bool]
    # (criterion, status) of every blocker, sorted: what the history compares as a set.
    blockers: Mapped[list[list[str]]] = mapped_column(JSONDocument)
    # Sections, criteria with status, source, reason and observed values, the gate, the recommendation:
    # the JSON document as text, its criteria last.
    result: Mapped[str] = mapped_column(Text)
    # What weighing the criteria decided (`result` up to its criteria), the criteria's own ETag, and
    # each criterion's status by key: what a version changing only weights reads to weigh them
    # again. The ETag is taken over the first two; a row the previous release wrote last has an
    # ETag of its own, and these may be empty or stale there.
    summary: Mapped[str | None] = mapped_column(Text)
    criteria_etag: Mapped[str | None] = mapped_column(String(40))
    statuses: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)
    etag: Mapped[str] = mapped_column(String(40))
    # The earliest moment the result could change with time alone, and what changes then.
    changes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadlines: Mapped[list[list[str]]] = mapped_column(JSONDocument)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReadinessHistory(Base):
    """One change of a project's score, level, gate or blockers, with what caused it."""

    __tablename__ = "readiness_history"
    __table_args__ = (Index("ix_readiness_history_project_id_changed_at", "project_id", "changed_at", "id"),)

    id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rubric_key: Mapped[str] = mapped_column(String(63))
    rubric_version: Mapped[int]
    score: Mapped[float]
    level: Mapped[str] = mapped_column(String(20))
    gate_passed: Mapped[bool]
    blockers: Mapped[list[list[str]]] = mapped_column(JSONDocument)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # [{"kind": "fact", "name": "ops.rollback_tested_at"}, ...]: the distinct writes, or time.
    cause: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument)
    # Each criterion's status, one letter each in the order of the row's rubric version's criteria
    # (`document.coded_statuses`); None in rows written before they were kept.
    statuses: Mapped[str | None] = mapped_column(String(500))
    # False for a row of a change of criteria alone (score, level, gate and blockers as they were):
    # kept for the burn-ups of initiatives, not shown in the history.
    significant: Mapped[bool] = mapped_column(default=True, server_default=true())


class ReadinessMark(Base):
    """A project whose readiness a write changed and the re-scorer has not caught up with yet."""

    __tablename__ = "readiness_mark"
    __table_args__ = (Index("ix_readiness_mark_project_id", "project_id"),)

    id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Evaluation(Base):
    """A project scored against one version of a rubric. Stored once, never changed."""

    __tablename__ = "evaluation"
    __table_args__ = (Index("ix_evaluation_project_rubric_at", "project_id", "rubric_key", "evaluated_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    rubric_key: Mapped[str] = mapped_column(String(63))
    rubric_version: Mapped[int]
    evaluator: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(16))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[float]
    level: Mapped[str] = mapped_column(String(20))
    gate_passed: Mapped[bool]
    recommendation: Mapped[str] = mapped_column(String(8))
    weakest_section: Mapped[str | None] = mapped_column(String(40))
    # Every criterion's status, source, reason and what its check saw; section scores; blockers.
    result: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
