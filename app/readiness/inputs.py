"""The one adapter between storage and the engine: rows in, the engine's plain data classes out.

Loading is set-based: the inputs of any number of projects take the same handful of queries.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attestations.models import Attestation
from app.attestations.models import Exemption as ExemptionRow
from app.core.among import among
from app.engine import stall
from app.engine.checks import FactObservation, KpiSnapshot, ProjectSnapshot
from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import ProjectCosts
from app.engine.scoring import Answer, Exemption
from app.engine.stages import Stage
from app.facts.models import Fact
from app.kpis.models import Kpi
from app.projects.models import Project, StageTransition


@dataclass(frozen=True)
class ReadinessInputs:
    """Everything a project is scored on."""

    project: Project
    snapshot: ProjectSnapshot
    attestations: dict[str, Answer]
    exemptions: dict[str, Exemption]


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _person(name: str | None, email: str | None) -> dict[str, str | None] | None:
    return {"name": name, "email": email} if name is not None else None


def project_fields(project: Project) -> dict[str, Any]:
    """The project fields a `field` check reads, by their path in the project's representation."""
    return {
        "name": project.name,
        "description": project.description,
        "workflow": project.workflow,
        "department": project.department,
        "region": project.region,
        "business_owner": _person(project.business_owner_name, project.business_owner_email),
        "technical_owner": _person(project.technical_owner_name, project.technical_owner_email),
        "vendor_led": project.vendor_led,
        "deployment.target": project.deployment_target,
        "deployment.same_runtime_as_production": project.deployment_same_runtime,
        "deployment.sovereign": project.deployment_sovereign,
        "sync_cadence_days": project.sync_cadence_days,
        "decision_date": project.decision_date.isoformat() if project.decision_date else None,
        "costs.build_cost": _number(project.build_cost),
        "costs.run_cost_per_month": _number(project.run_cost_per_month),
        "costs.currency": project.currency,
    }


def project_costs(project: Project) -> ProjectCosts:
    return ProjectCosts(project.build_cost, project.run_cost_per_month, project.currency)


class KpiColumns(Protocol):
    """A KPI's stored columns, as an ORM object or a row."""

    key: str
    category: str
    direction: str
    baseline: float | None
    target: float | None
    target_date: date | None
    value_per_unit: Decimal | None
    currency: str | None
    latest_value: float | None
    latest_measured_at: datetime | None


def kpi_snapshot(kpi: KpiColumns) -> KpiSnapshot:
    return KpiSnapshot(
        key=kpi.key,
        category=KpiCategory(kpi.category),
        direction=Direction(kpi.direction),
        baseline=kpi.baseline,
        target=kpi.target,
        target_date=kpi.target_date,
        value_per_unit=kpi.value_per_unit,
        currency=kpi.currency,
        latest_value=kpi.latest_value,
        latest_measured_at=kpi.latest_measured_at,
    )


class AttestationColumns(Protocol):
    status: str
    evidence_url: str | None
    evidence_ids: list[str] | None
    note: str | None
    attested_by: str
    attested_at: datetime
    expires_at: datetime | None


def answer(attestation: AttestationColumns) -> Answer:
    return Answer(
        status=attestation.status,  # type: ignore[arg-type]  # stored from the same Literal
        evidence_url=attestation.evidence_url,
        note=attestation.note,
        attested_by=attestation.attested_by,
        attested_at=attestation.attested_at,
        expires_at=attestation.expires_at,
        evidence_ids=tuple(attestation.evidence_ids or ()),
    )


class ProfileColumns(Protocol):
    """The project columns the stall diagnosis reads, as an ORM object or a row."""

    stage: str
    stage_entered_at: datetime
    workflow: str | None
    business_owner_name: str | None
    technical_owner_name: str | None
    vendor_led: bool
    stakeholders: list[dict[str, Any]]
    deployment_target: str | None
    deployment_same_runtime: bool | None


class KpiActivity(Protocol):
    category: str
    latest_measured_at: datetime | None


def stall_profile(
    project: ProfileColumns, kpis: Sequence[KpiActivity], last_evaluated_at: datetime | None
) -> stall.ProjectProfile:
    """The project as the stall diagnosis sees it: the one mapping from stored columns to it."""
    measured = [kpi.latest_measured_at for kpi in kpis if kpi.latest_measured_at is not None]
    return stall.ProjectProfile(
        stage=Stage(project.stage),
        stage_entered_at=project.stage_entered_at,
        workflow=project.workflow,
        has_business_owner=project.business_owner_name is not None,
        has_technical_owner=project.technical_owner_name is not None,
        vendor_led=project.vendor_led,
        stakeholder_roles=frozenset(s["role"] for s in project.stakeholders),
        deployment_target=project.deployment_target,
        same_runtime_as_production=project.deployment_same_runtime,
        kpi_categories=tuple(KpiCategory(kpi.category) for kpi in kpis),
        last_measured_at=max(measured) if measured else None,
        last_evaluated_at=last_evaluated_at,
    )


def kpis_by_project(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Kpi]]:
    kpis: dict[uuid.UUID, list[Kpi]] = defaultdict(list)
    for kpi in session.scalars(select(Kpi).where(among(session.connection(), Kpi.project_id, ids)).order_by(Kpi.key)):
        kpis[kpi.project_id].append(kpi)
    return kpis


def load(session: Session, projects: Collection[Project], now: datetime) -> dict[uuid.UUID, ReadinessInputs]:
    """The inputs of every project given, in five queries whatever their number. Rows, not ORM
    objects: re-scoring a whole portfolio reads millions of values that nothing will change."""
    # One function: five queries, one per kind of input, whatever the number of projects.
    ids = [project.id for project in projects]
    connection = session.connection()
    kpis: dict[uuid.UUID, list[KpiSnapshot]] = defaultdict(list)
    for row in session.execute(
        select(
            Kpi.project_id,
            Kpi.key,
            Kpi.category,
            Kpi.direction,
            Kpi.baseline,
            Kpi.target,
            Kpi.target_date,
            Kpi.value_per_unit,
            Kpi.currency,
            Kpi.latest_value,
            Kpi.latest_measured_at,
        )
        .where(among(connection, Kpi.project_id, ids))
        .order_by(Kpi.key)
    ):
        kpis[row.project_id].append(kpi_snapshot(row))
    facts: dict[uuid.UUID, dict[str, FactObservation]] = defaultdict(dict)
    for project_id, name, value, observed_at in session.execute(
        select(Fact.project_id, Fact.name, Fact.value, Fact.observed_at).where(among(connection, Fact.project_id, ids))
    ):
        facts[project_id][name] = FactObservation(value, observed_at)
    entered: dict[uuid.UUID, list[tuple[Stage, datetime]]] = defaultdict(list)
    for project_id, stage, at in session.execute(
        select(StageTransition.project_id, StageTransition.to_stage, StageTransition.transitioned_at)
        .where(among(connection, StageTransition.project_id, ids))
        .order_by(StageTransition.transitioned_at, StageTransition.id)
    ):
        entered[project_id].append((Stage(stage), at))
    attestations: dict[uuid.UUID, dict[str, Answer]] = defaultdict(dict)
    for attestation in session.execute(
        select(*Attestation.__table__.columns).where(among(connection, Attestation.project_id, ids))
    ):
        if attestation.expires_at is None or attestation.expires_at > now:
            attestations[attestation.project_id][attestation.criterion] = answer(attestation)
    exemptions: dict[uuid.UUID, dict[str, Exemption]] = defaultdict(dict)
    for project_id, criterion, justification, expires_at in session.execute(
        select(
            ExemptionRow.project_id, ExemptionRow.criterion, ExemptionRow.justification, ExemptionRow.expires_at
        ).where(among(connection, ExemptionRow.project_id, ids), ExemptionRow.expires_at > now)
    ):
        current = exemptions[project_id].get(criterion)
        if current is None or expires_at > current.expires_at:
            exemptions[project_id][criterion] = Exemption(justification, expires_at)
    return {
        project.id: ReadinessInputs(
            project=project,
            snapshot=ProjectSnapshot(
                key=project.key,
                stage=Stage(project.stage),
                fields=project_fields(project),
                stakeholder_roles=frozenset(stakeholder["role"] for stakeholder in project.stakeholders),
                kpis=tuple(kpis[project.id]),
                facts=facts[project.id],
                costs=project_costs(project),
                stage_history=((Stage.idea, project.created_at), *entered[project.id]),
            ),
            attestations=attestations[project.id],
            exemptions=exemptions[project.id],
        )
        for project in projects
    }
