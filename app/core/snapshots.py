"""Reads of the whole portfolio, kept until the committed data changes.

A summary of 100,000 projects scans every status row, while portals poll it far more often than
anything changes. A version of the committed data answers "did anything commit since?" in one
cheap call: on PostgreSQL the current snapshot (`pg_current_snapshot()`: two equal snapshots see
exactly the same committed transactions, of any table), on SQLite `PRAGMA data_version` on a
connection kept for it that never writes (the value changes whenever any other connection, of this
process or another, commits). A session joined to an outer transaction (its own uncommitted writes
are visible to it, and no version shows them) and an in-memory database have no version, and
their reads are not kept.
"""

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

T = TypeVar("T")


class _SqliteWatcher:
    """A read-only connection of its own, whose `data_version` moves with every other commit."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def version(self) -> str:
        with self._lock:
            return str(self._connection.execute("PRAGMA data_version").fetchone()[0])


_watchers: dict[str, _SqliteWatcher] = {}
_watchers_lock = threading.Lock()


def _sqlite_watcher(engine: Engine) -> _SqliteWatcher | None:
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    with _watchers_lock:
        if path not in _watchers:
            _watchers[path] = _SqliteWatcher(path)
        return _watchers[path]


def data_version(session: Session) -> str | None:
    """A value that changes whenever any transaction commits; None when there is none to trust."""
    bind = session.get_bind()
    if isinstance(bind, Connection):
        return None
    if bind.dialect.name == "postgresql":
        return str(session.connection().exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one())
    watcher = _sqlite_watcher(bind)
    return watcher.version() if watcher is not None else None


@dataclass(frozen=True)
class _Entry:
    version: str
    computed_at: datetime
    value: Any


class ReadCache:
    """The latest results of a few expensive reads, each with the data version it was read at.

    What changes with time alone (a project becoming inactive, hence stalled) cannot move a
    version, so an entry also ages out after `max_age` of the service's clock: the time-bound part
    of a result lags by at most that, while a committed write shows at once. Callers share what is
    kept, so they must not change it.
    """

    def __init__(self, *, max_age: timedelta, entries: int = 64) -> None:
        self.max_age = max_age
        self.entries = entries
        self._kept: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, session: Session, key: Hashable, now: datetime, compute: Callable[[], T]) -> T:
        version = data_version(session)
        if version is None:
            return compute()
        key = (str(session.get_bind().engine.url), key)
        with self._lock:
            entry = self._kept.get(key)
        if (
            entry is not None
            and entry.version == version
            and entry.computed_at <= now < entry.computed_at + self.max_age
        ):
            return cast(T, entry.value)
        value = compute()
        # Kept only if nothing committed while it was read: otherwise it may mix two states.
        if data_version(session) == version:
            with self._lock:
                self._kept[key] = _Entry(version, now, value)
                self._kept.move_to_end(key)
                while len(self._kept) > self.entries:
                    self._kept.popitem(last=False)
        return value
