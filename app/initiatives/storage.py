"""Where initiatives meet the database's dialect: whether a project's status row lists a criterion
among those it has not done (PostgreSQL's `strpos`, SQLite's `instr`), and the row locks that let
replicas share the watch. The rules live in `goals.py`, `progress.py` and `watch.py`."""

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, String, func, literal, select
from sqlalchemy.orm import Session

from app.initiatives.models import Initiative
from app.portfolio.models import ProjectStatus


def lists_undone(dialect: str, key: str) -> ColumnElement[bool]:
    """The project has partly met or not met this criterion: `,key,` is in its `undone`."""
    needle = literal(f",{key},", String())
    found = (
        func.strpos(ProjectStatus.undone, needle)
        if dialect == "postgresql"
        else func.instr(ProjectStatus.undone, needle)
    )
    return found > 0


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
