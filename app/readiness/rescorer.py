"""The re-scorer: catches up with projects that writes marked (batches over many projects, a new
rubric version) and with results whose deadline passed (a fact ageing out, an attestation
expiring), so that the portfolio, badges and summaries follow within seconds without any write.

It runs inside `readiness serve` by default, or alone in `readiness worker` beside API processes
run with READINESS_RESCORER=false. Several of them share the work: each batch locks the projects it takes
and skips those another replica holds (PostgreSQL); on SQLite a batch is scored in a read and takes
the database's single writer turn only to store what did not change meanwhile, so that request
writers never wait behind the scoring.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Protocol

from sqlalchemy.orm import Session

from app.core.db import Database
from app.readiness import marks, service

log = logging.getLogger(__name__)


class Watch(Protocol):
    """States that change with time alone and are told once per change (KPI statuses, stall risks,
    decision reminders), settled in the same sweeps as readiness."""

    def has_due(self, session: Session, *, full: bool = ...) -> bool: ...

    def tell_due(self, session: Session, *, full: bool = ...) -> bool: ...


class Rescorer:
    def __init__(
        self,
        db: Database,
        *,
        watches: Sequence[Watch] = (),
        followers: Sequence[Watch] = (),
        batch: int = 500,
        sweep_seconds: float = 5.0,
        gather_seconds: float = 0.05,
        full_sweep_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.watches = list(watches)
        # States that follow current readiness (initiatives' progress): settled once re-scoring
        # has caught up, so that what a write changes of them is told within the same sweep.
        self.followers = tuple(followers)
        self.batch = batch
        self.sweep_seconds = sweep_seconds
        # Looking for what only a restore leaves behind scans every project, about a second at
        # 100,000 on PostgreSQL: done when the re-scorer starts and then this seldom.
        self.full_sweep_seconds = full_sweep_seconds
        self._last_full_sweep: float | None = None
        # A moment to let marks of writes arriving together pile up, so that each project is
        # re-scored once for all of them.
        self.gather_seconds = gather_seconds
        self._stopping = False
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
        """Finish the batch in hand (a unit of work cannot be abandoned half way), then stop."""
        self._stopping = True
        self._wanted.set()
        if self._task is not None:
            await self._task

    async def catch_up(self, *, full: bool = False) -> int:
        """Re-score until nothing is due; returns how many projects were scored. Also tells what
        time alone changed of KPI statuses, stall risks and decision reminders. `full` also looks
        for what only a restore leaves behind, which takes scans of every project: projects behind
        their rubric without a mark, projects never scored, KPIs and stall risks never settled."""
        total = 0
        for watch in self.watches:
            if await self.db.read(watch.has_due, full=full):
                while not self._stopping and await self.db.write(watch.tell_due, full=full):
                    pass
        while not self._stopping and await self.db.read(marks.has_due_work, sweep=full):
            scored = await self._rescore_batch(full=full)
            total += scored
            if scored == 0:
                break
        while full and not self._stopping:
            unscored = await self.db.read(marks.without_readiness, limit=self.batch)
            scored = await self.db.write(service.score_first, unscored) if unscored else 0
            total += scored
            if scored == 0:
                break
        for follower in self.followers:
            if await self.db.read(follower.has_due, full=full):
                while not self._stopping and await self.db.write(follower.tell_due, full=full):
                    pass
        return total

    async def _rescore_batch(self, *, full: bool) -> int:
        if self.db.engine.dialect.name != "sqlite":
            # Scored with the projects' rows locked, so that replicas skip each other's projects.
            return await self.db.write(service.rescore_due, limit=self.batch, sweep=full)
        # SQLite has one writer at a time: score in a read, and hold the lock only to store, so
        # that request writers never wait behind the scoring.
        rescore = await self.db.read(service.score_due, limit=self.batch, sweep=full)
        return await self.db.write(service.store_scored, rescore) if rescore is not None else 0

    def _full_sweep_due(self) -> bool:
        now = time.monotonic()
        if self._last_full_sweep is not None and now - self._last_full_sweep < self.full_sweep_seconds:
            return False
        self._last_full_sweep = now
        return True

    async def _run(self) -> None:
        while not self._stopping:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), timeout=self.sweep_seconds)
                await asyncio.sleep(self.gather_seconds)
            self._wanted.clear()
            try:
                await self.catch_up(full=self._full_sweep_due())
            except Exception:
                # The database may be away for a while; marks and deadlines wait in it meanwhile.
                log.exception("re-scoring failed; retrying at the next sweep")
