"""What is due for re-scoring: the marks writes leave, results past a deadline, and results behind
their rubric's latest version.

Writes reach here through the write epilogue (`app.core.changes`): a write marks the projects it
changed, in its own transaction, and the re-scorer catches up in the background, coalescing the
marks that piled up meanwhile. A read of a marked project re-scores it first, so reads are never
stale.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import ColumnElement, insert, literal, select
from sqlalchemy.orm import Session

from app.core import changes
from app.core.among import among
from app.core.changes import Cause, Change
from app.core.db import utcnow
from app.projects.models import Project
from app.readiness import storage
from app.readiness.models import ProjectReadiness, ReadinessMark
from app.rubrics.models import Rubric

BEHIND: ColumnElement[bool] = (ProjectReadiness.rubric_key != Project.rubric) | (
    ProjectReadiness.rubric_version != Rubric.latest_version
)


def mark(session: Session, causes: Mapping[uuid.UUID, Iterable[Cause]]) -> None:
    """Leave these projects to the re-scorer, which wakes once the transaction commits."""
    if not causes:
        return
    now = utcnow()
    # A project deleted in the same transaction has nothing left to score.
    existing = storage.existing_projects(session, list(causes))
    rows = [
        {"project_id": project_id, "kind": cause.kind, "name": cause.name[:200], "marked_at": now}
        for project_id, given in causes.items()
        if project_id in existing
        for cause in given
    ]
    if rows:
        storage.insert_marks(session, rows)
        session.info[changes.RESCORE_WANTED] = True


def mark_governed(session: Session, rubric_key: str, cause: Cause) -> None:
    """Every project the rubric governs, marked in one statement whatever their number."""
    session.execute(
        insert(ReadinessMark).from_select(
            ["project_id", "kind", "name", "marked_at"],
            select(
                Project.id, literal(cause.kind), literal(cause.name), literal(utcnow(), ReadinessMark.marked_at.type)
            ).where(Project.rubric == rubric_key),
        )
    )
    storage.count_marks(session)
    session.info[changes.RESCORE_WANTED] = True


def keep_current(session: Session, written: list[Change]) -> None:
    """The epilogue's readiness step: mark what the transaction changed, in one statement, for the
    re-scorer; a read of a marked project re-scores it first, so reads are never stale."""
    causes: dict[uuid.UUID, dict[Cause, None]] = defaultdict(dict)
    for change in written:
        if change.governed_by is not None:
            mark_governed(session, change.governed_by, change.cause)
        if change.readiness:
            for project_id in change.project_ids:
                causes[project_id][change.cause] = None
    mark(session, causes)


def due(session: Session, limit: int, *, sweep: bool) -> list[uuid.UUID]:
    """Projects to re-score: marked or past a deadline, both found through an index; with `sweep`,
    also behind their rubric's latest version, which takes a scan of every current result."""
    now = utcnow()
    marked = select(ReadinessMark.project_id).order_by(ReadinessMark.id).limit(limit * 2)
    expired = (
        select(ProjectReadiness.project_id)
        .where(ProjectReadiness.changes_at <= now)
        .order_by(ProjectReadiness.changes_at)
        .limit(limit)
    )
    found = [*session.scalars(marked), *session.scalars(expired)]
    if sweep and len(set(found)) < limit:
        behind = (
            select(ProjectReadiness.project_id)
            .join(Project, Project.id == ProjectReadiness.project_id)
            .join(Rubric, Rubric.key == Project.rubric)
            .where(BEHIND)
            .limit(limit)
        )
        found += session.scalars(behind)
    return list(dict.fromkeys(found))[:limit]


def has_due_work(session: Session, *, sweep: bool = False) -> bool:
    """Whether the re-scorer has anything to do: asked in a read, so that an idle re-scorer never
    takes the write lock. Publishing a version marks every project it governs, so a project
    behind its rubric without a mark is a leftover (of a restore, say) that `sweep` finds."""
    return bool(due(session, 1, sweep=sweep))


def behind(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Cause]]:
    """Each project with the cause its marks do not tell: the rubric version it is behind, if any."""
    causes: dict[uuid.UUID, list[Cause]] = dict.fromkeys(ids, [])
    if ids:
        rows = session.execute(
            select(ProjectReadiness.project_id, Project.rubric, Rubric.latest_version)
            .join(Project, Project.id == ProjectReadiness.project_id)
            .join(Rubric, Rubric.key == Project.rubric)
            .where(among(session.connection(), ProjectReadiness.project_id, ids), BEHIND)
        )
        causes.update({row.project_id: [Cause("rubric", f"{row.rubric} v{row.latest_version}")] for row in rows})
    return causes


def without_readiness(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Projects with no current readiness at all (after a restore, say): a scan of every project."""
    query = (
        select(Project.id)
        .outerjoin(ProjectReadiness, ProjectReadiness.project_id == Project.id)
        .where(ProjectReadiness.project_id.is_(None))
        .limit(limit)
    )
    return list(session.scalars(query))
