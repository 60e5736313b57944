"""Engine, session and unit of work, plus the only dialect-specific code outside the migrations.

The request path is async endpoints that run all of a request's database work in one call to a
thread (`Database.read` / `Database.write`): one thread hop per request, sync SQLAlchemy inside it,
on a thread pool the size of the connection pool so that threads never queue for connections.
"""

import asyncio
import contextvars
import logging
import threading
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    create_engine,
    event,
    exc,
    literal,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Boolean, Float, TypeDecorator

from app.core.clock import clock

P = ParamSpec("P")
log = logging.getLogger(__name__)
T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite keeps NUMERIC as a float; money stays well inside its 15 exact digits.
warnings.filterwarnings("ignore", message=r".*does \*not\* support Decimal objects natively")

# An arbitrary constant shared by every replica, so that only one of them migrates at a time.
MIGRATION_LOCK_ID = 0x52454144


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return clock.now()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite, which has no time zones, gets naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give an offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(20, 4)
# An increasing integer key; SQLite assigns one only to a column declared INTEGER PRIMARY KEY.
SerialId = BigInteger().with_variant(Integer(), "sqlite")


class json_array_contains(FunctionElement[bool]):  # noqa: N801 - reads as a SQL function
    """`column @> [value]` for a JSON array column, portable between PostgreSQL and SQLite."""

    type = Boolean()
    inherit_cache = True
    name = "json_array_contains"


@compiles(json_array_contains, "postgresql")
def _json_array_contains_pg(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    return f"{compiler.process(column, **kw)} @> jsonb_build_array({compiler.process(value, **kw)})"


@compiles(json_array_contains, "sqlite")
def _json_array_contains_sqlite(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)}) "
        f"WHERE json_each.value = {compiler.process(value, **kw)})"
    )


class seconds_between(FunctionElement[float]):  # noqa: N801 - reads as a SQL function
    """`end - start` in seconds, portable between PostgreSQL and SQLite."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    # float8, as the type says: EXTRACT gives numeric, whose arithmetic costs several times more.
    return f"CAST(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)})) AS FLOAT8)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 86400.0)"


def contains_element(column: ColumnElement[Any] | InstrumentedAttribute[Any], value: str) -> ColumnElement[bool]:
    return json_array_contains(column, literal(value))


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defeats SAVEPOINT and BEGIN IMMEDIATE; take it over, as
    # SQLAlchemy's documentation recommends. Writers take the lock up front (BEGIN IMMEDIATE) so a
    # transaction that read first can wait for the lock instead of failing with "database is locked".
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:
            connection.exec_driver_sql(f"BEGIN {mode}")


def _configure_postgresql(engine: Engine, statement_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        dbapi_connection.commit()


def make_engine(url: str, *, pool_size: int = 8, statement_timeout_ms: int = 10_000) -> Engine:
    if url.startswith("sqlite"):
        _ensure_sqlite_directory(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 5},
            pool_size=pool_size,
            max_overflow=0,
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=5,
            connect_args={"connect_timeout": 3},
        )
        _configure_postgresql(engine, statement_timeout_ms)
    return engine


def _ensure_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def is_database_unavailable(error: BaseException) -> bool:
    """True when the error means the database could not be reached or is busy, not bad input."""
    if isinstance(error, exc.TimeoutError):
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return True
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


# PostgreSQL's deadlock_detected and serialization_failure: it aborted one of two transactions that
# waited on each other; run again, the aborted one finds the other committed.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient(error: BaseException) -> bool:
    """True when the database aborted the transaction for another one's sake: worth running again."""
    return isinstance(error, exc.DBAPIError) and getattr(error.orig, "sqlstate", None) in RETRIED_SQLSTATES


def migration_connection(engine: Engine) -> Connection:
    """A connection whose transaction excludes every other migrator until it commits.

    PostgreSQL: a transaction-level advisory lock, released by the commit that also makes the
    migration visible, so that the next replica sees the new revision. SQLite: BEGIN IMMEDIATE
    takes the database's write lock up front.
    """
    connection = engine.execution_options(sqlite_begin="IMMEDIATE").connect()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    return connection


def serialize_startup_chores(session: Session) -> None:
    """Make this write transaction wait for any other replica doing its startup chores (creating
    the bootstrap key, filling rows a migration left empty), so that replicas starting together
    do not insert the same rows. SQLite writers already take the database lock at BEGIN."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})


def _reader_bind(engine: Engine) -> Engine:
    """PostgreSQL reads run in autocommit: no BEGIN and COMMIT round trips around a SELECT, and at
    READ COMMITTED a transaction would not make them more consistent. SQLite keeps its (local,
    cheap) transactions, which give multi-statement reads one snapshot."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class Database:
    """Runs units of work: one session, one transaction, committed when the work returns."""

    def __init__(self, engine: Engine, *, bind: Engine | Connection | None = None, threads: int = 8):
        self.engine = engine
        self._bind = bind
        target = bind if bind is not None else engine
        session_options: dict[str, Any] = {"expire_on_commit": False}
        if isinstance(target, Connection):
            session_options["join_transaction_mode"] = "create_savepoint"
            self._readers = self._writers = sessionmaker(bind=target, **session_options)
        else:
            self._reader_engine = _reader_bind(target)
            # The hot reads' statements run on their own, outside a transaction, on SQLite as on
            # PostgreSQL: the BEGIN and ROLLBACK around one SELECT were a fifth of its time.
            self._query_engine = self._reader_engine.execution_options(sqlite_begin=None)
            self._readers = sessionmaker(bind=self._reader_engine, **session_options)
            self._writers = sessionmaker(bind=target.execution_options(sqlite_begin="IMMEDIATE"), **session_options)
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")
        # SQLite has one writer at a time, and its busy handler polls with growing sleeps, which
        # starves unlucky writers for seconds under load; this process's writers queue on a lock
        # instead, so that only writers of other processes meet the busy handler.
        local_writers_queue = engine.dialect.name == "sqlite" and not isinstance(target, Connection)
        self._write_turn: AbstractContextManager[Any] = threading.Lock() if local_writers_queue else nullcontext()
        # A single shared connection (tests join one rolled-back transaction) cannot run two
        # units of work at once: the re-scorer's thread and a caller's would interleave savepoints.
        self._connection_turn: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(target, Connection) else nullcontext()
        )
        # Called with the session's `info` after each write transaction commits: what a write
        # leaves for background work to pick up (the re-scorer wakes on it).
        self.after_commit: list[Callable[[dict[str, Any]], None]] = []

    def work(self, fn: Callable[Concatenate[Session, P], T], *, write: bool) -> Callable[P, T]:
        """Wrap `fn(session, ...)` so that it runs in its own transaction."""

        def unit_of_work(*args: P.args, **kwargs: P.kwargs) -> T:
            if not write:
                with self._connection_turn, self._readers() as session, session.begin():
                    return fn(session, *args, **kwargs)
            with self._connection_turn, self._write_turn:
                try:
                    return self._write(fn, *args, **kwargs)
                except exc.DBAPIError as error:
                    # Once: a deadlock between two writers (a row lock and the outbox's order lock,
                    # taken in either order) aborts one; the other has committed by the time it
                    # runs again. Not inside a test's shared transaction, which the abort ended.
                    if not is_transient(error) or isinstance(self._bind, Connection):
                        raise
                    log.warning("a write was aborted by the database (%s); running it again", error.orig)
                    return self._write(fn, *args, **kwargs)

        return unit_of_work

    def _write(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._writers() as session:
            with session.begin():
                result = fn(session, *args, **kwargs)
            for hook in self.after_commit:
                hook(session.info)
            return result

    async def read(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._in_thread(self.work(fn, write=False), *args, **kwargs)

    async def write(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._in_thread(self.work(fn, write=True), *args, **kwargs)

    async def query(self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(connection, ...)` as a read without a session: for hot reads that answer from a
        Core statement's rows, where the session's setup and identity map would cost more than the
        query. Like `read`, one thread hop; no transaction, so each statement sees what is
        committed when it runs."""

        def on_connection() -> T:
            with self._connection_turn:
                if isinstance(self._bind, Connection):
                    return fn(self._bind, *args, **kwargs)
                with self._query_engine.connect() as connection:
                    return fn(connection, *args, **kwargs)

        return await self._in_thread(on_connection)

    async def _in_thread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # asyncio's executor hand-off, measured at a quarter of the cost of anyio.to_thread's under
        # load; the request's context (its request id) goes along explicitly.
        context = contextvars.copy_context()

        def call() -> T:
            return context.run(fn, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    async def probe(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` on a bare connection, outside any session: for health checks."""

        def call() -> T:
            if isinstance(self._bind, Connection):
                return fn(self._bind)
            with self.engine.connect() as connection:
                return fn(connection)

        return await self._in_thread(call)

    def dispose(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()
