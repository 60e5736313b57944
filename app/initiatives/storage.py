"""Where initiatives meet the database's dialect: a criterion's status read out of a project's
stored statuses (PostgreSQL's `->>` on JSONB, SQLite's `json_extract`), and the row locks that let
replicas share the watch. The rules live in `goals.py`, `progress.py` and `watch.py`."""

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, String, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from app.initiatives.models import Initiative
from app.readiness.models import ProjectReadiness


def criterion_status(dialect: str, key: str) -> ColumnElement[str | None]:
    """The current status of one criterion of a project, from its readiness row; NULL without one."""
    if dialect == "postgresql":
        return type_coerce(ProjectReadiness.statuses.op("->>")(literal(key, String())), String())
    return type_coerce(func.json_extract(ProjectReadiness.statuses, literal(f'$."{key}"', String())), String())


def lock_initiative(session: Session, initiative_id: uuid.UUID) -> Initiative | None:
    """The initiative, its row locked until commit (PostgreSQL; SQLite writers take turns anyway):
    two replicas filling its weeks or telling its news take turns, and the later one sees what the
    earlier one did."""
    query = select(Initiative).where(Initiative.id == initiative_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def lock_due(session: Session, query: Select[Initiative]) -> Sequence[Initiative]:
    """The initiatives the query finds, locked, leaving out those another replica holds."""
    query = query.execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).all()
