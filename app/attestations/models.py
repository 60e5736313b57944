import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, UTCDateTime, new_id, utcnow


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
    # The evidence it cites (ids of the project's evidence, as text).
    evidence_ids: Mapped[list[str] | None] = mapped_column(JSONDocument)
    # Who attested, as the identity the four-eyes rule compares: names can repeat, identities cannot.
    attested_by_identity: Mapped[str | None] = mapped_column(String(300))
    attested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
