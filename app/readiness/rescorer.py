"""The re-scorer: catches up with projects that writes marked (batches over many projects, a new
rubric version) and with results whose deadline passed (a fact ageing out, an attestation
expiring), so that the portfolio, badges and summaries follow within seconds without any write.

It runs in every service process. Replicas share the work: each batch locks the projects it takes
and skips those another replica holds (PostgreSQL), or takes the database's single writer turn
(SQLite), in batches small enough that request writers do not wait long behind it.
"""

import asyncio
import logging
from contextlib import suppress

from app.core.db import Database
from app.readiness import service

log = logging.getLogger(__name__)


class Rescorer:
    def __init__(self, db: Database, *, batch: int = 500, sweep_seconds: float = 5.0) -> None:
        self.db = db
        self.batch = batch
        self.sweep_seconds = sweep_seconds
        self._wanted = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called from any thread once a write that marked projects has committed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wanted.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="readiness-rescorer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def catch_up(self) -> int:
        """Re-score until nothing is due; returns how many projects were scored."""
        total = 0
        while True:
            scored = await self.db.write(service.rescore_due, limit=self.batch)
            scored += await self.db.write(service.rescore_unscored, limit=self.batch)
            total += scored
            if scored == 0:
                return total

    async def _run(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), timeout=self.sweep_seconds)
            self._wanted.clear()
            try:
                await self.catch_up()
            except Exception:
                # The database may be away for a while; marks and deadlines wait in it meanwhile.
                log.exception("re-scoring failed; retrying at the next sweep")
