"""Keyset pagination: opaque cursors carrying the sort key of the last row served."""

import base64
import binascii
import json
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The `next_cursor` of the previous page; omit for the first page."),
]


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *parsers: Callable[[Any], Any]) -> list[Any]:
    """The sort key a cursor carries, each part passed through its parser; 400 for a forged cursor."""
    invalid = BadRequest("The cursor is not valid; use the next_cursor of a previous page.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(parsers):
            raise invalid
        return [parse(value) for parse, value in zip(parsers, values, strict=True)]
    except (binascii.Error, ValueError, TypeError, AttributeError, OverflowError, UnicodeDecodeError) as error:
        raise invalid from error


def keyset_after(
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    values: Sequence[Any],
    *,
    descending: bool = False,
) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `columns` (all ascending, or all descending).

    A row-value comparison, which both databases answer with a range scan of an index on `columns`.
    """
    row = tuple_(*columns)
    after = tuple(values)
    comparison: ColumnElement[bool] = row < after if descending else row > after
    return comparison


# What a cursor's parts may be, each exactly as the service writes it; anything else is forged.


def cursor_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def cursor_integer(value: Any) -> int:
    """An integer, as JSON carries it or as text (how keyset ids travel)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("not an integer")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("out of range")
    return number


def cursor_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


def cursor_moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(cursor_text(value))
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment.astimezone(UTC)


def cursor_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(cursor_text(value))


_PARSERS: dict[type, Callable[[Any], Any]] = {
    datetime: cursor_moment,
    uuid.UUID: cursor_uuid,
    str: cursor_text,
    int: cursor_integer,
}


def _encoded(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def keyset_page(
    session: Session,
    query: Select[Any],
    keys: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ORM rows in the order of `keys` (unique together), and the cursor of the next."""
    if cursor is not None:
        values = decode_cursor(cursor, *(_PARSERS[key.type.python_type] for key in keys))
        query = query.where(keyset_after(keys, values, descending=descending))
    order = [key.desc() if descending else key for key in keys]
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([_encoded(getattr(last, key.key)) for key in keys])
    return rows[:limit], next_cursor
