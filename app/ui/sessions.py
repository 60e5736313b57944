"""Dashboard sessions, kept server-side in the database: an API key exchanged once for a cookie, or
a person the OpenID provider signed in.

Each request looks its session up together with the key it stands for, so that signing out or
revoking the key ends the session at once on every replica: no replica holds session state. A
session opened through the provider keeps the ID token's identity, name, role and departments, and
ends at the earlier of its own lifetime and sign-out.
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
from app.core.identity import Caller, Role
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
    return _open(session, UiSession(api_key_id=key_id, secret_hash=secret_hash), lifetime)


def start_for_person(session: Session, *, caller: Caller, lifetime: timedelta = LIFETIME) -> str:
    """A new session for someone the OpenID provider signed in, as its ID token named them."""
    departments = sorted(caller.departments) if caller.departments is not None else None
    row = UiSession(identity=caller.identity, name=caller.name, role=caller.role.value, departments=departments)
    return _open(session, row, lifetime)


def _open(session: Session, row: UiSession, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Expired sessions go when a new one starts: no background job needed to keep the table small.
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    row.token_hash = token_hash(token)
    row.created_at = row.last_seen_at = now
    row.expires_at = now + lifetime
    session.add(row)
    return token


@dataclass(frozen=True)
class SignedIn:
    session_id: uuid.UUID
    caller: Caller
    last_seen_at: datetime


def find(session: Session, *, token: str) -> SignedIn | None:
    """The live session the token opens, with its caller: None once the session has expired, or,
    for a key's session, once its key is revoked or expired or the secret it was opened with no
    longer works (a rotation retired it: at once, or at the end of the rotation's grace period)."""
    now = utcnow()
    row = session.execute(
        select(UiSession, ApiKey)
        .outerjoin(ApiKey, ApiKey.id == UiSession.api_key_id)
        .where(UiSession.token_hash == token_hash(token), UiSession.expires_at > now)
    ).first()
    if row is None:
        return None
    ui_session, key = row
    if ui_session.api_key_id is None:
        caller = _person(ui_session)
        return SignedIn(ui_session.id, caller, ui_session.last_seen_at) if caller is not None else None
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if not _opened_with_a_working_secret(ui_session, key, now):
        return None
    return SignedIn(ui_session.id, caller_of(key), ui_session.last_seen_at)


def _person(ui_session: UiSession) -> Caller | None:
    if ui_session.identity is None or ui_session.name is None or ui_session.role is None:
        return None
    departments = frozenset(ui_session.departments) if ui_session.departments is not None else None
    return Caller(
        identity=ui_session.identity, name=ui_session.name, role=Role(ui_session.role), departments=departments
    )


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
