"""`column IN (values)` for the many values of a batch.

On PostgreSQL the values travel as one array parameter (`column = ANY(:values)`): an IN list of
1,000 values is 1,000 parameters, which the driver splices into a statement text it has never
seen (and so parses again) and the server parses and plans again for every batch. SQLite, in
process, takes the IN list.
"""

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute


def among(
    connection: Connection, column: ColumnElement[Any] | InstrumentedAttribute[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def among_parameter(
    dialect: str, column: ColumnElement[Any] | InstrumentedAttribute[Any], name: str
) -> ColumnElement[bool]:
    """`among` with the values left to a named parameter, for a statement built once and run with
    different values: given as a list in the parameters of each execution."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))
