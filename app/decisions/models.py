import uuid
from datetime import datetime

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
