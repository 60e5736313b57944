import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, UTCDateTime, new_id, utcnow


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


class Exemption(Base):
    __tablename__ = "exemption"
    __table_args__ = (Index("ix_exemption_project_id_criterion", "project_id", "criterion"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(120))
    justification: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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


class Attestation(Base):
    """What a person attests about one criterion of a project: the latest word per criterion."""

    __tablename__ = "attestation"
    __table_args__ = (UniqueConstraint("project_id", "criterion"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    note: Mapped[str | None] = mapped_column(String(2000))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attested_by: Mapped[str] = mapped_column(String(100))
    # Who attested, as the identity the four-eyes rule compares: names can repeat, identities cannot.
    attested_by_identity: Mapped[str | None] = mapped_column(String(300))
    attested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
