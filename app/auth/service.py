"""API keys: issuing, revoking and verifying them; only a SHA-256 of each secret is stored."""

import hashlib
import hmac
import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import serialize_startup_chores, utcnow
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.identity import SYSTEM, Caller, Role
from app.core.pagination import keyset_page

logger = logging.getLogger(__name__)

SECRET_PREFIX = "rdy_"
LAST_USED_PRECISION = timedelta(minutes=1)
BOOTSTRAP_KEY_NAME = "bootstrap-admin"


def _audited(
    session: Session,
    *,
    actor: Caller,
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit event for a change of keys, written by the epilogue with the transaction's others."""
    entry = AuditEntry(actor, action, entity_type, entity_key, before, after)
    changes.record(session, Cause("api_key", entity_key), audit=entry, status="none", readiness=False)


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _display_prefix(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + 6]


def _described(key: ApiKey) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "name": key.name,
        "role": key.role,
        "prefix": key.prefix,
        "departments": key.departments,
        "person": key.person,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def create_api_key(
    session: Session,
    *,
    name: str,
    role: Role,
    departments: list[str] | None,
    expires_at: datetime | None,
    actor: Caller,
    person: str | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; the secret is returned here once and never stored."""
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"An API key named {name!r} already exists.")
    if role == Role.admin and departments is not None:
        raise Unprocessable("An admin key cannot be limited to departments: admins manage every department.")
    if expires_at is not None and expires_at <= utcnow():
        raise Unprocessable("expires_at must be in the future.")
    secret = new_secret()
    key = ApiKey(
        name=name,
        role=role.value,
        prefix=_display_prefix(secret),
        secret_hash=hash_secret(secret),
        departments=sorted(set(departments)) if departments is not None else None,
        expires_at=expires_at,
        person=person.lower() if person is not None else None,
    )
    session.add(key)
    session.flush()
    _audited(
        session, actor=actor, action="api_key.create", entity_type="api_key", entity_key=name, after=_described(key)
    )
    return key, secret


def rotate_api_key(session: Session, *, key_id: uuid.UUID, grace: timedelta, actor: Caller) -> tuple[ApiKey, str]:
    """A new secret for the key; the current one keeps working for `grace`, so callers can switch."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if key.revoked_at is not None:
        raise Conflict("The API key is revoked; issue a new one.")
    if key.name == BOOTSTRAP_KEY_NAME:
        # Its secret comes from READINESS_BOOTSTRAP_ADMIN_KEY, which the next start would restore.
        raise Conflict(
            "The bootstrap key's secret is the one configured: change READINESS_BOOTSTRAP_ADMIN_KEY to rotate "
            "it, or better, issue an admin key and revoke the bootstrap key."
        )
    secret = new_secret()
    now = utcnow()
    key.previous_secret_hash = key.secret_hash if grace > timedelta(0) else None
    key.previous_valid_until = now + grace if grace > timedelta(0) else None
    key.secret_hash, key.prefix = hash_secret(secret), _display_prefix(secret)
    session.flush()
    _audited(
        session,
        actor=actor,
        action="api_key.rotate",
        entity_type="api_key",
        entity_key=key.name,
        after={"prefix": key.prefix, "previous_valid_until": _iso(key.previous_valid_until)},
    )
    return key, secret


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def list_api_keys(session: Session, *, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
    return keyset_page(session, select(ApiKey), [ApiKey.name], limit=limit, cursor=cursor)


def revoke_api_key(session: Session, *, key_id: uuid.UUID, actor: Caller) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        _audited(
            session,
            actor=actor,
            action="api_key.revoke",
            entity_type="api_key",
            entity_key=key.name,
            before={"revoked_at": None},
            after={"revoked_at": key.revoked_at.isoformat()},
        )
    return key


def ensure_bootstrap_key(session: Session, *, secret: str) -> None:
    """Create the bootstrap admin key from the configured secret, once.

    A revoked bootstrap key stays revoked, whatever the configuration says on later starts: revoking
    it is how an operator retires it once real keys exist. While it is live, a changed secret in the
    configuration replaces the old one.
    """
    serialize_startup_chores(session)
    digest = hash_secret(secret)
    key = session.scalar(select(ApiKey).where(ApiKey.name == BOOTSTRAP_KEY_NAME))
    if key is not None and key.revoked_at is not None:
        logger.warning("The bootstrap admin key was revoked; READINESS_BOOTSTRAP_ADMIN_KEY is ignored.")
        return
    if key is None:
        session.add(
            ApiKey(
                name=BOOTSTRAP_KEY_NAME,
                role=Role.admin.value,
                prefix=_display_prefix(secret),
                secret_hash=digest,
            )
        )
        _audited(
            session,
            actor=SYSTEM,
            action="api_key.create",
            entity_type="api_key",
            entity_key=BOOTSTRAP_KEY_NAME,
            after={"name": BOOTSTRAP_KEY_NAME, "role": Role.admin.value},
        )
    elif key.secret_hash != digest or key.role != Role.admin.value:
        key.secret_hash, key.prefix = digest, _display_prefix(secret)
        key.role = Role.admin.value
        _audited(session, actor=SYSTEM, action="api_key.rotate", entity_type="api_key", entity_key=BOOTSTRAP_KEY_NAME)


@dataclass(frozen=True)
class KeyHolder:
    """A verified key: who it makes the caller, until when, and when it was last recorded as used."""

    caller: Caller
    valid_until: datetime | None
    last_used_at: datetime | None


def caller_of(key: ApiKey) -> Caller:
    """The caller a key makes: its role, scope and person."""
    departments = frozenset(key.departments) if key.departments is not None else None
    return Caller(
        identity=str(key.id),
        name=key.name,
        role=Role(key.role),
        departments=departments,
        key_id=key.id,
        person=key.person,
    )


def identities_of(session: Session, caller: Caller) -> frozenset[str]:
    """Every identity that is the caller's person: its own, and the other keys of the person its key
    names. What four eyes compares."""
    if caller.person is None:
        return frozenset({caller.identity})
    keys = session.scalars(select(ApiKey.id).where(ApiKey.person == caller.person.lower()))
    return frozenset({caller.identity, *(str(key_id) for key_id in keys)})


def find_caller(session: Session, *, digest: str) -> KeyHolder | None:
    """The live key whose current secret, or previous one within its grace period, hashes to `digest`."""
    now = utcnow()
    key = session.scalar(
        select(ApiKey).where(
            or_(ApiKey.secret_hash == digest, ApiKey.previous_secret_hash == digest), ApiKey.revoked_at.is_(None)
        )
    )
    if key is None:
        return None
    valid_until = key.expires_at
    if not hmac.compare_digest(key.secret_hash, digest):
        if key.previous_valid_until is None or key.previous_valid_until <= now:
            return None
        valid_until = min(filter(None, (valid_until, key.previous_valid_until)))
    if valid_until is not None and valid_until <= now:
        return None
    return KeyHolder(caller=caller_of(key), valid_until=valid_until, last_used_at=key.last_used_at)


def note_use(session: Session, *, key_id: uuid.UUID, at: datetime) -> None:
    """Record that the key was used; a plain UPDATE, so that it neither bumps the row's version nor
    waits on a concurrent change to the key."""
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at - LAST_USED_PRECISION))
        .values(last_used_at=at)
        .execution_options(synchronize_session=False)
    )


class CallerCache:
    """Verified keys, kept for a few seconds so that most requests need no key lookup.

    The staleness bound is the point: a revoked key stops working on every replica within `ttl`.
    A key that verified as nothing is kept too, so that a flood of bad keys costs no lookups.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self._entries: TTLCache[str, KeyHolder | None] | None = TTLCache(max_entries, ttl) if ttl > 0 else None
        # Request threads share it, and TTLCache is not thread-safe.
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bool, KeyHolder | None]:
        if self._entries is None:
            return False, None
        with self._lock:
            if digest not in self._entries:
                return False, None
            return True, self._entries[digest]

    def put(self, digest: str, caller: KeyHolder | None) -> None:
        if self._entries is not None:
            with self._lock:
                self._entries[digest] = caller

    def clear(self) -> None:
        if self._entries is not None:
            with self._lock:
                self._entries.clear()
