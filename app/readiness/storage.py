"""Where readiness meets the database's dialect: locking projects for re-scoring, storing results
in one statement whatever their number, splicing stored criteria behind a new summary, and keeping
the marks table's statistics honest. The rules of re-scoring live in `service.py`."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Select, Table, Text, Update, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core.among import among, among_parameter
from app.projects.models import Project
from app.readiness.document import CRITERIA
from app.readiness.models import ProjectReadiness, ReadinessHistory, ReadinessMark

READINESS_TABLE: Table = ProjectReadiness.__table__  # type: ignore[assignment]
MARK_TABLE: Table = ReadinessMark.__table__  # type: ignore[assignment]
HISTORY_TABLE: Table = ReadinessHistory.__table__  # type: ignore[assignment]
MARKED_IDS = "marked_project_ids"


def lock_projects(
    session: Session, ids: Collection[uuid.UUID], *, skip_locked: bool, most: int | None = None
) -> list[Project]:
    """The projects, their rows locked until commit (PostgreSQL), so that two transactions scoring
    one project take turns and the later one sees the earlier one's writes. SQLite writers already
    take turns. With `skip_locked`, projects another transaction holds are left for later; with
    `most`, no more than that many are taken."""
    # Loaded again even if this session holds them: what counts is what is committed once locked.
    query = (
        select(Project)
        .where(among(session.connection(), Project.id, ids))
        .order_by(Project.id)
        .limit(most)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # FOR NO KEY UPDATE: writers inserting rows that refer to the project (marks, facts) take
        # a key-share lock on it, which this one must not wait for, or deadlock with.
        query = query.with_for_update(skip_locked=skip_locked, key_share=True)
    return list(session.scalars(query))


def store_results(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """New and changed results, whole."""
    if rows:
        connection.execute(_upsert(connection.dialect.name), rows)


def store_weighings(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Results weighed again: the columns weighing decides, and in the text the stored criteria kept
    behind the new summary (`opening`, the summary's text without its closing brace)."""
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name not in ("project_id", "opening"))
    statement = _reweighed(connection.dialect.name, columns)
    connection.execute(statement, [{f"v_{name}": value for name, value in row.items()} for row in rows])


def store_history(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        connection.execute(HISTORY_TABLE.insert(), rows)


def _upsert(dialect: str) -> Insert:
    """One statement for new and changed results: executed with many rows, it is sent as multi-row
    `INSERT`s, where an `UPDATE` per row would be a statement per project."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(READINESS_TABLE)
    kept = {column.name: statement.excluded[column.name] for column in READINESS_TABLE.c if not column.primary_key}
    return statement.on_conflict_do_update(index_elements=[READINESS_TABLE.c.project_id], set_=kept)


@cache
def _reweighed(dialect: str, weighed: tuple[str, ...]) -> Update:
    """The criteria kept as stored are spliced in by the database, so that they are neither read
    nor sent back."""
    result = READINESS_TABLE.c.result
    criteria = func.strpos(result, CRITERIA) if dialect == "postgresql" else func.instr(result, CRITERIA)
    return (
        update(READINESS_TABLE)
        .where(READINESS_TABLE.c.project_id == bindparam("v_project_id"))
        .values(
            {
                **{name: bindparam(f"v_{name}", type_=READINESS_TABLE.c[name].type) for name in weighed},
                "result": bindparam("v_opening", type_=Text()) + func.substr(result, criteria),
            }
        )
    )


@cache
def _existing(dialect: str) -> Select[uuid.UUID]:
    """Which of the projects given as `MARKED_IDS` exist: built once, as every write runs it."""
    return select(Project.id).where(among_parameter(dialect, Project.id, MARKED_IDS))


def existing_projects(session: Session, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    return set(session.scalars(_existing(session.get_bind().dialect.name), {MARKED_IDS: list(ids)}))


def insert_marks(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    session.connection().execute(MARK_TABLE.insert(), rows)


def count_marks(session: Session) -> None:
    """Statistics of the marks table, taken in this transaction once a portfolio is marked.

    The marks table is nearly always empty and its statistics say so. With a portfolio marked, the
    re-scorer's look-up of a batch's marks would then scan it and compare every row with each of
    the batch's ids: over a second a batch at 100,000 marks, once psycopg prepares the statement and
    PostgreSQL settles on a generic plan. Statistics taken in this transaction count its own rows,
    and commit with them. SQLite plans without them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {MARK_TABLE.name}"))
