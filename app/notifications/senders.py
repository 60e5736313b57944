"""Sending one delivery: an email through the SMTP relay (aiosmtplib: STARTTLS and login as the
settings say), or a chat message to its incoming webhook through the dispatcher's HTTP client,
under the webhooks' destination rules (allow-list, no redirects, the address checked at connect).

With a username and password set, the service logs in before sending, and a relay that offers no
AUTH is a failed attempt, never an unauthenticated send. The password is a `SecretStr` until the
moment of login and appears in no error, log or attempt recorded.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import aiosmtplib
from pydantic import SecretStr

from app.core.db import utcnow
from app.core.destinations import AllowList, DestinationRefused, check_url, refusal_of
from app.events.dispatcher import MAX_RESPONSE_BYTES, REQUEST_TIMEOUT_SECONDS, judge_status
from app.notifications.queue import ChannelClaimed, ChannelOutcome

SMTP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Relay:
    host: str | None
    port: int
    username: str | None
    password: SecretStr | None
    starttls: bool
    sender: str


class NoAuth(Exception):
    """The relay offers no AUTH while the service is configured to log in."""


def _clock(claimed: ChannelClaimed) -> Callable[..., ChannelOutcome]:
    attempted_at = utcnow()
    started = time.perf_counter()

    def done(outcome: str, **details: object) -> ChannelOutcome:
        duration_ms = int((time.perf_counter() - started) * 1000)
        return ChannelOutcome(claimed, outcome, attempted_at, duration_ms, **details)  # type: ignore[arg-type]

    return done


def _smtp_outcome(code: int) -> str:
    """A 5xx reply refuses for good; anything else (4xx: try later) is retried."""
    return "rejected" if 500 <= code < 600 else "failed"


async def send_email(claimed: ChannelClaimed, relay: Relay) -> ChannelOutcome:
    # One function: each SMTP failure maps to an outcome in one place, read top to bottom.
    done = _clock(claimed)
    if not relay.host:
        return done("error", error="READINESS_SMTP_HOST is not set: email channels cannot send")
    smtp = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, start_tls=relay.starttls, timeout=SMTP_TIMEOUT_SECONDS)
    if relay.username is not None and relay.password is None:
        return done("failed", error="READINESS_SMTP_USERNAME is set without READINESS_SMTP_PASSWORD: not sending")
    try:
        async with smtp:
            if relay.username is not None and relay.password is not None:
                # What the relay offers is known once it has answered EHLO (after STARTTLS, again).
                if smtp.is_ehlo_or_helo_needed:
                    await smtp.ehlo()
                if not smtp.supports_extension("auth"):
                    raise NoAuth
                await smtp.login(relay.username, relay.password.get_secret_value())
            _, reply = await smtp.sendmail(relay.sender, [claimed.recipient], claimed.message)
    except NoAuth:
        return done("failed", error="the relay offers no AUTH, and the service sends only after logging in")
    except aiosmtplib.SMTPAuthenticationError as error:
        return done("failed", response_status=error.code, error=f"the relay refused the login ({error.code})")
    except aiosmtplib.SMTPRecipientsRefused as refused:
        code = refused.recipients[0].code if refused.recipients else 550
        message = refused.recipients[0].message if refused.recipients else ""
        return done(_smtp_outcome(code), response_status=code, error=f"recipient refused: {message}"[:500])
    except aiosmtplib.SMTPTimeoutError:
        return done("timeout", error=f"the relay did not answer within {SMTP_TIMEOUT_SECONDS:.0f} seconds")
    except aiosmtplib.SMTPResponseException as error:
        return done(_smtp_outcome(error.code), response_status=error.code, error=f"{error.code} {error.message}"[:500])
    except (aiosmtplib.SMTPException, OSError) as error:
        return done("error", error=f"{type(error).__name__}: {error}"[:500])
    return done("succeeded", response_status=250, response_body=reply[:MAX_RESPONSE_BYTES])


async def send_chat(
    claimed: ChannelClaimed, http: aiohttp.ClientSession, *, allowed: AllowList, allow_http: bool
) -> ChannelOutcome:
    done = _clock(claimed)
    url = claimed.url or ""
    try:
        check_url(url, allowed, allow_http=allow_http)
        async with http.post(
            url,
            data=claimed.message.encode(),
            headers={"content-type": "application/json", "user-agent": "ai-readiness-notifications/1"},
            allow_redirects=False,
        ) as response:
            body = (await response.content.read(MAX_RESPONSE_BYTES)).decode("utf-8", errors="replace")
            status = response.status
    except DestinationRefused as refused:
        return done("refused", error=refused.reason[:500])
    except TimeoutError:
        return done("timeout", error=f"no answer within {REQUEST_TIMEOUT_SECONDS:.0f} seconds")
    except aiohttp.ClientError as error:
        refused_by = refusal_of(error)
        if refused_by is not None:
            return done("refused", error=refused_by.reason[:500])
        return done("error", error=f"{type(error).__name__}: {error}"[:500])
    outcome, why = judge_status(status)
    return done(outcome, response_status=status, response_body=body, error=why)
