"""Where the governance views meet the database's dialect: each criterion's status, read inside the
database from a project's stored result."""

from typing import Any

from sqlalchemy import ColumnElement, Select, func, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from app.readiness.models import ProjectReadiness


def criteria_statuses(session: Session, query: Select[Any]) -> Select[Any]:
    """The query's projects joined to one row per criterion of their current result: `criterion`
    and `status`, read inside the database from the stored JSON."""
    if session.get_bind().dialect.name == "postgresql":
        elements = func.jsonb_array_elements(
            func.cast(ProjectReadiness.result, JSONB).op("->")("criteria")
        ).table_valued("value", joins_implicitly=True)
        criterion: ColumnElement[str] = elements.c.value.op("->>")("key")
        status: ColumnElement[str] = elements.c.value.op("->>")("status")
    else:
        elements = func.json_each(ProjectReadiness.result, "$.criteria").table_valued("value", joins_implicitly=True)
        criterion = func.json_extract(elements.c.value, "$.key")
        status = func.json_extract(elements.c.value, "$.status")
    return query.add_columns(criterion.label("criterion"), status.label("status")).join(elements, true())
