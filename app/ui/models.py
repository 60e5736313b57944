import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, UTCDateTime, new_id, utcnow


class UiSession(Base):
    """A dashboard sign-in, until it expires or is ended: either the API key it was exchanged for,
    or the person an ID token from the OpenID provider named."""

    __tablename__ = "ui_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # A SHA-256 of the cookie's token: a leaked table opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Revoking or deleting the key ends its sessions, which are looked up with the key every request.
    # None for a session opened through the OpenID provider.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The hash of the key's secret it was opened with: once a rotation retires that secret, it ends.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    # A session opened through the OpenID provider: who the ID token named, as it named them then
    # (issuer#subject, name, role, departments; None: every department). Null for key sessions.
    identity: Mapped[str | None] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    departments: Mapped[list[str] | None] = mapped_column(JSONDocument)


class UiPendingSignIn(Base):
    """A sign-in through the OpenID provider between the redirect there and the way back: used once,
    for a few minutes. Only hashes are kept: the PKCE verifier and the nonce are derived again from
    what the browser brings back (see `app.ui.sign_ins`), so no row can redeem a code."""

    __tablename__ = "ui_pending_sign_in"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The browser that began it: a hash of the value in its sign-in cookie.
    binding_hash: Mapped[str] = mapped_column(String(64))
    # Sent again, exactly, when the code is redeemed.
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    next: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
