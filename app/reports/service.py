"""The steering report: what happened in a period, computed from the service's history, so that a
past period reads as it was: stage transitions for the funnel, the readiness history for scores
and blockers, decisions as recorded, measurements as they stood at the period's end.

Scoped like every read: a caller sees only the projects of its departments. Deleted projects are
gone from every figure.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.db import utcnow
from app.core.errors import FieldError, Unprocessable
from app.decisions.models import Decision
from app.engine.default_rubric import DEFAULT_RUBRIC
from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import KpiValue, ProjectCosts, compute_roi
from app.engine.stages import FORWARD_ORDER, Stage
from app.kpis.models import Kpi, Measurement
from app.portfolio import service as portfolio
from app.projects.models import Project, StageTransition
from app.readiness.models import ReadinessHistory
from app.reports import render, schemas

STAGES = [stage.value for stage in (*FORWARD_ORDER, Stage.retired)]
TITLES = {criterion.key: criterion.title for criterion in DEFAULT_RUBRIC.criteria}
DUE_WITHIN = timedelta(days=14)
TOP_BLOCKERS = 10
LONGEST_PERIOD_DAYS = 3 * 366
PAST_STALL = (
    "stalled projects before today are those longer in their stage than its limit "
    "(READINESS_STAGE_LIMITS_DAYS): the other stall signals of the time were not kept"
)
PROJECTED = "projected benefit applies today's KPI targets and values per unit"


@dataclass
class _Project:
    id: uuid.UUID
    key: str
    name: str
    stage: str
    created_at: datetime
    decision_date: date | None
    moves: list[tuple[datetime, str, str]]


def bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's UTC moments: 00:00 of `first` and 00:00 the day after `last`, in the zone."""
    if last < first:
        raise Unprocessable(
            "The period ends before it starts.",
            errors=[FieldError(field="query.to", message="must not be before from")],
        )
    if (last - first).days > LONGEST_PERIOD_DAYS:
        raise Unprocessable(
            "The period is too long.", errors=[FieldError(field="query.to", message="at most three years after from")]
        )

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    return midnight(first), midnight(last + timedelta(days=1))


def _stage_at(project: _Project, moment: datetime) -> str | None:
    if project.created_at > moment:
        return None
    stage = project.moves[0][1] if project.moves else project.stage
    for at, _from, to in project.moves:
        if at <= moment:
            stage = to
    return stage


def _entered_at(project: _Project, moment: datetime) -> datetime:
    entered = project.created_at
    for at, _from, _to in project.moves:
        if at <= moment:
            entered = at
    return entered


def _projects(session: Session, departments: Sequence[str] | None) -> dict[uuid.UUID, _Project]:
    query = select(
        Project.id, Project.key, Project.name, Project.stage, Project.created_at, Project.decision_date
    ).order_by(Project.key)
    if departments is not None:
        query = query.where(Project.department.in_(list(departments)))
    projects = {
        row.id: _Project(row.id, row.key, row.name, row.stage, row.created_at, row.decision_date, [])
        for row in session.execute(scope.restrict(query, Project.department))
    }
    moves = select(
        StageTransition.project_id,
        StageTransition.transitioned_at,
        StageTransition.from_stage,
        StageTransition.to_stage,
    ).order_by(StageTransition.transitioned_at, StageTransition.id)
    for project_id, at, from_stage, to_stage in session.execute(moves):
        if project_id in projects:
            projects[project_id].moves.append((at, from_stage, to_stage))
    return projects


def _funnel(projects: Mapping[uuid.UUID, _Project], start: datetime, end: datetime) -> schemas.Funnel:
    at_start: Counter[str] = Counter()
    at_end: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    new = 0
    for project in projects.values():
        for counter, moment in ((at_start, start), (at_end, end)):
            stage = _stage_at(project, moment)
            if stage is not None:
                counter[stage] += 1
        new += start <= project.created_at < end
        entered.update(to for at, _from, to in project.moves if start <= at < end)
    stages = [
        schemas.StageMovement(stage=s, at_start=at_start[s], at_end=at_end[s], entered=entered[s]) for s in STAGES
    ]
    return schemas.Funnel(stages=stages, new_projects=new, entered_production=entered[Stage.production.value])


def _decisions(
    session: Session, projects: Mapping[uuid.UUID, _Project], start: datetime, end: datetime
) -> list[schemas.DecisionTaken]:
    rows = session.scalars(
        select(Decision)
        .where(Decision.decided_at >= start, Decision.decided_at < end)
        .order_by(Decision.decided_at, Decision.id)
    )
    return [
        schemas.DecisionTaken(
            id=d.id,
            project=projects[d.project_id].key,
            name=projects[d.project_id].name,
            decision=d.decision,
            decided_at=d.decided_at,
            decided_by=d.decided_by,
            on_behalf_of=d.on_behalf_of,
            rationale=d.rationale,
            override_reason=d.override_reason,
        )
        for d in rows
        if d.project_id in projects
    ]


def _waiting(
    session: Session, projects: Mapping[uuid.UUID, _Project], end: datetime, today: date, zone: ZoneInfo
) -> list[schemas.DecisionWaiting]:
    """Projects live at the end whose planned decision date falls within 14 days after its last
    day (or before), with no decision recorded from 14 days before that date up to the end."""
    decided: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    query = select(Decision.project_id, Decision.decided_at).where(Decision.decided_at < end)
    for project_id, at in session.execute(query):
        decided[project_id].append(at)
    waiting = []
    for project in projects.values():
        day = project.decision_date
        stage = _stage_at(project, end)
        if day is None or stage in (None, Stage.retired.value) or day > today + DUE_WITHIN:
            continue
        window = datetime.combine(day - DUE_WITHIN, time(), tzinfo=zone).astimezone(UTC)
        if any(at >= window for at in decided[project.id]):
            continue
        waiting.append(
            schemas.DecisionWaiting(project=project.key, name=project.name, decision_date=day, overdue=day < today)
        )
    return sorted(waiting, key=lambda w: (w.decision_date, w.project))


@dataclass(frozen=True)
class _Standing:
    """A project's readiness as its history last recorded it before a moment."""

    score: float
    level: str
    blockers: list[list[str]]


def _standing_before(
    session: Session, projects: Mapping[uuid.UUID, _Project], moment: datetime
) -> dict[uuid.UUID, _Standing]:
    """Each project's last readiness history row before `moment`: one pass of a window over the
    history, reading only what the report shows of it."""
    place = (
        func.row_number()
        .over(
            partition_by=ReadinessHistory.project_id,
            order_by=(ReadinessHistory.changed_at.desc(), ReadinessHistory.id.desc()),
        )
        .label("place")
    )
    ranked = (
        select(
            ReadinessHistory.project_id,
            ReadinessHistory.score,
            ReadinessHistory.level,
            ReadinessHistory.blockers,
            place,
        )
        .where(ReadinessHistory.changed_at < moment)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.project_id, ranked.c.score, ranked.c.level, ranked.c.blockers).where(ranked.c.place == 1)
    )
    return {
        project_id: _Standing(score, level, blockers)
        for project_id, score, level, blockers in rows
        if project_id in projects
    }


def _moves(
    projects: Mapping[uuid.UUID, _Project],
    before: Mapping[uuid.UUID, _Standing],
    after: Mapping[uuid.UUID, _Standing],
) -> tuple[list[schemas.ReadinessMove], list[schemas.ReadinessMove]]:
    up: list[schemas.ReadinessMove] = []
    down: list[schemas.ReadinessMove] = []
    for project_id, then in before.items():
        now = after[project_id]
        if now.score == then.score:
            continue
        project = projects[project_id]
        move = schemas.ReadinessMove(
            project=project.key,
            name=project.name,
            score_before=then.score,
            level_before=then.level,
            score_after=now.score,
            level_after=now.level,
        )
        (up if now.score > then.score else down).append(move)
    up.sort(key=lambda m: (m.score_before - m.score_after, m.project))
    down.sort(key=lambda m: (m.score_after - m.score_before, m.project))
    return up, down


def _top_blockers(
    projects: Mapping[uuid.UUID, _Project], after: Mapping[uuid.UUID, _Standing], end: datetime
) -> list[schemas.TopBlocker]:
    counted: Counter[str] = Counter()
    for project_id, row in after.items():
        if _stage_at(projects[project_id], end) in (None, Stage.retired.value):
            continue
        counted.update({criterion for criterion, _status in row.blockers})
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:TOP_BLOCKERS]
    return [schemas.TopBlocker(criterion=c, title=TITLES.get(c, c), projects=n) for c, n in ranked]


def _stalled(
    session: Session, projects: Mapping[uuid.UUID, _Project], end: datetime, now: datetime, limits: Mapping[Stage, int]
) -> tuple[list[schemas.StalledProject], list[str]]:
    """Stalled now, with every signal, when the period reaches today; before, the projects over
    their stage's time limit, which is what the service can still tell of the past."""
    if end >= now:
        rows, _ = portfolio.stalled(
            session, filters=portfolio.Filters(), limit=len(projects) + 1, cursor=None, now=now, limits=limits
        )
        keys = {project.key for project in projects.values()}
        return [
            schemas.StalledProject(
                project=row.key,
                name=row.name,
                stage=row.stage,
                reasons=[signal.reason for signal in row.signals if signal.pattern == "stalled"],
            )
            for row in rows
            if row.key in keys
        ], []
    stalled = []
    for project in projects.values():
        stage = _stage_at(project, end)
        days = limits.get(Stage(stage)) if stage is not None else None
        entered = _entered_at(project, end)
        if days is not None and end - entered > timedelta(days=days):
            reason = f"in {stage} since {entered.date().isoformat()}, over its {days}-day limit"
            stalled.append(
                schemas.StalledProject(project=project.key, name=project.name, stage=str(stage), reasons=[reason])
            )
    return stalled, [PAST_STALL]


def _benefit(session: Session, ids: list[uuid.UUID], end: datetime) -> list[schemas.Benefit]:
    """Realized (measurements as they stood at the end) and projected (targets) monthly benefit,
    summed per project currency as the ROI computes it."""
    kpis = select(
        Kpi.id,
        Kpi.project_id,
        Kpi.key,
        Kpi.category,
        Kpi.direction,
        Kpi.baseline,
        Kpi.target,
        Kpi.value_per_unit,
        Kpi.currency,
    ).where(Kpi.project_id.in_(ids))
    priced = [row for row in session.execute(kpis.order_by(Kpi.key)) if row.value_per_unit is not None]
    last = (
        select(Measurement.kpi_id, func.max(Measurement.measured_at).label("at"))
        .where(Measurement.measured_at < end, Measurement.kpi_id.in_([row.id for row in priced]))
        .group_by(Measurement.kpi_id)
        .subquery()
    )
    values = dict(
        session.execute(
            select(Measurement.kpi_id, Measurement.value).join(
                last, and_(last.c.kpi_id == Measurement.kpi_id, last.c.at == Measurement.measured_at)
            )
        ).all()
    )
    by_project: dict[uuid.UUID, list[KpiValue]] = defaultdict(list)
    for row in priced:
        by_project[row.project_id].append(
            KpiValue(
                row.key,
                KpiCategory(row.category),
                Direction(row.direction),
                row.baseline,
                row.target,
                values.get(row.id),
                row.value_per_unit,
                row.currency,
            )
        )
    costs = session.execute(
        select(Project.id, Project.build_cost, Project.run_cost_per_month, Project.currency).where(
            Project.id.in_(list(by_project))
        )
    )
    realized: dict[str, Decimal] = defaultdict(Decimal)
    projected: dict[str, Decimal] = defaultdict(Decimal)
    for project_id, build_cost, run_cost, currency in costs:
        report = compute_roi(by_project[project_id], ProjectCosts(build_cost, run_cost, currency), 1)
        if report.currency is None:
            continue
        realized[report.currency] += report.realized.monthly_benefit
        projected[report.currency] += report.projected.monthly_benefit
    return [
        schemas.Benefit(
            currency=currency,
            realized_monthly=float(round(realized[currency], 2)),
            projected_monthly=float(round(projected[currency], 2)),
        )
        for currency in sorted(set(realized) | set(projected))
    ]


def steering(
    session: Session,
    *,
    first: date,
    last: date,
    zone: ZoneInfo,
    limits: Mapping[Stage, int],
    departments: Sequence[str] | None = None,
) -> schemas.SteeringReport:
    """The report for the days `first` to `last` (both included, in the zone), of the caller's
    projects (and of `departments` only, when given)."""
    start, end = bounds(first, last, zone)
    now = utcnow()
    as_of = min(end, now)
    projects = _projects(session, departments)
    existing = {pid: p for pid, p in projects.items() if p.created_at < as_of}
    before, after = _standing_before(session, existing, start), _standing_before(session, existing, as_of)
    up, down = _moves(existing, before, after)
    stalled, stall_note = _stalled(session, existing, as_of, now, limits)
    period: dict[str, Any] = {
        "from": first,
        "to": last,
        "timezone": str(zone),
        "starts_at": start,
        "ends_at": end,
        "as_of": as_of,
    }
    return schemas.SteeringReport(
        period=schemas.Period.model_validate(period),
        generated_at=now,
        projects=len(existing),
        funnel=_funnel(existing, start, as_of),
        decisions=_decisions(session, existing, start, as_of),
        decisions_waiting=_waiting(session, existing, as_of, min(last, now.astimezone(zone).date()), zone),
        readiness_up=up,
        readiness_down=down,
        stalled=stalled,
        benefit=_benefit(session, list(existing), as_of),
        top_blockers=_top_blockers(existing, after, as_of),
        approximations=[*stall_note, PROJECTED],
    )


def pdf_of_period(
    zone: ZoneInfo, limits: Mapping[Stage, int]
) -> Callable[[Session, date, date, list[str] | None], bytes]:
    """What a channel mailing the report on its digest schedule attaches: the period's PDF, of the
    channel's departments (background work sees every department)."""

    def rendered(session: Session, first: date, last: date, departments: list[str] | None) -> bytes:
        return render.pdf(steering(session, first=first, last=last, zone=zone, limits=limits, departments=departments))

    return rendered
