"""Dashboard sessions: an API key exchanged once for a cookie, kept server-side in the database.

Each request looks its session up together with the key it stands for, so that signing out or
revoking the key ends the session at once on every replica: no replica holds session state.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.auth.service import caller_of
from app.core.db import utcnow
from app.core.identity import Caller
from app.ui.models import UiSession

LIFETIME = timedelta(hours=8)
# `last_seen_at` is kept to the minute: at most one write per session per minute.
SEEN_PRECISION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    # Tokens are 256-bit random values: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The token every form of a session carries: derived from the session's own, so that a page of
    another site, which cannot read the cookie, cannot know it; nothing more to store."""
    return hashlib.sha256(f"csrf:{token}".encode()).hexdigest()


def start(session: Session, *, key_id: uuid.UUID, secret_hash: str, lifetime: timedelta = LIFETIME) -> str:
    """A new session for the key, opened with the secret whose hash is given; the token is returned
    here once and only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Expired sessions go when a new one starts: no background job needed to keep the table small.
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    session.add(
        UiSession(
            token_hash=token_hash(token),
            api_key_id=key_id,
            secret_hash=secret_hash,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


@dataclass(frozen=True)
class SignedIn:
    session_id: uuid.UUID
    caller: Caller
    last_seen_at: datetime


def find(session: Session, *, token: str) -> SignedIn | None:
    """The live session the token opens, with the caller its key makes: None once the session has
    expired, its key is revoked or expired, or the secret it was opened with no longer works (a
    rotation retired it: at once, or at the end of the rotation's grace period)."""
    now = utcnow()
    row = session.execute(
        select(UiSession, ApiKey)
        .join(ApiKey, ApiKey.id == UiSession.api_key_id)
        .where(UiSession.token_hash == token_hash(token), UiSession.expires_at > now, ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    ui_session, key = row
    if key.expires_at is not None and key.expires_at <= now:
        return None
    if not _opened_with_a_working_secret(ui_session, key, now):
        return None
    return SignedIn(ui_session.id, caller_of(key), ui_session.last_seen_at)


def _opened_with_a_working_secret(ui_session: UiSession, key: ApiKey, now: datetime) -> bool:
    opened_with = ui_session.secret_hash
    if opened_with is None or opened_with == key.secret_hash:
        # Sessions opened before the secret was kept stand for the key until they expire.
        return True
    return (
        opened_with == key.previous_secret_hash
        and key.previous_valid_until is not None
        and key.previous_valid_until > now
    )


def note_seen(session: Session, *, session_id: uuid.UUID, at: datetime) -> None:
    session.execute(
        update(UiSession)
        .where(UiSession.id == session_id, UiSession.last_seen_at < at - SEEN_PRECISION)
        .values(last_seen_at=at)
        .execution_options(synchronize_session=False)
    )


def end(session: Session, *, token: str) -> None:
    session.execute(delete(UiSession).where(UiSession.token_hash == token_hash(token)))
