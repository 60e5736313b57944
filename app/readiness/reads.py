"""Reading current readiness: the stored result of one project, its stall diagnosis and history,
and how far re-scoring a rubric's projects has come.

One prebuilt Core statement finds the project, its stored result and whether that result is still
current (on PostgreSQL, where reads run statement by statement, the marks and the row come from
one snapshot). A stale result (marked, past its deadline, behind the rubric) is re-scored first
when the read runs in a write transaction; in a read transaction it is None, and the caller asks
again in a write.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any, cast

import pydantic_core
from sqlalchemy import Connection, Row, bindparam, exists, func, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.pagination import keyset_page
from app.engine import stall
from app.engine.stages import Stage
from app.kpis.models import Kpi
from app.projects.models import Project
from app.readiness import inputs, service
from app.readiness.document import ResultDocument
from app.readiness.models import Evaluation, ProjectReadiness, ReadinessHistory, ReadinessMark
from app.rubrics import service as rubrics
from app.rubrics.models import Rubric

_LAST_EVALUATED = (
    select(func.max(Evaluation.evaluated_at))
    .where(Evaluation.project_id == Project.id, Evaluation.rubric_key == Project.rubric)
    .correlate(Project)
    .scalar_subquery()
)
_CURRENT = (
    select(
        Project.id,
        Project.key,
        Project.department,
        Project.rubric,
        Project.stage,
        Project.stage_entered_at,
        Project.workflow,
        Project.business_owner_name,
        Project.technical_owner_name,
        Project.vendor_led,
        Project.stakeholders,
        Project.deployment_target,
        Project.deployment_same_runtime,
        Project.platform,
        Project.replica_of,
        Project.adjacent_to,
        ProjectReadiness.result,
        ProjectReadiness.etag,
        ProjectReadiness.computed_at,
        ProjectReadiness.changes_at,
        ProjectReadiness.rubric_key,
        ProjectReadiness.rubric_version,
        Rubric.latest_version,
        exists().where(ReadinessMark.project_id == Project.id).label("marked"),
        _LAST_EVALUATED.label("last_evaluated_at"),
    )
    .outerjoin(ProjectReadiness, ProjectReadiness.project_id == Project.id)
    .join(Rubric, Rubric.key == Project.rubric)
    .where(Project.key == bindparam("key"))
)
CurrentRow = Row[*tuple[Any, ...]]
_KPIS = select(Kpi.category, Kpi.latest_measured_at).where(Kpi.project_id == bindparam("project_id"))


@dataclass(frozen=True)
class CurrentReadiness:
    project_id: uuid.UUID
    project: str
    stage: str
    text: str
    etag: str
    computed_at: datetime
    changes_at: datetime | None

    @cached_property
    def result(self) -> ResultDocument:
        """The stored result, parsed: only where it is read, not where it is sent as stored."""
        return cast(ResultDocument, json.loads(self.text))


@dataclass(frozen=True)
class ReadinessView:
    """What `GET /projects/{key}/readiness` shows: the current result and the stall diagnosis, and
    its ETag: the stored result's, combined with the diagnosis, which time alone changes."""

    current: CurrentReadiness
    stall: stall.Diagnosis
    etag: str


def stall_document(diagnosis: stall.Diagnosis) -> dict[str, object]:
    """`asdict(diagnosis)`, without the deep copy that made it a tenth of the readiness read's time."""
    return {
        "risk": diagnosis.risk,
        "signals": tuple(
            {field.name: getattr(signal, field.name) for field in fields(signal)} for signal in diagnosis.signals
        ),
    }


def body_of(view: ReadinessView) -> bytes:
    """`GET /projects/{key}/readiness` as sent: the stored result's bytes as they are, with what the
    read adds (the project, its stage, the result's times and the stall diagnosis) appended, instead
    of the stored document parsed, validated and serialised again on every read."""
    current = view.current
    added = pydantic_core.to_json(
        {
            "project": current.project,
            "stage": current.stage,
            "computed_at": current.computed_at,
            "changes_at": current.changes_at,
            "stall": stall_document(view.stall),
        }
    )
    return b"%s,%s" % (current.text[:-1].encode(), added[1:])


def _view_etag(result_etag: str, diagnosis: stall.Diagnosis) -> str:
    shown = json.dumps(stall_document(diagnosis), sort_keys=True, default=str)
    return '"{}"'.format(hashlib.sha1(f"{result_etag}:{shown}".encode()).hexdigest()[:32])


def _row(connection: Connection, key: str) -> CurrentRow:
    row = connection.execute(_CURRENT, {"key": key}).first()
    if row is None or not scope.can_see(row.department):
        raise NotFound(f"No project with key {key!r}.")
    return row


def _is_current(row: CurrentRow, now: datetime) -> bool:
    if row.marked or row.result is None:
        return False
    if (row.rubric_key, row.rubric_version) != (row.rubric, row.latest_version):
        return False
    return row.changes_at is None or row.changes_at > now


def _current_of(row: CurrentRow) -> CurrentReadiness:
    return CurrentReadiness(row.id, row.key, row.stage, row.result, row.etag, row.computed_at, row.changes_at)


def _view_of(connection: Connection, row: CurrentRow, now: datetime, limits: Mapping[Stage, int]) -> ReadinessView:
    kpis = connection.execute(_KPIS, {"project_id": row.id}).all()
    around = inputs.surroundings(connection, [row])[row.id]
    diagnosis = stall.diagnose(inputs.stall_profile(row, kpis, row.last_evaluated_at, around), now, dict(limits))
    return ReadinessView(_current_of(row), diagnosis, _view_etag(row.etag, diagnosis))


def current_view(connection: Connection, *, key: str, limits: Mapping[Stage, int]) -> ReadinessView | None:
    """The project's readiness view on a bare connection; None when the stored result is out of
    date (re-scoring it needs a write): the hot read, without a session."""
    row = _row(connection, key)
    now = utcnow()
    return _view_of(connection, row, now, limits) if _is_current(row, now) else None


def _current_row(session: Session, key: str, *, refresh_stale: bool) -> CurrentRow | None:
    """The project's row with a current result, re-scored first if `refresh_stale` (in a write
    transaction); None when it is out of date and not `refresh_stale`."""
    row = _row(session.connection(), key)
    if _is_current(row, utcnow()):
        return row
    if not refresh_stale:
        return None
    if not service.refresh(session, [row.id]):
        raise RuntimeError(f"project {key!r} could not be scored")
    return _row(session.connection(), key)


def view(session: Session, *, key: str, limits: Mapping[Stage, int], refresh_stale: bool) -> ReadinessView | None:
    """The project's readiness view; None when the stored result is out of date and
    `refresh_stale` is false (a read transaction cannot re-score it)."""
    row = _current_row(session, key, refresh_stale=refresh_stale)
    return None if row is None else _view_of(session.connection(), row, utcnow(), limits)


def stored_current(session: Session, *, key: str) -> CurrentReadiness | None:
    """The stored current readiness, or None when it is out of date: marked, past a deadline, or
    not against the governing rubric's latest version."""
    row = _current_row(session, key, refresh_stale=False)
    return None if row is None else _current_of(row)


def current(session: Session, *, key: str) -> CurrentReadiness:
    """The current readiness, re-scored first if it is out of date (in a write transaction)."""
    row = _current_row(session, key, refresh_stale=True)
    assert row is not None, "a project just scored has a current result"
    return _current_of(row)


def badge(session: Session, *, key: str, refresh_stale: bool) -> CurrentReadiness | None:
    """The current readiness behind a badge; None when out of date and not `refresh_stale`."""
    row = _current_row(session, key, refresh_stale=refresh_stale)
    return None if row is None else _current_of(row)


@dataclass(frozen=True)
class HistoryBlocker:
    criterion: str
    status: str


@dataclass(frozen=True)
class HistoryState:
    score: float
    level: str
    gate_passed: bool
    blockers: list[HistoryBlocker]


@dataclass(frozen=True)
class HistoryEntry:
    changed_at: datetime
    rubric: str
    rubric_version: int
    score: float
    level: str
    gate_passed: bool
    blockers: list[HistoryBlocker]
    previous: HistoryState | None
    cause: list[dict[str, str]]


def _blockers(pairs: list[list[str]]) -> list[HistoryBlocker]:
    return [HistoryBlocker(criterion, status) for criterion, status in pairs]


def history(
    session: Session, *, key: str, limit: int, cursor: str | None, refresh_stale: bool
) -> tuple[list[HistoryEntry], str | None] | None:
    """Newest first; None when the current readiness is out of date and not `refresh_stale` (its
    re-score may add an entry)."""
    row = _current_row(session, key, refresh_stale=refresh_stale)
    if row is None:
        return None
    query = select(ReadinessHistory).where(ReadinessHistory.project_id == row.id, ReadinessHistory.significant)
    rows, next_cursor = keyset_page(
        session, query, [ReadinessHistory.changed_at, ReadinessHistory.id], limit=limit, cursor=cursor, descending=True
    )
    return [
        HistoryEntry(
            changed_at=entry.changed_at,
            rubric=entry.rubric_key,
            rubric_version=entry.rubric_version,
            score=entry.score,
            level=entry.level,
            gate_passed=entry.gate_passed,
            blockers=_blockers(entry.blockers),
            previous=None
            if entry.previous is None
            else HistoryState(
                entry.previous["score"],
                entry.previous["level"],
                entry.previous["gate_passed"],
                _blockers(entry.previous["blockers"]),
            ),
            cause=entry.cause,
        )
        for entry in rows
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
