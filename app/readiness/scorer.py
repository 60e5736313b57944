"""Scoring in memory: each project's governing rubric run over its data, or, where only weights
changed, its stored criteria weighed again. Nothing here writes."""

import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import pydantic_core
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.among import among
from app.core.changes import Cause
from app.engine import scoring
from app.engine.checks import Deadline
from app.engine.stages import Stage
from app.projects.models import Project
from app.readiness import inputs
from app.readiness.document import criteria_document, result_etag, serialized, summary_document, text_etag
from app.readiness.models import ProjectReadiness
from app.rubrics import service as rubrics

STATUSES = {status.value: status for status in scoring.Status}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredResult:
    """The columns of a stored result that re-scoring compares a new one with."""

    project_id: uuid.UUID
    rubric_key: str
    rubric_version: int
    score: float
    level: str
    gate_passed: bool
    blockers: list[list[str]]
    etag: str
    changes_at: datetime | None
    deadlines: list[list[str]]
    computed_at: datetime
    # None in rows stored before statuses were kept.
    statuses: dict[str, str] | None


@dataclass(frozen=True)
class Criteria:
    """A result's criteria: their JSON text, its ETag, and each one's status by key."""

    text: str
    etag: str
    statuses: dict[str, str]


@dataclass(frozen=True)
class Scored:
    project_id: uuid.UUID
    rubric: scoring.Rubric
    result: scoring.Weighing
    summary: str
    # None when the stored criteria stand as they are and the result was only weighed again.
    criteria: Criteria | None
    etag: str
    blockers: list[list[str]]
    # Each criterion's status by key: the stored ones where the result was only weighed again.
    statuses: dict[str, str]


@dataclass(frozen=True)
class Judged:
    """What a stored result's criteria decided, still true of the project's data now."""

    statuses: dict[str, scoring.Status]
    blockers: tuple[scoring.Blocker, ...]
    criteria_etag: str
    deadlines: tuple[Deadline, ...]


def score(
    session: Session, projects: Collection[Project], now: datetime, judged: Mapping[uuid.UUID, Judged] | None = None
) -> dict[uuid.UUID, Scored]:
    """Each project scored against its governing rubric's latest version, as its data is now. A
    project in `judged` keeps its stored criteria and is only weighed again."""
    judged = judged or {}
    loaded = inputs.load(session, [project for project in projects if project.id not in judged], now)
    governing: dict[str, scoring.Rubric] = {}
    scored = {}
    for project in projects:
        rubric = governing.get(project.rubric)
        if rubric is None:
            rubric = governing[project.rubric] = rubrics.latest_engine_rubric(session, project.rubric)
        kept = judged.get(project.id)
        result: scoring.Weighing
        try:
            if kept is not None:
                result = scoring.weigh(rubric, Stage(project.stage), kept.statuses, kept.blockers, kept.deadlines)
                criteria, criteria_etag = None, kept.criteria_etag
                statuses = {key: status.value for key, status in kept.statuses.items()}
            else:
                given = loaded[project.id]
                result = scoring.evaluate(rubric, given.snapshot, given.attestations, given.exemptions, now)
                criteria_text = serialized(criteria_document(result.criteria))
                criteria = Criteria(
                    criteria_text, text_etag(criteria_text), {c.key: c.status.value for c in result.criteria}
                )
                criteria_etag, statuses = criteria.etag, criteria.statuses
        except Exception:
            # One project's data must not hold up everyone else's re-scoring: it stays marked,
            # and a read of it fails loudly.
            log.exception("scoring project %s failed", project.key)
            continue
        summary = serialized(summary_document(rubric, result))
        scored[project.id] = Scored(
            project.id,
            rubric,
            result,
            summary,
            criteria,
            result_etag(summary, criteria_etag),
            sorted([b.criterion, b.status.value] for b in result.blockers),
            statuses,
        )
    return scored


def still_judged(
    session: Session,
    projects: Collection[Project],
    stored: Mapping[uuid.UUID, StoredResult],
    why: Mapping[uuid.UUID, Mapping[Cause, None]],
    now: datetime,
) -> dict[uuid.UUID, Judged]:
    """What the stored criteria decided, where a new version of the governing rubric leaves it as
    it is: for projects marked for nothing but that version, whose result has not reached a
    deadline, and whose rubric changed only in weights or aggregation. Weighing them again takes
    neither the projects' data nor the checks, which are most of the work of re-scoring a whole
    portfolio, nor the criteria's text."""
    weighed_only: dict[tuple[str, int], bool] = {}
    candidates = []
    for project in projects:
        row = stored.get(project.id)
        causes = why.get(project.id)
        if (
            row is None
            or not causes
            or any(cause.kind != "rubric" for cause in causes)
            or row.rubric_key != project.rubric
            or (row.changes_at is not None and row.changes_at <= now)
        ):
            continue
        version = (row.rubric_key, row.rubric_version)
        if version not in weighed_only:
            before = rubrics.engine_rubric(session, *version)
            weighed_only[version] = scoring.same_statuses(before, rubrics.latest_engine_rubric(session, project.rubric))
        if weighed_only[version]:
            candidates.append(project.id)
    if not candidates:
        return {}
    kept = session.execute(
        select(
            ProjectReadiness.project_id,
            ProjectReadiness.summary,
            ProjectReadiness.statuses,
            ProjectReadiness.criteria_etag,
            ProjectReadiness.etag,
        ).where(among(session.connection(), ProjectReadiness.project_id, candidates))
    )
    judged = {}
    for kept_row in kept:
        if not _tagged_by_its_parts(kept_row.summary, kept_row.criteria_etag, kept_row.statuses, kept_row.etag):
            continue
        judged[kept_row.project_id] = Judged(
            {key: STATUSES[status] for key, status in kept_row.statuses.items()},
            tuple(
                scoring.Blocker(b["criterion"], b["title"], STATUSES[b["status"]], b["reason"])
                for b in pydantic_core.from_json(kept_row.summary)["gate"]["blockers"]
            ),
            kept_row.criteria_etag,
            tuple(Deadline(datetime.fromisoformat(at), cause) for at, cause in stored[kept_row.project_id].deadlines),
        )
    return judged


def _tagged_by_its_parts(
    summary: str | None, criteria_etag: str | None, statuses: dict[str, str] | None, etag: str
) -> bool:
    """Whether the row's summary, criteria ETag and statuses are those of its result: not so in a
    row stored before they were kept, or written last by the previous release during an upgrade
    (it leaves them as they were), whose ETag is then its own."""
    return (
        summary is not None
        and criteria_etag is not None
        and statuses is not None
        and etag == result_etag(summary, criteria_etag)
    )
