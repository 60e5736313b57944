"""The one adapter between storage and the engine: rows in, the engine's plain data classes out.

Loading is set-based: the inputs of any number of projects take the same handful of queries.
Besides its own rows, a project is read with what surrounds it: the platform whose deployment it
falls back on (its own value wins where it has one), its replicas and the projects adjacent to it
(for the scaling checks), and the deployments of its department (for the focus signal).
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.orm import Session

from app.attestations.models import Attestation
from app.attestations.models import Exemption as ExemptionRow
from app.core.among import among
from app.engine import stall
from app.engine.checks import FactObservation, KpiSnapshot, ProjectSnapshot, RelatedProject
from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import ProjectCosts
from app.engine.scoring import Answer, Exemption
from app.engine.stages import IN_PRODUCTION, Stage
from app.facts.models import Fact
from app.kpis.models import Kpi
from app.platforms.models import Platform
from app.projects.models import Project, StageTransition
from app.readiness.models import ProjectReadiness

IN_PRODUCTION_VALUES = sorted(stage.value for stage in IN_PRODUCTION)


@dataclass(frozen=True)
class PlatformDeployment:
    """The deployment facts of a platform, which a project on it reads where it has none of its own."""

    target: str | None = None
    same_runtime: bool | None = None
    sovereign: bool | None = None


NO_PLATFORM = PlatformDeployment()


def _own_or(own: Any, platform: Any) -> Any:
    return own if own is not None else platform


def platforms_of(connection: Connection, keys: Collection[str | None]) -> dict[str, PlatformDeployment]:
    wanted = sorted({key for key in keys if key is not None})
    if not wanted:
        return {}
    rows = connection.execute(
        select(
            Platform.key, Platform.deployment_target, Platform.deployment_same_runtime, Platform.deployment_sovereign
        ).where(Platform.key.in_(wanted))
    )
    return {key: PlatformDeployment(target, same_runtime, sovereign) for key, target, same_runtime, sovereign in rows}


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


def project_fields(project: Project, platform: PlatformDeployment = NO_PLATFORM) -> dict[str, Any]:
    """The project fields a `field` check reads, by their path in the project's representation;
    deployment facts the project leaves unset are its platform's."""
    return {
        "name": project.name,
        "description": project.description,
        "workflow": project.workflow,
        "department": project.department,
        "region": project.region,
        "business_owner": _person(project.business_owner_name, project.business_owner_email),
        "technical_owner": _person(project.technical_owner_name, project.technical_owner_email),
        "vendor_led": project.vendor_led,
        "deployment.target": _own_or(project.deployment_target, platform.target),
        "deployment.same_runtime_as_production": _own_or(project.deployment_same_runtime, platform.same_runtime),
        "deployment.sovereign": _own_or(project.deployment_sovereign, platform.sovereign),
        "sync_cadence_days": project.sync_cadence_days,
        "decision_date": project.decision_date.isoformat() if project.decision_date else None,
        "costs.build_cost": _number(project.build_cost),
        "costs.run_cost_per_month": _number(project.run_cost_per_month),
        "costs.currency": project.currency,
        "domain": project.domain,
        "platform": project.platform,
        "risk_tier": project.risk_tier,
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


@dataclass(frozen=True)
class Surroundings:
    """What the stall diagnosis reads of a project beyond its own rows: its platform's deployment,
    and for the focus signal, its department's deployments and the projects it relates to."""

    platform: PlatformDeployment = NO_PLATFORM
    department_deployments: tuple[stall.Deployment, ...] = ()
    replicates: bool = False
    expands: stall.Deployment | None = None


ALONE = Surroundings()


def stall_profile(
    project: ProfileColumns,
    kpis: Sequence[KpiActivity],
    last_evaluated_at: datetime | None,
    around: Surroundings = ALONE,
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
        deployment_target=_own_or(project.deployment_target, around.platform.target),
        same_runtime_as_production=_own_or(project.deployment_same_runtime, around.platform.same_runtime),
        kpi_categories=tuple(KpiCategory(kpi.category) for kpi in kpis),
        last_measured_at=max(measured) if measured else None,
        last_evaluated_at=last_evaluated_at,
        department_deployments=around.department_deployments,
        replicates=around.replicates,
        expands=around.expands,
    )


class RelationColumns(Protocol):
    """The project columns its surroundings are found by, as an ORM object or a row."""

    key: str
    stage: str
    department: str | None
    platform: str | None
    replica_of: str | None
    adjacent_to: str | None

    @property
    def id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class Deployed:
    """A project as others' focus signal reads it: its stage, and, in production or scaling, its
    deployment (since when, and which stability criteria its current readiness leaves unmet)."""

    key: str
    department: str | None
    stage: Stage
    deployment: stall.Deployment | None


# When the project's current stretch in production (and scaling) began: its last move into them
# from another stage.
_PRODUCTION_SINCE = (
    select(func.max(StageTransition.transitioned_at))
    .where(
        StageTransition.project_id == Project.id,
        StageTransition.to_stage.in_(IN_PRODUCTION_VALUES),
        StageTransition.from_stage.not_in(IN_PRODUCTION_VALUES),
    )
    .correlate(Project)
    .scalar_subquery()
)


def deployed(
    connection: Connection, *, departments: Collection[str] = (), keys: Collection[str] = ()
) -> dict[str, Deployed]:
    """The projects in production or scaling of these departments, and the projects of these keys
    in whatever stage, in one query."""
    wanted = []
    if departments:
        wanted.append(and_(Project.stage.in_(IN_PRODUCTION_VALUES), Project.department.in_(sorted(departments))))
    if keys:
        wanted.append(Project.key.in_(sorted(keys)))
    if not wanted:
        return {}
    rows = connection.execute(
        select(
            Project.key,
            Project.department,
            Project.stage,
            Project.stage_entered_at,
            _PRODUCTION_SINCE.label("since"),
            ProjectReadiness.statuses,
        )
        .outerjoin(ProjectReadiness, ProjectReadiness.project_id == Project.id)
        .where(or_(*wanted))
        .order_by(Project.key)
    )
    found = {}
    for row in rows:
        stage = Stage(row.stage)
        deployment = (
            stall.Deployment(row.key, row.since or row.stage_entered_at, stall.unmet_criteria(row.statuses))
            if stage in IN_PRODUCTION
            else None
        )
        found[row.key] = Deployed(row.key, row.department, stage, deployment)
    return found


def surroundings(connection: Connection, projects: Sequence[RelationColumns]) -> dict[uuid.UUID, Surroundings]:
    """Each project's surroundings, in two queries however many projects: platforms, and the
    deployments and relation targets that projects starting something new (idea, poc) read."""
    platforms = platforms_of(connection, [project.platform for project in projects])
    starting = [project for project in projects if Stage(project.stage) in stall.STARTING]
    found = deployed(
        connection,
        departments={project.department for project in starting if project.department is not None},
        keys={target for p in starting for target in (p.replica_of, p.adjacent_to) if target is not None},
    )
    by_department: dict[str, list[stall.Deployment]] = defaultdict(list)
    for other in found.values():
        if other.deployment is not None and other.department is not None:
            by_department[other.department].append(other.deployment)
    around = {}
    for project in projects:
        platform = platforms.get(project.platform or "", NO_PLATFORM)
        if Stage(project.stage) not in stall.STARTING:
            around[project.id] = Surroundings(platform) if platform is not NO_PLATFORM else ALONE
            continue
        origin = found.get(project.replica_of or "")
        expanded = found.get(project.adjacent_to or "")
        around[project.id] = Surroundings(
            platform,
            tuple(d for d in by_department.get(project.department or "", ()) if d.key != project.key),
            replicates=origin is not None and origin.stage in IN_PRODUCTION,
            expands=expanded.deployment if expanded is not None else None,
        )
    return around


def kpis_by_project(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Kpi]]:
    kpis: dict[uuid.UUID, list[Kpi]] = defaultdict(list)
    for kpi in session.scalars(select(Kpi).where(among(session.connection(), Kpi.project_id, ids)).order_by(Kpi.key)):
        kpis[kpi.project_id].append(kpi)
    return kpis


def related(
    connection: Connection, keys: Collection[str]
) -> tuple[dict[str, list[RelatedProject]], dict[str, list[RelatedProject]]]:
    """The replicas of each of these projects, and the projects adjacent to each, by key, in one query."""
    replicas: dict[str, list[RelatedProject]] = defaultdict(list)
    adjacent: dict[str, list[RelatedProject]] = defaultdict(list)
    if not keys:
        return replicas, adjacent
    wanted = sorted(keys)
    rows = connection.execute(
        select(
            Project.key,
            Project.department,
            Project.region,
            Project.platform,
            Project.domain,
            Project.replica_of,
            Project.adjacent_to,
        )
        .where(or_(among(connection, Project.replica_of, wanted), among(connection, Project.adjacent_to, wanted)))
        .order_by(Project.key)
    )
    for row in rows:
        seen = RelatedProject(row.key, row.department, row.region, row.platform, row.domain)
        if row.replica_of is not None:
            replicas[row.replica_of].append(seen)
        if row.adjacent_to is not None:
            adjacent[row.adjacent_to].append(seen)
    return replicas, adjacent


def load(session: Session, projects: Collection[Project], now: datetime) -> dict[uuid.UUID, ReadinessInputs]:
    """The inputs of every project given, in seven queries whatever their number. Rows, not ORM
    objects: re-scoring a whole portfolio reads millions of values that nothing will change."""
    # One function: a query per kind of input, whatever the number of projects.
    ids = [project.id for project in projects]
    connection = session.connection()
    platforms = platforms_of(connection, [project.platform for project in projects])
    replicas, adjacent = related(connection, [project.key for project in projects])
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
                fields=project_fields(project, platforms.get(project.platform or "", NO_PLATFORM)),
                stakeholder_roles=frozenset(stakeholder["role"] for stakeholder in project.stakeholders),
                kpis=tuple(kpis[project.id]),
                facts=facts[project.id],
                costs=project_costs(project),
                stage_history=((Stage.idea, project.created_at), *entered[project.id]),
                platform=project.platform,
                domain=project.domain,
                replicas=tuple(replicas[project.key]),
                adjacent=tuple(adjacent[project.key]),
            ),
            attestations=attestations[project.id],
            exemptions=exemptions[project.id],
        )
        for project in projects
    }
