"""Statements every domain's storage builds the same way."""

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, Table, bindparam, update

SweptQuery = TypeVar("SweptQuery", bound=Select[*tuple[Any, ...]])


def update_rows(connection: Connection, table: Table, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each row's columns written where `key` equals its value: one prepared `UPDATE` run for every
    row. Values are bound as `v_<column>`, a name SQLAlchemy keeps apart from the column's own."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"v_{key}"))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns})
    )
    connection.execute(statement, [{f"v_{name}": value for name, value in row.items()} for row in rows])


def swept(query: SweptQuery, of: Any, batch: int) -> SweptQuery:
    """A sweep's batch of `query`, its rows of `of` locked on PostgreSQL and those a write holds
    skipped: a row read unlocked could be stored over a write committed meanwhile, losing what
    that write made due, and waiting could deadlock with writes that lock rows in another order.
    A skipped row is due again once its write commits."""
    return query.limit(batch).with_for_update(of=of, skip_locked=True)
