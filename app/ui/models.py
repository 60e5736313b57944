import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, new_id, utcnow


class UiSession(Base):
    """A dashboard sign-in: the API key it was exchanged for, until it expires or is ended."""

    __tablename__ = "ui_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # A SHA-256 of the cookie's token: a leaked table opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Revoking or deleting the key ends its sessions, which are looked up with the key every request.
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The hash of the key's secret it was opened with: once a rotation retires that secret, it ends.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
