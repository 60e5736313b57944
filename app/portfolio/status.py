"""Keeping each project's status row current: a step of the write epilogue."""

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Table, func, insert, or_, select
from sqlalchemy.orm import Session

from app.core.changes import Change
from app.core.db import serialize_startup_chores, utcnow
from app.core.storage import update_rows
from app.engine import stall
from app.engine.roi import compute_roi
from app.engine.stages import IN_PRODUCTION, Stage
from app.kpis.models import Kpi
from app.portfolio import storage
from app.portfolio.models import ProjectStatus
from app.projects.models import Project, StageTransition
from app.readiness import changed, inputs
from app.readiness.document import undone_criteria
from app.readiness.models import Evaluation, ProjectReadiness

STATUS_TABLE: Table = ProjectStatus.__table__  # type: ignore[assignment]


UNSCORED = -1.0  # projects not scored yet rank below every score


def _lower(email: str | None) -> str | None:
    return email.lower() if email is not None else None


def _latest_governing_evaluations(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Evaluation]:
    ranked = (
        select(
            Evaluation.id,
            func.row_number()
            .over(partition_by=Evaluation.project_id, order_by=(Evaluation.evaluated_at.desc(), Evaluation.id.desc()))
            .label("rank"),
        )
        .join(Project, (Project.id == Evaluation.project_id) & (Project.rubric == Evaluation.rubric_key))
        .where(Evaluation.project_id.in_(ids))
        .subquery()
    )
    latest = session.scalars(select(Evaluation).join(ranked, ranked.c.id == Evaluation.id).where(ranked.c.rank == 1))
    return {evaluation.project_id: evaluation for evaluation in latest}


def _stages_reached(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    reached: dict[uuid.UUID, set[str]] = defaultdict(set)
    rows = session.execute(
        select(StageTransition.project_id, StageTransition.to_stage)
        .where(StageTransition.project_id.in_(ids), StageTransition.to_stage.in_(["poc", "production"]))
        .distinct()
    )
    for project_id, stage in rows:
        reached[project_id].add(stage)
    return reached


def _monthly_benefits(project: Project, kpis: list[Kpi]) -> tuple[Any, Any, str | None]:
    values = [kpi.roi_value() for kpi in kpis]
    report = compute_roi(values, inputs.project_costs(project), 1)
    return report.realized.monthly_benefit, report.projected.monthly_benefit, report.currency


def _deployment_document(deployed: inputs.Deployed | None) -> dict[str, Any] | None:
    deployment = deployed.deployment if deployed is not None else None
    if deployment is None:
        return None
    return {"since": deployment.since.isoformat(), "unmet": list(deployment.unmet)}


def _followers(session: Session, departments: Collection[str], keys: Collection[str]) -> set[uuid.UUID]:
    """Projects starting something new (idea, poc) whose focus signal reads a deployment of these
    departments, or one of these projects as their origin or the project they are adjacent to."""
    wanted = [Project.replica_of.in_(sorted(keys)), Project.adjacent_to.in_(sorted(keys))] if keys else []
    if departments:
        wanted.append(Project.department.in_(sorted(departments)))
    if not wanted:
        return set()
    query = select(Project.id).where(Project.stage.in_(sorted(stage.value for stage in stall.STARTING)), or_(*wanted))
    return set(session.scalars(query))


def _moved_deployments(
    session: Session, rows: list[dict[str, Any]], stored: dict[uuid.UUID, tuple[str | None, Any]]
) -> set[uuid.UUID]:
    """The projects whose focus signal reads a deployment whose stored state these rows change:
    from its old and new departments, and those that replicate or expand it."""
    departments: set[str] = set()
    keys: set[str] = set()
    for row in rows:
        before, after = stored.get(row["project_id"], (None, None)), (row["department"], row["deployment"])
        for department, deployment in (before, after) if before != after else ():
            if deployment is not None:
                keys.add(row["key"])
                departments.update([department] if department is not None else [])
    return _followers(session, departments, keys)


def refresh(session: Session, project_ids: Collection[uuid.UUID], *, followers: bool = True) -> None:
    """Recompute the status rows of these projects from their data, in a handful of queries; with
    `followers`, also those of the projects whose focus signal reads a deployment that changed here."""
    # One function: a status row's columns are computed together from data loaded once for all the
    # projects, and written in two set-based statements.
    ids = set(project_ids)
    if not ids:
        return
    session.flush()
    projects = list(session.scalars(select(Project).where(Project.id.in_(ids))))
    connection = session.connection()
    around = inputs.surroundings(connection, projects)
    deployed = inputs.deployed(
        connection, keys=[project.key for project in projects if Stage(project.stage) in IN_PRODUCTION]
    )
    kpis = inputs.kpis_by_project(session, ids)
    evaluations = _latest_governing_evaluations(session, ids)
    scores = {
        row.project_id: row
        for row in session.execute(
            select(
                ProjectReadiness.project_id,
                ProjectReadiness.score,
                ProjectReadiness.level,
                ProjectReadiness.gate_passed,
                ProjectReadiness.statuses,
            ).where(ProjectReadiness.project_id.in_(ids))
        )
    }
    reached = _stages_reached(session, ids)
    now = utcnow()
    rows = []
    for project in projects:
        evaluation = evaluations.get(project.id)
        current = scores.get(project.id)
        project_profile = inputs.stall_profile(
            project, kpis[project.id], evaluation.evaluated_at if evaluation else None, around[project.id]
        )
        signals = stall.stored_signals(project_profile, now)
        retired = project.stage == Stage.retired.value
        realized, projected, currency = _monthly_benefits(project, kpis[project.id])
        rows.append(
            {
                "project_id": project.id,
                "key": project.key,
                "name": project.name,
                "department": project.department,
                "region": project.region,
                "business_owner_email": _lower(project.business_owner_email),
                "technical_owner_email": _lower(project.technical_owner_email),
                "tags": project.tags,
                "risk_tier": project.risk_tier,
                "stage": project.stage,
                "stage_entered_at": project.stage_entered_at,
                "rank_score": current.score if current else UNSCORED,
                "evaluation_id": evaluation.id if evaluation else None,
                "evaluated_at": evaluation.evaluated_at if evaluation else None,
                "score": current.score if current else None,
                "level": current.level if current else None,
                "gate_passed": current.gate_passed if current else None,
                "undone": undone_criteria(current.statuses) if current and current.statuses is not None else None,
                "signals": [asdict(signal) for signal in signals],
                "risk_active": stall.risk_when(signals, inactive=False, retired=retired).value,
                "risk_inactive": stall.risk_when(signals, inactive=True, retired=retired).value,
                "quiet_from": stall.quiet_from(project_profile),
                "focus_on": list(stall.unstable_deployments(project_profile, now)) or None,
                "focus_until": stall.focus_ends(project_profile, now),
                "deployment": _deployment_document(deployed.get(project.key)),
                "last_measured_at": project_profile.last_measured_at,
                "realized_monthly_benefit": realized,
                "projected_monthly_benefit": projected,
                "currency": currency,
                "ever_poc": "poc" in reached[project.id],
                "ever_production": "production" in reached[project.id],
                "refreshed_at": now,
            }
        )
    # In project order, as every writer of status rows updates them, so that two never deadlock.
    rows.sort(key=lambda row: row["project_id"])
    stored = {
        row.project_id: (row.department, row.deployment)
        for row in session.execute(
            select(ProjectStatus.project_id, ProjectStatus.department, ProjectStatus.deployment).where(
                ProjectStatus.project_id.in_(ids)
            )
        )
    }
    existing = set(stored)
    fresh = [row for row in rows if row["project_id"] not in existing]
    if fresh:
        connection.execute(insert(STATUS_TABLE), fresh)
    update_rows(connection, STATUS_TABLE, "project_id", [row for row in rows if row["project_id"] in existing])
    for status in session.identity_map.values():
        if isinstance(status, ProjectStatus) and status.project_id in ids:
            session.expire(status)
    if followers:
        refresh(session, _moved_deployments(session, rows, stored) - ids, followers=False)


def refresh_measured(session: Session, project_ids: Collection[uuid.UUID]) -> None:
    """After measurements only: what they change (latest measurement, benefit, when inactivity
    would set in), in one set-based UPDATE. The stall signals and the evaluation stay as they are."""
    ids = set(project_ids)
    if storage.update_measured(session.connection(), ids) < len(ids):
        have_rows = set(session.scalars(select(ProjectStatus.project_id).where(ProjectStatus.project_id.in_(ids))))
        refresh(session, ids - have_rows)


def keep_current(session: Session, written: list[Change]) -> None:
    """The epilogue's status step: what the transaction's writes change in the status rows."""
    full: set[uuid.UUID] = set()
    measured: set[uuid.UUID] = set()
    for change in written:
        if change.status == "full":
            full.update(change.project_ids)
        elif change.status == "measured":
            measured.update(change.project_ids)
    refresh(session, full)
    if measured - full:
        refresh_measured(session, measured - full)


def refresh_missing(session: Session, batch: int = 1000) -> int:
    """Give every project without a status row one, and every deployment whose row predates what
    others' focus signal reads of it that (with theirs): after migrating an existing database."""
    serialize_startup_chores(session)
    refreshed = 0
    while True:
        undeployed = list(
            session.scalars(
                select(ProjectStatus.project_id)
                .where(ProjectStatus.stage.in_(sorted(stage.value for stage in IN_PRODUCTION)))
                .where(ProjectStatus.deployment.is_(None))
                .limit(batch)
            )
        )
        if not undeployed:
            break
        refresh(session, undeployed)
        refreshed += len(undeployed)
    while True:
        missing = list(
            session.scalars(
                select(Project.id)
                .outerjoin(ProjectStatus, ProjectStatus.project_id == Project.id)
                .where(ProjectStatus.project_id.is_(None))
                .limit(batch)
            )
        )
        if not missing:
            return refreshed
        refresh(session, missing)
        refreshed += len(missing)


def store_scores(session: Session, scores: Sequence[changed.Scores]) -> None:
    """Re-scoring's new scores on the status rows, which the portfolio sorts and filters on."""
    storage.store_scores(
        session.connection(), [(s.project_id, s.score, s.level, s.gate_passed, s.undone) for s in scores]
    )
    stored = {s.project_id for s in scores}
    for instance in list(session.identity_map.values()):
        if isinstance(instance, ProjectStatus) and instance.project_id in stored:
            session.expire(instance)
