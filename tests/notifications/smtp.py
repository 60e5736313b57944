"""A real SMTP server on loopback (aiosmtpd), recording what it is sent; it may require a login,
offer none, or refuse some recipients for a while."""

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.served import free_port


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())


@dataclass
class Relay:
    host: str
    port: int
    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    # Recipient address → how many more times to answer it 450 (try later).
    refuse: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.received() if address in mail.recipients]


class Handler:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.relay.lock:
            if self.relay.refuse.get(address, 0) > 0:
                self.relay.refuse[address] -= 1
                return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.relay.lock:
            self.relay.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@contextmanager
def running_relay(*, username: str | None = None, password: str | None = None) -> Iterator[Relay]:
    """With a username and password, the relay offers AUTH (over plain text on loopback) and
    requires it; without, it offers none."""
    relay = Relay("127.0.0.1", free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (username, password):
            relay.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    options: dict[str, Any] = {}
    if username is not None:
        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(Handler(relay), hostname=relay.host, port=relay.port, **options)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()
