import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, UTCDateTime, new_id, utcnow


class Decision(Base):
    """A go/no-go decision on an evaluation."""

    __tablename__ = "decision"
    __table_args__ = (Index("ix_decision_project_id_decided_at", "project_id", "decided_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    evaluation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(8))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_by_identity: Mapped[str | None] = mapped_column(String(300))
    on_behalf_of: Mapped[str | None] = mapped_column(String(200))
    rationale: Mapped[str | None] = mapped_column(String(4000))
    override_reason: Mapped[str | None] = mapped_column(String(2000))
    recorded_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The evidence it cites (ids of the project's evidence, as text).
    evidence_ids: Mapped[list[str] | None] = mapped_column(JSONDocument)


class DecisionRequest(Base):
    """A request for the steering committee's go/no-go: open until a decision answers it or its
    requester withdraws it; at most one open per project."""

    __tablename__ = "decision_request"
    __table_args__ = (
        Index(
            "uq_decision_request_open_project",
            "project_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_decision_request_status_requested_at", "status", "requested_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    note: Mapped[str | None] = mapped_column(String(2000))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_identity: Mapped[str] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("decision.id", ondelete="SET NULL"))
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))


class DecisionReminder(Base):
    """What has been told of a project's planned go/no-go date: `decision.due` and
    `decision.overdue`, each once per date, and the moment time alone next changes that."""

    __tablename__ = "decision_reminder"

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    # The date these reminders are for: a moved date starts them afresh.
    decision_date: Mapped[date]
    due_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
