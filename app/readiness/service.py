"""Current readiness: every project scored against its governing rubric as its data is now, kept
current by the service, with the history of every change and what caused it.

Writes reach here through the write epilogue (`app.core.changes`): a write marks the projects it
changed, in its own transaction, and the re-scorer (`rescorer.py`) catches up in the background,
set-based, coalescing the marks that piled up meanwhile. A read of one project never waits for it:
a marked or expired project is re-scored by the read, so every read after an acknowledged write
reflects it.
"""

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

import pydantic_core
from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.among import among, among_parameter
from app.core.changes import Cause, Change
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.pagination import keyset_page
from app.engine import scoring
from app.engine.checks import Deadline
from app.engine.stages import Stage
from app.engine.stall import Diagnosis
from app.events import outbox
from app.events import schemas as events
from app.portfolio.models import ProjectStatus
from app.portfolio.service import diagnose_many
from app.projects.models import Project
from app.readiness import inputs
from app.readiness.models import ProjectReadiness, ReadinessHistory, ReadinessMark
from app.rubrics import service as rubrics
from app.rubrics.models import Rubric

READINESS_TABLE: Table = ProjectReadiness.__table__  # type: ignore[assignment]
MARK_TABLE: Table = ReadinessMark.__table__  # type: ignore[assignment]
STATUS_TABLE: Table = ProjectStatus.__table__  # type: ignore[assignment]
HISTORY_TABLE: Table = ReadinessHistory.__table__  # type: ignore[assignment]
RESCORE_WANTED = "rescore_wanted"
log = logging.getLogger(__name__)


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _attestation_document(answer: scoring.Answer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "status": answer.status,
        "evidence_url": answer.evidence_url,
        "note": answer.note,
        "attested_by": answer.attested_by,
        "attested_at": _timestamp(answer.attested_at),
        "expires_at": _timestamp(answer.expires_at),
    }


def document(rubric: scoring.Rubric, result: scoring.Evaluation) -> dict[str, Any]:
    """A result as the API shows it and as it is stored: plain JSON, the same bytes for the same
    result whenever it is computed (reasons carry dates, not ages). The criteria come last, so that
    a result weighed again keeps their stored text (`CRITERIA`)."""
    return {**_summary_document(rubric, result), "criteria": _criteria_document(result.criteria)}


def _summary_document(rubric: scoring.Rubric, result: scoring.Weighing) -> dict[str, Any]:
    """What weighing the criteria's results decides: scores, level, gate, recommendation."""
    return {
        "rubric": rubric.key,
        "rubric_version": rubric.version,
        "score": result.score,
        "level": result.level.value,
        "weakest_section": result.weakest_section,
        "gate": {
            "passed": result.gate_passed,
            "blockers": [
                {"criterion": b.criterion, "title": b.title, "status": b.status.value, "reason": b.reason}
                for b in result.blockers
            ],
        },
        "recommendation": result.recommendation,
        "sections": [{"key": s.key, "title": s.title, "score": s.score} for s in result.sections],
    }


def _criteria_document(criteria: tuple[scoring.CriterionResult, ...]) -> list[dict[str, Any]]:
    return [
        {
            "key": c.key,
            "section": c.section,
            "title": c.title,
            "gate": c.gate,
            "status": c.status.value,
            "source": c.source.value,
            "reason": c.reason,
            "observed": c.observed,
            "evidence_url": c.evidence_url,
            "attestation": _attestation_document(c.attestation),
        }
        for c in criteria
    ]


# Where the criteria start in a result's text: compact JSON escapes every quote inside a string,
# so this can only be the document's own last key.
CRITERIA = ',"criteria":'


def _joined(summary: str, criteria: str) -> str:
    """The text of `document` from the texts of its two parts: the same bytes."""
    return f"{summary[:-1]}{CRITERIA}{criteria}}}"


def serialized(result: Mapping[str, Any] | list[Any]) -> str:
    """Compact JSON, keys in the order the document was built: the same text for the same result."""
    return pydantic_core.to_json(result).decode()


def text_etag(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def result_etag(summary: str, criteria_etag: str) -> str:
    """A result's ETag, from its summary and its criteria's ETag: a result weighed again is tagged
    without reading its criteria."""
    return text_etag(f"{criteria_etag}:{summary}")


def _significant(score: float, level: str, gate_passed: bool, blockers: list[list[str]]) -> tuple[Any, ...]:
    """What the history records a change of: score, level, gate, and blockers as a set."""
    return score, level, gate_passed, sorted(tuple(b) for b in blockers)


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
            else:
                given = loaded[project.id]
                result = scoring.evaluate(rubric, given.snapshot, given.attestations, given.exemptions, now)
                criteria_text = serialized(_criteria_document(result.criteria))
                criteria = Criteria(
                    criteria_text, text_etag(criteria_text), {c.key: c.status.value for c in result.criteria}
                )
                criteria_etag = criteria.etag
        except Exception:
            # One project's data must not hold up everyone else's re-scoring: it stays marked,
            # and a read of it fails loudly.
            log.exception("scoring project %s failed", project.key)
            continue
        summary = serialized(_summary_document(rubric, result))
        scored[project.id] = Scored(
            project.id,
            rubric,
            result,
            summary,
            criteria,
            result_etag(summary, criteria_etag),
            sorted([b.criterion, b.status.value] for b in result.blockers),
        )
    return scored


def _lock(session: Session, ids: Collection[uuid.UUID], *, skip_locked: bool, most: int | None = None) -> list[Project]:
    """The projects, their rows locked until commit (PostgreSQL), so that two transactions scoring
    one project take turns and the later one sees the earlier one's writes. SQLite writers already
    take turns. With `skip_locked`, projects another transaction holds are left for later; with
    `most`, no more than that many are taken."""
    # Loaded again even if this session holds them: what counts is what is committed once locked.
    query = (
        select(Project)
        .where(among(session.connection(), Project.id, ids))
        .order_by(Project.id)
        .limit(most)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # FOR NO KEY UPDATE: writers inserting rows that refer to the project (marks, facts) take
        # a key-share lock on it, which this one must not wait for, or deadlock with.
        query = query.with_for_update(skip_locked=skip_locked, key_share=True)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Rescore:
    """Projects scored as their data was read, and what their results replace: stored by `_apply`
    in the transaction that read them, or, on SQLite, in a short write transaction after it."""

    projects: dict[uuid.UUID, Project]
    marks: list[Any]
    stored: dict[uuid.UUID, Any]
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
    marks = list(
        session.execute(
            select(ReadinessMark.id, ReadinessMark.project_id, ReadinessMark.kind, ReadinessMark.name).where(
                among(session.connection(), ReadinessMark.project_id, ids)
            )
        )
    )
    for mark in marks:
        why[mark.project_id][Cause(mark.kind, mark.name)] = None
    stored = {
        row.project_id: row
        for row in session.execute(
            select(
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
            ).where(among(session.connection(), ProjectReadiness.project_id, ids))
        )
    }
    for project_id, row in stored.items():
        for at, cause in row.deadlines:
            if datetime.fromisoformat(at) <= now:
                why[project_id][Cause("time", cause)] = None
    fresh = score(session, projects, now, _still_judged(session, projects, stored, why, now))
    return Rescore({project.id: project for project in projects}, marks, stored, why, fresh, now)


def _still_judged(
    session: Session,
    projects: Collection[Project],
    stored: Mapping[uuid.UUID, Any],
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
    return {
        row.project_id: Judged(
            {key: STATUSES[status] for key, status in row.statuses.items()},
            tuple(
                scoring.Blocker(b["criterion"], b["title"], STATUSES[b["status"]], b["reason"])
                for b in pydantic_core.from_json(row.summary)["gate"]["blockers"]
            ),
            row.criteria_etag,
            tuple(Deadline(datetime.fromisoformat(at), cause) for at, cause in stored[row.project_id].deadlines),
        )
        for row in kept
        if _tagged_by_its_parts(row)
    }


def _tagged_by_its_parts(row: Any) -> bool:
    """Whether the row's summary, criteria ETag and statuses are those of its result: not so in a
    row stored before they were kept, or written last by the previous release during an upgrade
    (it leaves them as they were), whose ETag is then its own."""
    return (
        row.summary is not None
        and row.criteria_etag is not None
        and row.statuses is not None
        and row.etag == result_etag(row.summary, row.criteria_etag)
    )


STATUSES = {status.value: status for status in scoring.Status}


def _apply(session: Session, rescore: Rescore) -> int:
    _store(session, rescore.fresh, rescore.stored, rescore.why, rescore.now)
    _tell(session, rescore.projects, rescore.fresh, rescore.stored, rescore.why)
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
    projects = _lock(session, set(project_ids), skip_locked=skip_locked, most=most)
    if not projects:
        return 0
    return _apply(session, _rescore(session, projects, causes))


def _store(
    session: Session,
    fresh: Mapping[uuid.UUID, Scored],
    stored: Mapping[uuid.UUID, Any],
    why: Mapping[uuid.UUID, Mapping[Cause, None]],
    now: datetime,
) -> None:
    rows, reweighed, history, status = [], [], [], []
    for project_id, scored in fresh.items():
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
            "computed_at": now,
        }
        before = stored.get(project_id)
        significant = _significant(result.score, result.level.value, result.gate_passed, scored.blockers)
        if scored.criteria is not None:
            criteria = scored.criteria
            if (
                before is None
                or before.etag != scored.etag
                or before.changes_at != result.changes_at
                or before.deadlines != deadlines
            ):
                rows.append(
                    {
                        "project_id": project_id,
                        **weighed,
                        "result": _joined(scored.summary, criteria.text),
                        "criteria_etag": criteria.etag,
                        "statuses": criteria.statuses,
                    }
                )
        else:
            reweighed.append(
                {
                    "v_project_id": project_id,
                    "v_opening": scored.summary[:-1],
                    **{f"v_{name}": value for name, value in weighed.items()},
                }
            )
        previous = (
            _significant(before.score, before.level, before.gate_passed, before.blockers)
            if before is not None
            else None
        )
        status.append((project_id, result.score, result.level.value, result.gate_passed))
        if previous != significant:
            history.append(
                {
                    "project_id": project_id,
                    "changed_at": now,
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
                    "cause": [{"kind": c.kind, "name": c.name} for c in why.get(project_id, {})],
                }
            )
    connection = session.connection()
    if rows:
        connection.execute(_upsert(connection.dialect.name), rows)
    if reweighed:
        # The columns weighing decides, as every row of the loop above names them.
        connection.execute(_reweighed(connection.dialect.name, tuple(weighed)), reweighed)
    if history:
        connection.execute(insert(HISTORY_TABLE), history)
    if status:
        _store_status_scores(connection, status)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, ProjectReadiness | ProjectStatus) and instance.project_id in fresh:
            session.expire(instance)


def _upsert(dialect: str) -> Insert:
    """One statement for new and changed results: executed with many rows, it is sent as multi-row
    `INSERT`s, where an `UPDATE` per row would be a statement per project."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(READINESS_TABLE)
    kept = {column.name: statement.excluded[column.name] for column in READINESS_TABLE.c if not column.primary_key}
    return statement.on_conflict_do_update(index_elements=[READINESS_TABLE.c.project_id], set_=kept)


@cache
def _reweighed(dialect: str, weighed: tuple[str, ...]) -> Update:
    """A result weighed again: the `weighed` columns, and in its text the criteria kept as stored,
    spliced in by the database behind the new summary, so that they are neither read nor sent back."""
    result = READINESS_TABLE.c.result
    criteria = func.strpos(result, CRITERIA) if dialect == "postgresql" else func.instr(result, CRITERIA)
    return (
        update(READINESS_TABLE)
        .where(READINESS_TABLE.c.project_id == bindparam("v_project_id"))
        .values(
            {
                **{name: bindparam(f"v_{name}", type_=READINESS_TABLE.c[name].type) for name in weighed},
                "result": bindparam("v_opening", type_=Text()) + func.substr(result, criteria),
            }
        )
    )


# The scores the portfolio sorts and filters on, from four arrays: one statement, compiled once,
# whatever the number of projects.
STATUS_SCORES = text(
    f"UPDATE {STATUS_TABLE.name} SET rank_score = fresh.score, score = fresh.score, level = fresh.level, "
    "gate_passed = fresh.gate_passed "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:scores AS float8[]), CAST(:levels AS varchar[]), "
    "CAST(:gates AS boolean[])) AS fresh (project_id, score, level, gate_passed) "
    f"WHERE {STATUS_TABLE.name}.project_id = fresh.project_id"
)


def _store_status_scores(connection: Connection, status: list[tuple[uuid.UUID, float, str, bool]]) -> None:
    """The scores on the projects' status rows: one `UPDATE` over arrays on PostgreSQL; on SQLite,
    which has no round trips to save, one prepared `UPDATE` run for every row."""
    if connection.dialect.name == "postgresql":
        ids, scores, levels, gates = zip(*status, strict=True)
        connection.execute(
            STATUS_SCORES, {"ids": list(ids), "scores": list(scores), "levels": list(levels), "gates": list(gates)}
        )
        return
    connection.execute(
        update(STATUS_TABLE)
        .where(STATUS_TABLE.c.project_id == bindparam("v_project_id"))
        .values(
            rank_score=bindparam("v_score"),
            score=bindparam("v_score"),
            level=bindparam("v_level"),
            gate_passed=bindparam("v_gate_passed"),
        ),
        [
            {"v_project_id": project_id, "v_score": score, "v_level": level, "v_gate_passed": gate_passed}
            for project_id, score, level, gate_passed in status
        ],
    )


def _state(score: float, level: str, gate_passed: bool, blockers: list[list[str]]) -> events.ReadinessState:
    return events.ReadinessState(
        score=score, level=level, gate_passed=gate_passed, blockers=[criterion for criterion, _ in blockers]
    )


def _tell(
    session: Session,
    projects: Mapping[uuid.UUID, Project],
    fresh: Mapping[uuid.UUID, Scored],
    stored: Mapping[uuid.UUID, Any],
    why: Mapping[uuid.UUID, Mapping[Cause, None]],
) -> None:
    """A `readiness.changed` event for each project whose history gained a row."""
    for project_id, scored in fresh.items():
        result, before = scored.result, stored.get(project_id)
        now_significant = (result.score, result.level.value, result.gate_passed, scored.blockers)
        if before is not None and _significant(
            before.score, before.level, before.gate_passed, before.blockers
        ) == _significant(*now_significant):
            continue
        after = _state(*now_significant)
        previous = None if before is None else _state(before.score, before.level, before.gate_passed, before.blockers)
        cause = [{"kind": c.kind, "name": c.name} for c in why.get(project_id, {})]
        project = projects[project_id]
        data = events.ReadinessChanged(
            project=project.key,
            rubric=scored.rubric.key,
            rubric_version=scored.rubric.version,
            before=previous,
            after=after,
            cause=[events.Cause(**item) for item in cause],
            summary=cause_summary(cause),
        )
        outbox.emit(
            session, "readiness.changed", project.key, data, project_id=project_id, department=project.department
        )


MARKED_IDS = "marked_project_ids"


@cache
def _existing(dialect: str) -> Select[uuid.UUID]:
    """Which of the projects given as `MARKED_IDS` exist: built once, as every write runs it."""
    return select(Project.id).where(among_parameter(dialect, Project.id, MARKED_IDS))


def mark(session: Session, causes: Mapping[uuid.UUID, Iterable[Cause]]) -> None:
    """Leave these projects to the re-scorer, which wakes once the transaction commits."""
    if not causes:
        return
    now = utcnow()
    # A project deleted in the same transaction has nothing left to score.
    existing = set(session.scalars(_existing(session.get_bind().dialect.name), {MARKED_IDS: list(causes)}))
    rows = [
        {"project_id": project_id, "kind": cause.kind, "name": cause.name[:200], "marked_at": now}
        for project_id, given in causes.items()
        if project_id in existing
        for cause in given
    ]
    if rows:
        session.connection().execute(insert(MARK_TABLE), rows)
        session.info[RESCORE_WANTED] = True


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
    if session.get_bind().dialect.name == "postgresql":
        # The marks table is nearly always empty and its statistics say so. With a portfolio
        # marked, the re-scorer's look-up of a batch's marks would then scan it and compare every
        # row with each of the batch's ids: over a second a batch at 100,000 marks, once psycopg
        # prepares the statement and PostgreSQL settles on a generic plan. Statistics taken in
        # this transaction count its own rows, and commit with them.
        session.execute(text(f"ANALYZE {MARK_TABLE.name}"))
    session.info[RESCORE_WANTED] = True


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


# Reads.


@dataclass(frozen=True)
class CurrentReadiness:
    project_id: uuid.UUID
    project: str
    stage: str
    result: dict[str, Any]
    etag: str
    computed_at: datetime
    changes_at: datetime | None


def _shown(project: Project, row: ProjectReadiness) -> CurrentReadiness:
    return CurrentReadiness(
        project.id, project.key, project.stage, json.loads(row.result), row.etag, row.computed_at, row.changes_at
    )


def _stored_row(session: Session, project: Project) -> ProjectReadiness | None:
    return session.scalar(
        select(ProjectReadiness)
        .where(ProjectReadiness.project_id == project.id)
        .execution_options(populate_existing=True)
    )


def stored_current(session: Session, *, key: str) -> CurrentReadiness | None:
    """The stored current readiness, or None when it is out of date: marked, past a deadline, or
    not against the governing rubric's latest version."""
    project = _project(session, key)
    # Marks first, then the row: PostgreSQL reads run statement by statement, and the re-scorer
    # stores a row and deletes its marks in one transaction, so an unmarked project's row read
    # afterwards is at least as new as any acknowledged write.
    marked, latest_version = session.execute(
        select(exists().where(ReadinessMark.project_id == project.id), Rubric.latest_version).where(
            Rubric.key == project.rubric
        )
    ).one()
    row = _stored_row(session, project)
    if marked or row is None or (row.rubric_key, row.rubric_version) != (project.rubric, latest_version):
        return None
    if row.changes_at is not None and row.changes_at <= utcnow():
        return None
    return _shown(project, row)


def current(session: Session, *, key: str) -> CurrentReadiness:
    """The current readiness, re-scored first if it is out of date (in a write transaction)."""
    found = stored_current(session, key=key)
    if found is not None:
        return found
    project = _project(session, key)
    if not refresh(session, [project.id]):
        raise RuntimeError(f"project {key!r} could not be scored")
    row = _stored_row(session, project)
    assert row is not None, "a project just scored has a stored result"
    return _shown(project, row)


def _project(session: Session, key: str) -> Project:
    project = session.scalar(scope.restrict(select(Project).where(Project.key == key), Project.department))
    if project is None:
        raise NotFound(f"No project with key {key!r}.")
    return project


@dataclass(frozen=True)
class HistoryEntry:
    changed_at: datetime
    rubric: str
    rubric_version: int
    score: float
    level: str
    gate_passed: bool
    blockers: list[dict[str, str]]
    previous: dict[str, Any] | None
    cause: list[dict[str, str]]


def history(
    session: Session, *, key: str, limit: int, cursor: str | None, refresh_stale: bool
) -> tuple[list[HistoryEntry], str | None] | None:
    """Newest first; None when the current readiness is out of date and not `refresh_stale` (its
    re-score may add an entry)."""
    if (current(session, key=key) if refresh_stale else stored_current(session, key=key)) is None:
        return None
    project = _project(session, key)
    query = select(ReadinessHistory).where(ReadinessHistory.project_id == project.id)
    rows, next_cursor = keyset_page(
        session, query, [ReadinessHistory.changed_at, ReadinessHistory.id], limit=limit, cursor=cursor, descending=True
    )

    def blockers(pairs: list[list[str]]) -> list[dict[str, str]]:
        return [{"criterion": criterion, "status": status} for criterion, status in pairs]

    return [
        HistoryEntry(
            changed_at=row.changed_at,
            rubric=row.rubric_key,
            rubric_version=row.rubric_version,
            score=row.score,
            level=row.level,
            gate_passed=row.gate_passed,
            blockers=blockers(row.blockers),
            previous=None if row.previous is None else {**row.previous, "blockers": blockers(row.previous["blockers"])},
            cause=row.cause,
        )
        for row in rows
    ], next_cursor


@dataclass(frozen=True)
class RescoringProgress:
    rubric: str
    latest_version: int
    governed: int
    current: int

    @property
    def pending(self) -> int:
        return self.governed - self.current


def rescoring_progress(session: Session, *, rubric_key: str) -> RescoringProgress:
    """How far re-scoring the projects a rubric governs against its latest version has come."""
    rubric, _ = rubrics.get_version(session, key=rubric_key)
    governed_query = select(func.count()).select_from(Project).where(Project.rubric == rubric_key)
    governed = session.scalar(scope.restrict(governed_query, Project.department)) or 0
    current_query = (
        select(func.count())
        .select_from(ProjectReadiness)
        .join(Project, Project.id == ProjectReadiness.project_id)
        .where(
            Project.rubric == rubric_key,
            ProjectReadiness.rubric_key == rubric_key,
            ProjectReadiness.rubric_version == rubric.latest_version,
            ~exists().where(ReadinessMark.project_id == Project.id),
        )
    )
    current = session.scalar(scope.restrict(current_query, Project.department)) or 0
    return RescoringProgress(rubric_key, rubric.latest_version, governed, current)


# The re-scorer's unit of work.


BEHIND = (ProjectReadiness.rubric_key != Project.rubric) | (ProjectReadiness.rubric_version != Rubric.latest_version)


def _due(session: Session, limit: int, *, sweep: bool) -> list[uuid.UUID]:
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
    return bool(_due(session, 1, sweep=sweep))


def _due_causes(session: Session, limit: int, *, sweep: bool) -> dict[uuid.UUID, list[Cause]]:
    """The projects due, each with the causes its marks do not tell."""
    return _behind(session, _due(session, limit, sweep=sweep))


def _behind(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Cause]]:
    """Each project with the cause its marks do not tell: the rubric version it is behind, if any."""
    causes: dict[uuid.UUID, list[Cause]] = dict.fromkeys(ids, [])
    if ids:
        behind = session.execute(
            select(ProjectReadiness.project_id, Project.rubric, Rubric.latest_version)
            .join(Project, Project.id == ProjectReadiness.project_id)
            .join(Rubric, Rubric.key == Project.rubric)
            .where(among(session.connection(), ProjectReadiness.project_id, ids), BEHIND)
        )
        causes.update({row.project_id: [Cause("rubric", f"{row.rubric} v{row.latest_version}")] for row in behind})
    return causes


def rescore_due(session: Session, *, limit: int, sweep: bool = False) -> int:
    """Re-score up to `limit` projects that are due, in this transaction; returns how many."""
    # Twice as many candidates as taken: batches of other replicas running at once lock their
    # projects, and each batch takes the first it finds free.
    projects = _lock(session, _due(session, limit * 2, sweep=sweep), skip_locked=True, most=limit)
    if not projects:
        return 0
    return _apply(session, _rescore(session, projects, _behind(session, [project.id for project in projects])))


def score_due(session: Session, *, limit: int, sweep: bool = False) -> Rescore | None:
    """Score up to `limit` projects that are due, in a read transaction: what `store_scored` then
    stores, in a write transaction that holds SQLite's single writer lock for the writes alone."""
    causes = _due_causes(session, limit, sweep=sweep)
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
    marks: dict[uuid.UUID, set[int]] = defaultdict(set)
    for mark_id, project_id in session.execute(
        select(ReadinessMark.id, ReadinessMark.project_id).where(
            among(session.connection(), ReadinessMark.project_id, ids)
        )
    ):
        marks[project_id].add(mark_id)
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
        return marks[project_id] <= read[project_id] and computed.get(project_id) == (
            before.computed_at if before is not None else None
        )

    kept = {project_id: scored for project_id, scored in rescore.fresh.items() if unchanged(project_id)}
    if not kept:
        return 0
    return _apply(session, replace(rescore, fresh=kept))


def without_readiness(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Projects with no current readiness at all (after a restore, say): a scan of every project."""
    query = (
        select(Project.id)
        .outerjoin(ProjectReadiness, ProjectReadiness.project_id == Project.id)
        .where(ProjectReadiness.project_id.is_(None))
        .limit(limit)
    )
    return list(session.scalars(query))


def score_first(session: Session, ids: Collection[uuid.UUID]) -> int:
    """Score projects found without a current readiness."""
    return refresh(
        session, ids, {project_id: [Cause("readiness", "first score")] for project_id in ids}, skip_locked=True
    )


@dataclass(frozen=True)
class ReadinessView:
    """What `GET /projects/{key}/readiness` shows: the current result and the stall diagnosis."""

    current: CurrentReadiness
    stall: Diagnosis
    etag: str


def view(session: Session, *, key: str, limits: Mapping[Stage, int], refresh_stale: bool) -> ReadinessView | None:
    """The project's readiness view; None when the stored result is out of date and
    `refresh_stale` is false (a read transaction cannot re-score it)."""
    found = current(session, key=key) if refresh_stale else stored_current(session, key=key)
    if found is None:
        return None
    # Already in the session: `get` answers from its identity map, without another query.
    project = session.get(Project, found.project_id)
    assert project is not None
    diagnosis = diagnose_many(session, [project], utcnow(), limits)[project.id]
    stall_shown = json.dumps(asdict(diagnosis), sort_keys=True, default=str)
    tag = hashlib.sha1(f"{found.etag}:{stall_shown}".encode()).hexdigest()[:32]
    return ReadinessView(found, diagnosis, f'"{tag}"')


def badge(session: Session, *, key: str, refresh_stale: bool) -> CurrentReadiness | None:
    """The current readiness behind a badge; None when out of date and not `refresh_stale`."""
    return current(session, key=key) if refresh_stale else stored_current(session, key=key)


def cause_summary(cause: list[dict[str, str]]) -> str:
    """`fact ops.rollback_tested_at, measurement batch`; the passing of time reads `time: ...`."""
    return ", ".join(
        f"time: {item['name']}" if item["kind"] == "time" else f"{item['kind']} {item['name']}" for item in cause
    )
