"""Business KPIs, their measurements, and the ROI they add up to."""

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.auth import scope
from app.core import changes
from app.core.among import among
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.core.patch import merge_patch
from app.core.preconditions import IfMatch, etag
from app.core.schemas import SLUG_PATTERN, validate_or_422
from app.engine.roi import ProjectCosts, RoiReport, compute_roi
from app.kpis import storage as points
from app.kpis.models import Kpi, Measurement
from app.kpis.schemas import KpiCreate, KpiFields, KpiPut, KpiReplace, MeasurementBatchItem, MeasurementCreate
from app.projects.models import Project
from app.projects.service import get_project

KPI_TABLE: Table = Kpi.__table__  # type: ignore[assignment]
MEASUREMENT_TABLE: Table = Measurement.__table__  # type: ignore[assignment]


def kpi_etag(kpi: Kpi) -> str:
    return etag(kpi.id, kpi.version)


def get_kpi(session: Session, *, project_key: str, kpi_key: str) -> Kpi:
    kpi = session.scalar(
        scope.restrict(
            select(Kpi)
            .join(Project, Project.id == Kpi.project_id)
            .where(Project.key == project_key, Kpi.key == kpi_key),
            Project.department,
        )
    )
    if kpi is None:
        get_project(session, key=project_key)
        raise NotFound(f"Project {project_key!r} has no KPI {kpi_key!r}.")
    return kpi


def list_kpis(session: Session, *, project_key: str, limit: int, cursor: str | None) -> tuple[list[Kpi], str | None]:
    project = get_project(session, key=project_key)
    return keyset_page(session, select(Kpi).where(Kpi.project_id == project.id), [Kpi.key], limit=limit, cursor=cursor)


def _writable(kpi: Kpi) -> dict[str, Any]:
    return {
        "key": kpi.key,
        "name": kpi.name,
        "description": kpi.description,
        "category": kpi.category,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "baseline": kpi.baseline,
        "target": kpi.target,
        "target_date": kpi.target_date.isoformat() if kpi.target_date else None,
        "value_per_unit": float(kpi.value_per_unit) if kpi.value_per_unit is not None else None,
        "currency": kpi.currency,
    }


def _written_by(kpi: Kpi, actor: Caller) -> None:
    """Note the actor among those who shaped the KPI: the four-eyes rule asks."""
    writers = kpi.written_by or []
    if actor.identity not in writers:
        kpi.written_by = [*writers, actor.identity]


def _apply(kpi: Kpi, data: KpiFields) -> None:
    kpi.name, kpi.description = data.name, data.description
    kpi.category, kpi.unit, kpi.direction = data.category.value, data.unit, data.direction.value
    kpi.baseline, kpi.target, kpi.target_date = data.baseline, data.target, data.target_date
    kpi.value_per_unit, kpi.currency = data.value_per_unit, data.currency


def create_kpi(session: Session, *, project_key: str, data: KpiCreate, actor: Caller) -> Kpi:
    project = get_project(session, key=project_key)
    if session.scalar(select(Kpi.id).where(Kpi.project_id == project.id, Kpi.key == data.key)) is not None:
        raise Conflict(f"Project {project_key!r} already has a KPI {data.key!r}.")
    now = utcnow()
    kpi = Kpi(project_id=project.id, key=data.key, created_at=now, updated_at=now)
    _apply(kpi, data)
    kpi.currency = data.currency or project.currency
    _written_by(kpi, actor)
    session.add(kpi)
    changes.record(
        session,
        Cause("kpi", data.key),
        [project.id],
        audit=AuditEntry(actor, "kpi.create", "kpi", f"{project_key}/{data.key}", after=_writable(kpi)),
    )
    return kpi


def put_kpi(
    session: Session, *, project_key: str, kpi_key: str, data: KpiPut, if_match: IfMatch | None, actor: Caller
) -> tuple[Kpi, bool]:
    """Create or replace a KPI by key, so that an upstream system can send its KPIs again and again;
    returns the KPI and whether it was created. Sent unchanged, nothing is written."""
    if data.key is not None and data.key != kpi_key:
        raise Unprocessable(
            "The key in the body differs from the key in the path; KPI keys cannot be renamed.",
            errors=[FieldError(field="body.key", message="must equal the key in the path")],
        )
    project = get_project(session, key=project_key)
    kpi = session.scalar(select(Kpi).where(Kpi.project_id == project.id, Kpi.key == kpi_key))
    if if_match is not None:
        if_match.check(kpi_etag(kpi) if kpi else None)
    if kpi is None:
        if not re.fullmatch(SLUG_PATTERN, kpi_key):
            raise Unprocessable(
                f"{kpi_key!r} is not a KPI key: lowercase letters, digits and hyphens, 2 to 63 of them.",
                errors=[FieldError(field="path.kpi", message=f"must match {SLUG_PATTERN}")],
            )
        return create_kpi(
            session, project_key=project_key, data=KpiCreate(**{**data.model_dump(), "key": kpi_key}), actor=actor
        ), True
    before = _writable(kpi)
    currency = kpi.currency
    _apply(kpi, data)
    kpi.currency = data.currency or currency
    after = _writable(kpi)
    if after != before:
        kpi.updated_at = utcnow()
        _written_by(kpi, actor)
        changes.record(
            session,
            Cause("kpi", kpi_key),
            [kpi.project_id],
            audit=AuditEntry(actor, "kpi.replace", "kpi", f"{project_key}/{kpi_key}", before=before, after=after),
        )
    return kpi, False


def patch_kpi(
    session: Session, *, project_key: str, kpi_key: str, patch: dict[str, Any], if_match: IfMatch | None, actor: Caller
) -> Kpi:
    """Apply a JSON merge patch (RFC 7396) to the KPI's writable fields."""
    kpi = get_kpi(session, project_key=project_key, kpi_key=kpi_key)
    before = _writable(kpi)
    data = validate_or_422(KpiReplace, merge_patch(before, patch))
    if data.key != kpi_key:
        raise Unprocessable(
            "KPI keys cannot be renamed.", errors=[FieldError(field="body.key", message="cannot change")]
        )
    # After the body: a patch that could never apply is 422 whatever the caller last read.
    if if_match is not None:
        if_match.check(kpi_etag(kpi))
    _apply(kpi, data)
    after = _writable(kpi)
    if after != before:
        kpi.updated_at = utcnow()
        _written_by(kpi, actor)
        changes.record(
            session,
            Cause("kpi", kpi_key),
            [kpi.project_id],
            audit=AuditEntry(actor, "kpi.update", "kpi", f"{project_key}/{kpi_key}", before=before, after=after),
        )
    return kpi


def delete_kpi(session: Session, *, project_key: str, kpi_key: str, if_match: IfMatch | None, actor: Caller) -> None:
    kpi = get_kpi(session, project_key=project_key, kpi_key=kpi_key)
    if if_match is not None:
        if_match.check(kpi_etag(kpi))
    before = _writable(kpi)
    session.delete(kpi)
    changes.record(
        session,
        Cause("kpi", kpi_key),
        [kpi.project_id],
        audit=AuditEntry(actor, "kpi.delete", "kpi", f"{project_key}/{kpi_key}", before=before),
    )


def _latest_per_kpi(rows: Sequence[dict[str, Any]]) -> list[points.Newest]:
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        current = newest.get(row["kpi_id"])
        if current is None or row["measured_at"] >= current["measured_at"]:
            newest[row["kpi_id"]] = row
    return [points.Newest(kpi_id, row["measured_at"], row["value"]) for kpi_id, row in newest.items()]


def _measurement_row(kpi_id: uuid.UUID, data: MeasurementCreate, now: datetime, actor: Caller) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "kpi_id": kpi_id,
        "value": data.value,
        "measured_at": data.measured_at or now,
        "keyed": data.measured_at is not None,
        "source": data.source,
        "note": data.note,
        "recorded_at": now,
        "recorded_by_identity": actor.identity,
    }


Outcome = Literal["created", "updated", "unchanged"]


def _same_point(stored: Any, row: dict[str, Any]) -> bool:
    return bool(stored.value == row["value"] and stored.source == row["source"] and stored.note == row["note"])


def _store_points(session: Session, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[Outcome, int]]:
    """Insert new points and replace re-sent ones (same KPI and `measured_at`); the rows written."""
    latest_of_key: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in rows:
        if row["keyed"]:
            latest_of_key[(row["kpi_id"], row["measured_at"])] = row  # within one batch, the last one sent wins
    stored = points.keyed_points(session, latest_of_key) if latest_of_key else {}
    counts: dict[Outcome, int] = {"created": 0, "updated": 0, "unchanged": 0}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        key = (row["kpi_id"], row["measured_at"])
        if row["keyed"] and latest_of_key[key] is not row:
            counts["unchanged"] += 1
            continue
        existing = stored.get(key) if row["keyed"] else None
        if existing is None:
            inserts.append(row)
            counts["created"] += 1
        elif _same_point(existing, row):
            row["id"] = existing.id
            counts["unchanged"] += 1
        else:
            row["id"] = existing.id
            updates.append(row)
            counts["updated"] += 1
    if inserts:
        points.insert_points(session, inserts)
    if updates:
        session.connection().execute(
            update(MEASUREMENT_TABLE)
            .where(MEASUREMENT_TABLE.c.id == bindparam("b_id"))
            .values(
                value=bindparam("b_value"),
                source=bindparam("b_source"),
                note=bindparam("b_note"),
                recorded_at=bindparam("b_recorded_at"),
                recorded_by_identity=bindparam("b_recorded_by_identity"),
            ),
            [
                {
                    "b_id": row["id"],
                    "b_value": row["value"],
                    "b_source": row["source"],
                    "b_note": row["note"],
                    "b_recorded_at": row["recorded_at"],
                    "b_recorded_by_identity": row["recorded_by_identity"],
                }
                for row in updates
            ],
        )
    written = inserts + updates
    if written:
        points.advance_latest(session, _latest_per_kpi(written))
    return written, counts


def add_measurement(
    session: Session, *, project_key: str, kpi_key: str, data: MeasurementCreate, actor: Caller
) -> tuple[Measurement, Outcome]:
    """A new point, or with a `measured_at` already stored for the KPI, that point replaced."""
    kpi = get_kpi(session, project_key=project_key, kpi_key=kpi_key)
    row = _measurement_row(kpi.id, data, utcnow(), actor)
    written, counts = _store_points(session, [row])
    outcome: Outcome = next(name for name, count in counts.items() if count)
    measurement = session.get(Measurement, row["id"], populate_existing=True)
    assert measurement is not None
    if not written:
        return measurement, outcome
    session.expire(kpi)
    changes.record(
        session,
        Cause("measurement", kpi_key),
        [kpi.project_id],
        audit=AuditEntry(
            actor,
            "measurement.create" if outcome == "created" else "measurement.replace",
            "kpi",
            f"{project_key}/{kpi_key}",
            after={"id": str(measurement.id), "value": data.value, "measured_at": row["measured_at"].isoformat()},
        ),
        status="measured",
    )
    return measurement, outcome


def list_measurements(
    session: Session,
    *,
    project_key: str,
    kpi_key: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Measurement], str | None]:
    """Newest first; `since` inclusive, `until` exclusive."""
    kpi = get_kpi(session, project_key=project_key, kpi_key=kpi_key)
    query = select(Measurement).where(Measurement.kpi_id == kpi.id)
    if since is not None:
        query = query.where(Measurement.measured_at >= since)
    if until is not None:
        query = query.where(Measurement.measured_at < until)
    return keyset_page(
        session, query, [Measurement.measured_at, Measurement.id], limit=limit, cursor=cursor, descending=True
    )


def delete_measurement(
    session: Session, *, project_key: str, kpi_key: str, measurement_id: uuid.UUID, actor: Caller
) -> None:
    """Correct a wrong measurement: remove it, and fall back to the newest one left."""
    kpi = get_kpi(session, project_key=project_key, kpi_key=kpi_key)
    measurement = session.scalar(
        select(Measurement).where(Measurement.id == measurement_id, Measurement.kpi_id == kpi.id)
    )
    if measurement is None:
        raise NotFound(f"KPI {kpi_key!r} of project {project_key!r} has no measurement {measurement_id}.")
    before = {"id": str(measurement.id), "value": measurement.value, "measured_at": measurement.measured_at.isoformat()}
    session.delete(measurement)
    session.flush()
    newest = session.execute(
        select(Measurement.value, Measurement.measured_at)
        .where(Measurement.kpi_id == kpi.id)
        .order_by(Measurement.measured_at.desc(), Measurement.recorded_at.desc())
        .limit(1)
    ).first()
    kpi.latest_value = newest.value if newest else None
    kpi.latest_measured_at = newest.measured_at if newest else None
    kpi.updated_at = utcnow()
    changes.record(
        session,
        Cause("measurement", kpi_key),
        [kpi.project_id],
        audit=AuditEntry(actor, "measurement.delete", "kpi", f"{project_key}/{kpi_key}", before=before),
    )


def add_measurements_batch(session: Session, *, items: list[MeasurementBatchItem], actor: Caller) -> dict[Outcome, int]:
    """All or nothing: every item must name an existing project and KPI. Points re-sent with the
    same `measured_at` replace the stored ones; one INSERT for the new ones."""
    projects = {item.project for item in items}
    found = list(
        session.execute(
            scope.restrict(
                select(Project.key.label("project_key"), Kpi.key.label("kpi_key"), Kpi.id, Kpi.project_id)
                .join(Kpi, Kpi.project_id == Project.id)
                .where(among(session.connection(), Project.key, projects)),
                Project.department,
            )
        )
    )
    kpi_ids = {(row.project_key, row.kpi_key): row.id for row in found}
    missing = [
        FieldError(
            field=f"body.items.{index}.kpi",
            message=f"project {item.project!r} has no KPI {item.kpi!r}{scope.within()}",
        )
        for index, item in enumerate(items)
        if (item.project, item.kpi) not in kpi_ids
    ]
    if missing:
        raise Unprocessable("Some items name KPIs that do not exist; nothing was stored.", errors=missing)
    now = utcnow()
    rows = [_measurement_row(kpi_ids[(item.project, item.kpi)], item, now, actor) for item in items]
    written, counts = _store_points(session, rows)
    if not written:
        return counts
    touched = {row["kpi_id"] for row in written}
    changes.record(
        session,
        Cause("measurement", "batch"),
        {row.project_id for row in found if row.id in touched},
        audit=AuditEntry(
            actor,
            "measurement.batch",
            "kpi",
            f"batch of {len(items)}",
            after={"created": counts["created"], "updated": counts["updated"], "projects": sorted(projects)},
        ),
        status="measured",
    )
    return counts


def project_roi(session: Session, *, project_key: str, horizon_months: int) -> RoiReport:
    project = get_project(session, key=project_key)
    kpis = session.scalars(select(Kpi).where(Kpi.project_id == project.id))
    values = [kpi.roi_value() for kpi in kpis]
    costs = ProjectCosts(project.build_cost, project.run_cost_per_month, project.currency)
    return compute_roi(values, costs, horizon_months)
