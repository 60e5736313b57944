"""Current readiness: every project scored against its governing rubric as its data is now, kept
current by the service, with the history of every change and what caused it.

This module is the unit of work of re-scoring: take the projects due (`marks.py`), score them
(`scorer.py`), store what changed (`storage.py`) with a history row each, and tell it
(`changed.py`). The re-scorer (`rescorer.py`) runs it in the background; a read of a marked or
expired project runs it first (`reads.py`), so every read after an acknowledged write reflects it.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core import changes
from app.core.among import among
from app.core.changes import Cause
from app.core.db import utcnow
from app.engine import stall
from app.engine.stages import IN_PRODUCTION, Stage
from app.projects.models import Project
from app.readiness import changed, marks, scorer, storage
from app.readiness.document import coded_statuses, joined, undone_criteria
from app.readiness.models import ProjectReadiness, ReadinessMark
from app.readiness.scorer import Scored, StoredResult

STORED = (
    ProjectReadiness.project_id,
    ProjectReadiness.rubric_key,
    ProjectReadiness.rubric_version,
    ProjectReadiness.score,
    ProjectReadiness.level,
    ProjectReadiness.gate_passed,
    ProjectReadiness.blockers,
    ProjectReadiness.etag,
    ProjectReadiness.changes_at,
    ProjectReadiness.deadlines,
    ProjectReadiness.computed_at,
    ProjectReadiness.statuses,
)


@dataclass(frozen=True)
class Mark:
    id: int
    project_id: uuid.UUID


@dataclass(frozen=True)
class Rescore:
    """Projects scored as their data was read, and what their results replace: stored by `_apply`
    in the transaction that read them, or, on SQLite, in a short write transaction after it."""

    projects: dict[uuid.UUID, Project]
    marks: list[Mark]
    stored: dict[uuid.UUID, StoredResult]
    why: dict[uuid.UUID, dict[Cause, None]]
    fresh: dict[uuid.UUID, Scored]
    now: datetime


def _rescore(
    session: Session, projects: Collection[Project], causes: Mapping[uuid.UUID, Iterable[Cause]] | None
) -> Rescore:
    now = utcnow()
    ids = [project.id for project in projects]
    why: dict[uuid.UUID, dict[Cause, None]] = defaultdict(dict)
    for project_id, given in (causes or {}).items():
        why[project_id].update(dict.fromkeys(given))
    taken = []
    for mark_id, project_id, kind, name in session.execute(
        select(ReadinessMark.id, ReadinessMark.project_id, ReadinessMark.kind, ReadinessMark.name).where(
            among(session.connection(), ReadinessMark.project_id, ids)
        )
    ):
        taken.append(Mark(mark_id, project_id))
        why[project_id][Cause(kind, name)] = None
    stored = {
        row.project_id: StoredResult(**row._mapping)
        for row in session.execute(select(*STORED).where(among(session.connection(), ProjectReadiness.project_id, ids)))
    }
    for project_id, row in stored.items():
        for at, cause in row.deadlines:
            if datetime.fromisoformat(at) <= now:
                why[project_id][Cause("time", cause)] = None
    fresh = scorer.score(session, projects, now, scorer.still_judged(session, projects, stored, why, now))
    return Rescore({project.id: project for project in projects}, taken, stored, why, fresh, now)


def _apply(session: Session, rescore: Rescore) -> int:
    _store(session, rescore)
    taken = [mark.id for mark in rescore.marks if mark.project_id in rescore.fresh]
    if taken:
        session.execute(delete(ReadinessMark).where(among(session.connection(), ReadinessMark.id, taken)))
    return len(rescore.fresh)


def refresh(
    session: Session,
    project_ids: Collection[uuid.UUID],
    causes: Mapping[uuid.UUID, Iterable[Cause]] | None = None,
    *,
    skip_locked: bool = False,
    most: int | None = None,
) -> int:
    """Bring these projects' current readiness up to date, with a history row for each whose score,
    level, gate or blockers changed. Marks left for them are taken with their causes; deadlines
    that passed become `time` causes. Returns how many projects were scored."""
    if not project_ids:
        return 0
    projects = storage.lock_projects(session, set(project_ids), skip_locked=skip_locked, most=most)
    if not projects:
        return 0
    return _apply(session, _rescore(session, projects, causes))


def _store(session: Session, rescore: Rescore) -> None:
    """Every fresh result stored (whole where its criteria changed, weighed again where they did
    not), a history row and an event for each that changed significantly, and the new scores handed
    to the domains that keep them."""
    # One pass over the fresh results builds every statement's rows, so that storing a batch of any
    # size takes a few statements.
    results, weighings, history, scores, told = [], [], [], [], []
    for project_id, scored in rescore.fresh.items():
        result = scored.result
        deadlines = [[d.at.isoformat(), d.cause] for d in result.deadlines]
        weighed = {
            "rubric_key": scored.rubric.key,
            "rubric_version": scored.rubric.version,
            "score": result.score,
            "level": result.level.value,
            "gate_passed": result.gate_passed,
            "blockers": scored.blockers,
            "summary": scored.summary,
            "etag": scored.etag,
            "changes_at": result.changes_at,
            "deadlines": deadlines,
            "computed_at": rescore.now,
        }
        before = rescore.stored.get(project_id)
        if scored.criteria is None:
            weighings.append({"project_id": project_id, "opening": scored.summary[:-1], **weighed})
        elif (
            before is None
            or before.etag != scored.etag
            or before.changes_at != result.changes_at
            or before.deadlines != deadlines
        ):
            criteria = scored.criteria
            results.append(
                {
                    "project_id": project_id,
                    **weighed,
                    "result": joined(scored.summary, criteria.text),
                    "criteria_etag": criteria.etag,
                    "statuses": criteria.statuses,
                }
            )
        scores.append(
            changed.Scores(
                project_id, result.score, result.level.value, result.gate_passed, undone_criteria(scored.statuses)
            )
        )
        after = changed.State(result.score, result.level.value, result.gate_passed, scored.blockers)
        previous = (
            None if before is None else changed.State(before.score, before.level, before.gate_passed, before.blockers)
        )
        # A change of criteria alone (an exemption of a met criterion, a weakest section that
        # stays the weakest) gets a row the history does not show, so that the past of any
        # initiative's goal can be computed from the history.
        significant = previous is None or previous.significant() != after.significant()
        if not significant and before is not None and before.statuses == scored.statuses:
            continue
        cause = changed.causes_of(rescore.why, project_id)
        history.append(
            {
                "project_id": project_id,
                "changed_at": rescore.now,
                "rubric_key": scored.rubric.key,
                "rubric_version": scored.rubric.version,
                "score": result.score,
                "level": result.level.value,
                "gate_passed": result.gate_passed,
                "blockers": scored.blockers,
                "previous": None
                if before is None
                else {
                    "score": before.score,
                    "level": before.level,
                    "gate_passed": before.gate_passed,
                    "blockers": before.blockers,
                },
                "cause": cause,
                "statuses": coded_statuses(scored.rubric, scored.statuses),
                "significant": significant,
            }
        )
        if not significant:
            continue
        told.append(
            changed.Change(
                rescore.projects[project_id], scored.rubric.key, scored.rubric.version, previous, after, cause
            )
        )
    steadied = _stability_moved(session, rescore)
    connection = session.connection()
    storage.store_results(connection, results)
    storage.store_weighings(connection, weighings)
    storage.store_history(connection, history)
    changed.scores_stored(session, scores)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, ProjectReadiness) and instance.project_id in rescore.fresh:
            session.expire(instance)
    changed.tell(session, told)
    if steadied:
        # Projects starting something new in their departments read whether these deployments are
        # stable: their status rows follow, through the write epilogue, in this transaction.
        changes.record(session, Cause("readiness", "deployment stability"), steadied, readiness=False)


def _stability_moved(session: Session, rescore: Rescore) -> list[uuid.UUID]:
    """Deployments (production, scaling) whose fresh result changes which stability criteria of the
    focus signal are unmet; read before the results are stored."""
    fresh = {
        project_id: scored.criteria.statuses
        for project_id, scored in rescore.fresh.items()
        if scored.criteria is not None and Stage(rescore.projects[project_id].stage) in IN_PRODUCTION
    }
    if not fresh:
        return []
    stored = dict(
        session.execute(
            select(ProjectReadiness.project_id, ProjectReadiness.statuses).where(
                among(session.connection(), ProjectReadiness.project_id, list(fresh))
            )
        ).all()
    )
    return sorted(
        project_id
        for project_id, statuses in fresh.items()
        if stall.unmet_criteria(statuses) != stall.unmet_criteria(stored.get(project_id))
    )


def rescore_due(session: Session, *, limit: int, sweep: bool = False) -> int:
    """Re-score up to `limit` projects that are due, in this transaction; returns how many."""
    # Twice as many candidates as taken: batches of other replicas running at once lock their
    # projects, and each batch takes the first it finds free.
    due = marks.due(session, limit * 2, sweep=sweep)
    projects = storage.lock_projects(session, due, skip_locked=True, most=limit)
    if not projects:
        return 0
    return _apply(session, _rescore(session, projects, marks.behind(session, [project.id for project in projects])))


def score_due(session: Session, *, limit: int, sweep: bool = False) -> Rescore | None:
    """Score up to `limit` projects that are due, in a read transaction: what `store_scored` then
    stores, in a write transaction that holds SQLite's single writer lock for the writes alone."""
    causes = marks.behind(session, marks.due(session, limit, sweep=sweep))
    if not causes:
        return None
    projects = session.scalars(
        select(Project).where(among(session.connection(), Project.id, causes)).order_by(Project.id)
    ).all()
    return _rescore(session, projects, causes)


def store_scored(session: Session, rescore: Rescore) -> int:
    """Store what `score_due` scored, leaving out every project written since it read: one with a
    new mark (a write it did not see), or whose stored result changed (a read re-scored it). Those
    keep their marks, so the next round scores them again. Returns how many were stored."""
    ids = list(rescore.fresh)
    now_marked: dict[uuid.UUID, set[int]] = defaultdict(set)
    for mark_id, project_id in session.execute(
        select(ReadinessMark.id, ReadinessMark.project_id).where(
            among(session.connection(), ReadinessMark.project_id, ids)
        )
    ):
        now_marked[project_id].add(mark_id)
    read: dict[uuid.UUID, set[int]] = defaultdict(set)
    for mark in rescore.marks:
        read[mark.project_id].add(mark.id)
    computed: dict[uuid.UUID, datetime] = dict(
        session.execute(
            select(ProjectReadiness.project_id, ProjectReadiness.computed_at).where(
                among(session.connection(), ProjectReadiness.project_id, ids)
            )
        ).all()
    )

    def unchanged(project_id: uuid.UUID) -> bool:
        before = rescore.stored.get(project_id)
        return now_marked[project_id] <= read[project_id] and computed.get(project_id) == (
            before.computed_at if before is not None else None
        )

    kept = {project_id: scored for project_id, scored in rescore.fresh.items() if unchanged(project_id)}
    if not kept:
        return 0
    return _apply(session, replace(rescore, fresh=kept))


def score_first(session: Session, ids: Collection[uuid.UUID]) -> int:
    """Score projects found without a current readiness."""
    return refresh(
        session, ids, {project_id: [Cause("readiness", "first score")] for project_id in ids}, skip_locked=True
    )
