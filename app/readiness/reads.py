"""`GET /projects/{key}/readiness` from rows: the stored current result and the stall diagnosis of
one project in two prebuilt Core statements on a bare connection.

The same answer as `service.view` when the stored result is current, at a fraction of its cost: the
ORM's session, identity map and per-call statement building were most of that read's time. A
stale result (marked, past its deadline, behind the rubric) is None here, and the caller re-scores
it through `service.view` in a write.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, exists, func, select

from app.auth import scope
from app.core.db import utcnow
from app.core.errors import NotFound
from app.engine import stall
from app.engine.kpi import KpiCategory
from app.engine.stages import Stage
from app.kpis.models import Kpi
from app.projects.models import Project
from app.readiness import service
from app.readiness.models import Evaluation, ProjectReadiness, ReadinessMark
from app.rubrics.models import Rubric

_LAST_EVALUATED = (
    select(func.max(Evaluation.evaluated_at))
    .where(Evaluation.project_id == Project.id, Evaluation.rubric_key == Project.rubric)
    .correlate(Project)
    .scalar_subquery()
)
# One statement for the project, its stored result and whether that result is still current: on
# PostgreSQL, where reads run statement by statement, the marks and the row come from one snapshot.
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
class ReadinessShown:
    """The body of the readiness read, as plain data, and its ETag."""

    body: dict[str, Any]
    etag: str


def shown_from_view(view: service.ReadinessView) -> ReadinessShown:
    """The body of a view read through the session, as `current_view` gives it."""
    current = view.current
    body = {
        **current.result,
        "project": current.project,
        "stage": current.stage,
        "computed_at": current.computed_at,
        "changes_at": current.changes_at,
        "stall": asdict(view.stall),
    }
    return ReadinessShown(body, view.etag)


def _stall_document(diagnosis: stall.Diagnosis) -> dict[str, Any]:
    """`asdict(diagnosis)`, without the deep copy that made it a tenth of this read's time."""
    return {
        "risk": diagnosis.risk,
        "signals": tuple(
            {field.name: getattr(signal, field.name) for field in fields(signal)} for signal in diagnosis.signals
        ),
    }


def view_etag(result_etag: str, stall_shown: Mapping[str, Any]) -> str:
    """The read's ETag: the stored result's, combined with the diagnosis, which time alone changes."""
    shown = json.dumps(stall_shown, sort_keys=True, default=str)
    return '"{}"'.format(hashlib.sha1(f"{result_etag}:{shown}".encode()).hexdigest()[:32])


def _is_current(row: CurrentRow, now: datetime) -> bool:
    if row.marked or row.result is None:
        return False
    if (row.rubric_key, row.rubric_version) != (row.rubric, row.latest_version):
        return False
    return row.changes_at is None or row.changes_at > now


def _diagnosis(connection: Connection, row: CurrentRow, now: datetime, limits: Mapping[Stage, int]) -> stall.Diagnosis:
    kpis = connection.execute(_KPIS, {"project_id": row.id}).all()
    measured = [kpi.latest_measured_at for kpi in kpis if kpi.latest_measured_at is not None]
    profile = stall.ProjectProfile(
        stage=Stage(row.stage),
        stage_entered_at=row.stage_entered_at,
        workflow=row.workflow,
        has_business_owner=row.business_owner_name is not None,
        has_technical_owner=row.technical_owner_name is not None,
        vendor_led=row.vendor_led,
        stakeholder_roles=frozenset(s["role"] for s in row.stakeholders),
        deployment_target=row.deployment_target,
        same_runtime_as_production=row.deployment_same_runtime,
        kpi_categories=tuple(KpiCategory(kpi.category) for kpi in kpis),
        last_measured_at=max(measured) if measured else None,
        last_evaluated_at=row.last_evaluated_at,
    )
    return stall.diagnose(profile, now, dict(limits))


def current_view(connection: Connection, *, key: str, limits: Mapping[Stage, int]) -> ReadinessShown | None:
    """The project's readiness as `GET /projects/{key}/readiness` shows it; None when the stored
    result is out of date (re-scoring it needs a write)."""
    row = connection.execute(_CURRENT, {"key": key}).first()
    if row is None or not scope.can_see(row.department):
        raise NotFound(f"No project with key {key!r}.")
    now = utcnow()
    if not _is_current(row, now):
        return None
    stall_shown = _stall_document(_diagnosis(connection, row, now, limits))
    body = {
        **json.loads(row.result),
        "project": row.key,
        "stage": row.stage,
        "computed_at": row.computed_at,
        "changes_at": row.changes_at,
        "stall": stall_shown,
    }
    return ReadinessShown(body, view_etag(row.etag, stall_shown))
