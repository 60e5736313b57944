"""The write epilogue: what a unit of work changed, and what is done about it before it commits.

Services say what they changed (`record`), Core statements included, which ORM events never see;
writes of tracked ORM classes are collected on flush as well, so that a new kind of write cannot
be forgotten. Just before the transaction commits, every registered handler receives the changes
of the whole transaction at once, so that a batch touching 1,000 projects costs a few statements,
not 1,000 round trips. The domains register their handlers when the app is built (readiness, the
status row, the audit trail); this module knows none of them.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

CHANGES_KEY = "changes"
# The moment a write sets on a KPI's status or a project's stall risk: due at once, and the change
# the re-scorer then finds was caused by a write.
WRITTEN = datetime(1970, 1, 1, tzinfo=UTC)
# Left in `session.info` by a write that leaves the re-scorer work (marks, states made due): its
# commit wakes the re-scorer.
RESCORE_WANTED = "rescore_wanted"
# A handler may write tracked rows itself; their changes are handled in another round.
MAX_ROUNDS = 4


class Actor(Protocol):
    @property
    def key_id(self) -> uuid.UUID | None: ...

    @property
    def identity(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Cause:
    """What changed, as a reader of a history would name it: `fact ops.rollback_tested_at`."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}".strip()


@dataclass(frozen=True)
class AuditEntry:
    actor: Actor
    action: str
    entity_type: str
    entity_key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class Change:
    """One write: its cause, the projects it touched (or every project a rubric governs), and the
    audit event that records it."""

    cause: Cause
    project_ids: frozenset[uuid.UUID] = frozenset()
    governed_by: str | None = None
    audit: AuditEntry | None = None
    # What the project's status row may need again: "full", "measured" (measurements change only
    # their own columns, and the statements writing them make due, as WRITTEN, what they may
    # change of KPI statuses and stall risks) or "none" (facts and attestations are not on it).
    status: str = "full"
    # Whether the project's readiness may change; a snapshot or a decision changes none.
    readiness: bool = True
    # Collected from a flush rather than said by the service: a safety net, dropped when the
    # service said what it changed in the same projects.
    tracked: bool = False


Handler = Callable[[Session, list[Change]], None]


@dataclass
class _Registry:
    handlers: list[tuple[int, Handler]] = field(default_factory=list)
    tracked: dict[type, Callable[[Any], Change]] = field(default_factory=dict)
    last: list[Callable[[Session], None]] = field(default_factory=list)
    # Keys of `session.info` lists that a rolled-back savepoint must shorten again.
    pending_keys: list[str] = field(default_factory=lambda: [CHANGES_KEY])


_registry = _Registry()


def record(
    session: Session,
    cause: Cause,
    project_ids: Iterable[uuid.UUID] = (),
    *,
    governed_by: str | None = None,
    audit: AuditEntry | None = None,
    status: str = "full",
    readiness: bool = True,
) -> None:
    """Note a change of this unit of work, once written; its handlers run once, just before it
    commits. The session is flushed first, so that what the caller returns carries its ids and
    versions."""
    session.flush()
    change = Change(cause, frozenset(project_ids), governed_by, audit, status, readiness)
    session.info.setdefault(CHANGES_KEY, []).append(change)


@contextmanager
def forgotten_on_error(session: Session) -> Iterator[None]:
    """Changes noted inside the block are forgotten if it fails: for a savepoint that rolls back."""
    noted = {key: len(session.info.setdefault(key, [])) for key in _registry.pending_keys}
    try:
        yield
    except BaseException:
        for key, length in noted.items():
            del session.info[key][length:]
        raise


def on_commit(order: int) -> Callable[[Handler], Handler]:
    """Register a handler of every transaction's changes; lower orders run first."""

    def register(handler: Handler) -> Handler:
        if all(existing is not handler for _, existing in _registry.handlers):
            _registry.handlers.append((order, handler))
            _registry.handlers.sort(key=lambda entry: entry[0])
        return handler

    return register


def register_last_step(step: Callable[[Session], None], *, pending_key: str | None = None) -> None:
    """Register a step that runs after the handlers, once per commit, whether or not a change was
    recorded: for what other steps and background work leave in `session.info[pending_key]`."""
    if step not in _registry.last:
        _registry.last.append(step)
    if pending_key is not None and pending_key not in _registry.pending_keys:
        _registry.pending_keys.append(pending_key)


def track(model: type, describe: Callable[[Any], Change]) -> None:
    """Collect a change for every row of `model` that a flush inserts, updates or deletes."""
    _registry.tracked[model] = describe


@event.listens_for(Session, "after_flush")
def _collect_tracked(session: Session, _context: Any) -> None:
    # After the flush, new rows have their ids; the session still lists what the flush wrote.
    if not _registry.tracked:
        return
    changes = session.info.setdefault(CHANGES_KEY, [])
    for instance in (*session.new, *session.deleted):
        describe = _registry.tracked.get(type(instance))
        if describe is not None:
            changes.append(replace(describe(instance), tracked=True))
    for instance in session.dirty:
        describe = _registry.tracked.get(type(instance))
        if describe is not None and session.is_modified(instance, include_collections=False):
            changes.append(replace(describe(instance), tracked=True))


def _said_first(changes: list[Change]) -> list[Change]:
    said = {project_id for change in changes if not change.tracked for project_id in change.project_ids}
    return [change for change in changes if not change.tracked or not change.project_ids <= said]


@event.listens_for(Session, "before_commit")
def _run_epilogue(session: Session) -> None:
    # SQLAlchemy also calls this when a savepoint is released; the epilogue waits for the commit
    # of the whole transaction.
    if session.in_nested_transaction():
        return
    for _ in range(MAX_ROUNDS):
        session.flush()
        changes = _said_first(session.info.pop(CHANGES_KEY, []))
        if not changes:
            break
        for _, handler in _registry.handlers:
            handler(session, changes)
    else:
        raise RuntimeError("write handlers kept producing changes")
    for step in _registry.last:
        step(session)
