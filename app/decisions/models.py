import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, new_id, utcnow


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
