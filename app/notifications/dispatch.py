"""The channels' queue as the webhook dispatcher works it (`app.events.dispatcher.DeliveryQueue`):
fan-out of new events and the scheduled digests, leasing, sending by email or chat, recording."""

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.destinations import AllowList
from app.engine.stages import Stage
from app.notifications import queue, service
from app.notifications.queue import ChannelClaimed, ChannelOutcome, Composing
from app.notifications.schemas import ChannelKind
from app.notifications.senders import Relay, send_chat, send_email

# Digest periods start on the hour; looking once in this long sends them within a minute.
DIGEST_CHECK = timedelta(seconds=30)


class ChannelQueue:
    name = "channels"

    def __init__(
        self,
        *,
        composing: Composing,
        relay: Relay,
        allowed: AllowList,
        allow_http: bool,
        zone: ZoneInfo,
        limits: Mapping[Stage, int],
        retention_days: int,
    ) -> None:
        self.composing = composing
        self.relay = relay
        self.allowed = allowed
        self.allow_http = allow_http
        self.zone = zone
        self.limits = dict(limits)
        self.retention_days = retention_days
        self._digests_checked_at: datetime | None = None

    def _digests_due(self) -> bool:
        # The service's clock, which tests move: a period's start is a moment on it.
        checked = self._digests_checked_at
        return checked is None or utcnow() - checked >= DIGEST_CHECK

    def work_due(self, session: Session) -> bool:
        return self._digests_due() or queue.work_due(session)

    def fan_out(self, session: Session) -> int:
        made = queue.fan_out(session, composing=self.composing)
        if self._digests_due():
            self._digests_checked_at = utcnow()
            service.send_scheduled_digests(
                session,
                composing=self.composing,
                zone=self.zone,
                limits=self.limits,
                retention_days=self.retention_days,
            )
        return made

    def claim(self, session: Session, *, limit: int, lease: timedelta) -> list[ChannelClaimed]:
        return queue.claim(session, limit=limit, lease=lease)

    async def send(self, claimed: ChannelClaimed, http: aiohttp.ClientSession) -> ChannelOutcome:
        if claimed.kind is ChannelKind.email:
            return await send_email(claimed, self.relay)
        return await send_chat(claimed, http, allowed=self.allowed, allow_http=self.allow_http)

    def record(
        self,
        session: Session,
        outcomes: Sequence[ChannelOutcome],
        released: Sequence[ChannelClaimed],
        rng: random.Random,
    ) -> None:
        queue.record(session, outcomes, released, rng)
