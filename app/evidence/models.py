import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, new_id, utcnow


class Evidence(Base):
    """A file a project's attestations and decisions can cite: stored in the database, addressed by
    its SHA-256 within the project, never changed."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("project_id", "sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    # Loaded only when the bytes are asked for: listings and metadata never read them.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_by_identity: Mapped[str] = mapped_column(String(300))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Citation(Base):
    """An attestation or decision that cites evidence: while one does, the evidence stays."""

    __tablename__ = "evidence_citation"
    __table_args__ = (Index("ix_evidence_citation_cited_by", "cited_by", "cited_by_id"),)

    evidence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    # `attestation` or `decision`, and its id.
    cited_by: Mapped[str] = mapped_column(String(20), primary_key=True)
    cited_by_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
