"""The caller's department scope, for the length of a request.

Set once, where the caller is authenticated, and read where projects are found and listed, so that
no query can forget it: a project outside the scope is not found, and lists leave it out.
Background work runs outside any request and so sees every department.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false
from sqlalchemy.orm import QueryableAttribute

from app.core.errors import Forbidden

_departments: ContextVar[frozenset[str] | None] = ContextVar("caller_departments", default=None)

QueryT = TypeVar("QueryT", bound=Select[*tuple[Any, ...]])
Column = ColumnElement[str | None] | QueryableAttribute[str | None]


def limit_to(departments: frozenset[str] | None) -> None:
    _departments.set(departments)


@contextmanager
def unscoped() -> Iterator[None]:
    """Every department inside the block: for figures computed once for every caller (the weeks of
    an initiative's burn-up), of which each caller then reads its own departments."""
    token = _departments.set(None)
    try:
        yield
    finally:
        _departments.reset(token)


def departments() -> frozenset[str] | None:
    """The departments the caller may see; None for every one."""
    return _departments.get()


def can_see(department: str | None) -> bool:
    allowed = _departments.get()
    return allowed is None or (department is not None and department in allowed)


def visible(column: Column) -> ColumnElement[bool] | None:
    """The condition that keeps rows of the caller's departments; None when every row is visible."""
    allowed = _departments.get()
    if allowed is None:
        return None
    return column.in_(sorted(allowed)) if allowed else false()


def restrict(query: QueryT, column: Column) -> QueryT:
    condition = visible(column)
    return query if condition is None else query.where(condition)


def require_department(department: str | None) -> None:
    """Refuse putting a project into a department outside the caller's scope (403: the caller knows
    what it asked for, so nothing is revealed)."""
    allowed = _departments.get()
    if allowed is None or (department is not None and department in allowed):
        return
    named = f"department {department!r}" if department is not None else "no department"
    raise Forbidden(f"The caller's scope ({', '.join(sorted(allowed)) or 'no departments'}) does not include {named}.")


def within() -> str:
    """What a "not found" message adds for a scoped caller: the project may exist elsewhere."""
    return "" if _departments.get() is None else " within the caller's departments"
