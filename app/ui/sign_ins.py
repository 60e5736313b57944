"""Sign-ins through the OpenID provider on their way: kept in the database between the redirect to
the provider and the way back, so that any replica can finish what another began.

Two random values make a sign-in: its `state`, which travels in the URL to the provider and back,
and the browser's binding, a value in a short-lived cookie of the dashboard's own. The binding makes
sure that only the browser that began a sign-in finishes it: a code and state brought to someone
else's browser sign nobody in (RFC 6749 §10.12). The PKCE code verifier and the nonce are derived
from the two by HMAC, so the database keeps only hashes of the state and the binding: a row, leaked
or not, can neither be matched to a URL nor redeem a code.
"""

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.ui.models import UiPendingSignIn
from app.ui.sessions import token_hash

# Long enough to type a password and answer a second factor; a sign-in is begun again after it.
LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class Pending:
    """What the way back needs of a sign-in that was begun."""

    redirect_uri: str
    next: str
    code_verifier: str
    nonce: str


def _derived(binding: str, state: str, purpose: str) -> str:
    mac = hmac.new(binding.encode(), f"{purpose}:{state}".encode(), hashlib.sha256).digest()
    # 43 characters of base64url: the shortest code verifier RFC 7636 allows, with 256 bits in it.
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def code_verifier(binding: str, state: str) -> str:
    return _derived(binding, state, "code_verifier")


def nonce(binding: str, state: str) -> str:
    return _derived(binding, state, "nonce")


def begin(
    session: Session, *, state: str, binding: str, redirect_uri: str, next: str, lifetime: timedelta = LIFETIME
) -> None:
    """Keep a sign-in until the browser comes back with its state, for `lifetime` at most."""
    now = utcnow()
    # Those never finished go when a new one begins: no background job needed to keep the table small.
    session.execute(delete(UiPendingSignIn).where(UiPendingSignIn.expires_at <= now))
    session.add(
        UiPendingSignIn(
            state_hash=token_hash(state),
            binding_hash=token_hash(binding),
            redirect_uri=redirect_uri,
            next=next,
            created_at=now,
            expires_at=now + lifetime,
        )
    )


@dataclass(frozen=True)
class Refused:
    """Why the way back cannot finish a sign-in, in words for the sign-in page."""

    message: str


def take(session: Session, *, state: str, binding: str | None) -> Pending | Refused:
    """The sign-in the state names, taken off the table whatever comes of it, since a state works
    once; refused when there is no such sign-in, when it is too old, or when another browser began it."""
    row = session.scalar(select(UiPendingSignIn).where(UiPendingSignIn.state_hash == token_hash(state)))
    # Of two requests bringing the same state at once, only the one that deletes the row goes on.
    taken = row is not None and _delete(session, row.id)
    if row is None or not taken:
        return Refused("This sign-in is unknown, or it was used already. Sign in again.")
    if row.expires_at <= utcnow():
        return Refused(f"This sign-in took longer than {int(LIFETIME / timedelta(minutes=1))} minutes. Sign in again.")
    if binding is None or not hmac.compare_digest(token_hash(binding), row.binding_hash):
        return Refused("This sign-in was begun in another browser, or this browser refused its cookie. Sign in again.")
    return Pending(
        redirect_uri=row.redirect_uri,
        next=row.next,
        code_verifier=code_verifier(binding, state),
        nonce=nonce(binding, state),
    )


def _delete(session: Session, pending_id: uuid.UUID) -> bool:
    result = session.execute(
        delete(UiPendingSignIn).where(UiPendingSignIn.id == pending_id).execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], result).rowcount)
