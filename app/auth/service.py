"""API keys: issuing, revoking and verifying them; only a SHA-256 of each secret is stored."""

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.models import ApiKey
from app.auth.schemas import Role
from app.core.db import serialize_startup_chores, utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import keyset_page

SECRET_PREFIX = "rdy_"
BOOTSTRAP_KEY_NAME = "bootstrap-admin"


@dataclass(frozen=True)
class Caller:
    """Who is making a request: the API key's id, name and role."""

    key_id: uuid.UUID | None
    name: str
    role: Role


SYSTEM = Caller(key_id=None, name="system", role=Role.admin)


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _display_prefix(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + 6]


def create_api_key(session: Session, *, name: str, role: Role, actor: Caller) -> tuple[ApiKey, str]:
    """Issue a key; the secret is returned here once and never stored."""
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"An API key named {name!r} already exists.")
    secret = new_secret()
    key = ApiKey(name=name, role=role.value, prefix=_display_prefix(secret), secret_hash=hash_secret(secret))
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key.create",
        entity_type="api_key",
        entity_key=name,
        after={"id": str(key.id), "name": name, "role": role.value, "prefix": key.prefix},
    )
    return key, secret


def list_api_keys(session: Session, *, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
    return keyset_page(session, select(ApiKey), [ApiKey.name], limit=limit, cursor=cursor)


def revoke_api_key(session: Session, *, key_id: uuid.UUID, actor: Caller) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
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
    """Make the configured bootstrap secret a valid admin key, replacing an older bootstrap secret."""
    serialize_startup_chores(session)
    digest = hash_secret(secret)
    key = session.scalar(select(ApiKey).where(ApiKey.name == BOOTSTRAP_KEY_NAME))
    if key is None:
        session.add(
            ApiKey(
                name=BOOTSTRAP_KEY_NAME,
                role=Role.admin.value,
                prefix=_display_prefix(secret),
                secret_hash=digest,
            )
        )
        audit.record(
            session,
            actor=SYSTEM,
            action="api_key.create",
            entity_type="api_key",
            entity_key=BOOTSTRAP_KEY_NAME,
            after={"name": BOOTSTRAP_KEY_NAME, "role": Role.admin.value},
        )
    elif key.secret_hash != digest or key.revoked_at is not None or key.role != Role.admin.value:
        key.secret_hash, key.prefix = digest, _display_prefix(secret)
        key.revoked_at, key.role = None, Role.admin.value
        audit.record(
            session,
            actor=SYSTEM,
            action="api_key.rotate",
            entity_type="api_key",
            entity_key=BOOTSTRAP_KEY_NAME,
        )


def find_caller(session: Session, *, digest: str) -> Caller | None:
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest, ApiKey.revoked_at.is_(None)))
    if key is None or not hmac.compare_digest(key.secret_hash, digest):
        return None
    return Caller(key_id=key.id, name=key.name, role=Role(key.role))


class CallerCache:
    """Verified keys, kept for a few seconds so that most requests need no key lookup.

    The staleness bound is the point: a revoked key stops working on every replica within `ttl`.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Caller | None]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bool, Caller | None]:
        entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, digest: str, caller: Caller | None) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl, caller)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
