"""What each dashboard page shows, read in one unit of work through the services the API uses, so
that a page and the API agree on every figure and on who may see what."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import scope
from app.decisions import requests
from app.decisions.models import Decision
from app.decisions.schemas import DecisionRequestRead
from app.decisions.service import list_decisions
from app.engine import scoring
from app.engine.default_rubric import KEY as DEFAULT_RUBRIC_KEY
from app.engine.stages import Stage
from app.evidence import service as evidence
from app.evidence.models import Evidence
from app.governance import service as governance
from app.kpis import service as kpis
from app.kpis.models import Kpi, Measurement
from app.portfolio import scaling
from app.portfolio import service as portfolio
from app.portfolio import trend as trends
from app.portfolio.schemas import PortfolioRow, ScalingRead, StalledRow, SummaryStats
from app.projects import service as projects
from app.projects.models import Project, StageTransition
from app.readiness import reads as readiness
from app.rubrics import service as rubrics

ROWS_PER_PAGE = 25
STALLED_SHOWN = 10
KPIS_SHOWN = 20
POINTS_PER_KPI = 200
DECISIONS_SHOWN = 20
EVIDENCE_SHOWN = 50
TRANSITIONS_SHOWN = 100
HISTORY_SHOWN = 50
BLOCKED_KEYS_SHOWN = 5
BLOCKERS_SHOWN = 5
USE_CASES_SHOWN = 10


@dataclass(frozen=True)
class PortfolioPage:
    summary: SummaryStats
    levels: dict[str | None, int]
    rows: list[PortfolioRow]
    next_cursor: str | None
    stalled: list[StalledRow]
    more_stalled: bool
    departments: list[str]
    regions: list[str]
    trend: trends.Trend
    blockers: governance.Blockers
    scaling: ScalingRead


def _choices(session: Session, column: Any) -> list[str]:
    """The values a filter can take, among the projects the caller may see."""
    query = scope.restrict(select(column).where(column.is_not(None)).distinct(), Project.department)
    return sorted(session.scalars(query))


def portfolio_page(
    session: Session, *, filters: portfolio.Filters, cursor: str | None, now: datetime, limits: Mapping[Stage, int]
) -> PortfolioPage:
    """A handful of set-based queries, however many projects: the summary, one page of rows, the
    worst stalled projects, the monthly trend, what holds the portfolio back, and scaling."""
    summary = portfolio.summary(session, filters=filters, group_by=None, now=now, limits=limits)
    levels = portfolio.by_level(session, filters=filters, now=now, limits=limits)
    rows, next_cursor = portfolio.readiness_rows(
        session.connection(), filters=filters, sort="-score", limit=ROWS_PER_PAGE, cursor=cursor, now=now, limits=limits
    )
    stalled, more = portfolio.stalled(
        session, filters=filters, limit=STALLED_SHOWN, cursor=None, now=now, limits=limits
    )
    return PortfolioPage(
        summary=summary.overall,
        levels=levels,
        rows=rows,
        next_cursor=next_cursor,
        stalled=stalled,
        more_stalled=more is not None,
        departments=_choices(session, Project.department),
        regions=_choices(session, Project.region),
        trend=trends.trend(
            session, filters=filters, group_by=None, interval="month", first=None, last=None, now=now, limits=limits
        ),
        blockers=governance.blockers(
            session,
            rubric_key=DEFAULT_RUBRIC_KEY,
            filters=filters,
            keys=BLOCKED_KEYS_SHOWN,
            now=now,
            limits=limits,
        ),
        scaling=scaling.view(session, filters=filters, limit=USE_CASES_SHOWN, cursor=None, now=now, limits=limits),
    )


@dataclass(frozen=True)
class KpiSeries:
    kpi: Kpi
    points: list[tuple[datetime, float]]


@dataclass(frozen=True)
class ProjectPage:
    project: Project
    view: readiness.ReadinessView
    kpis: list[KpiSeries]
    transitions: list[StageTransition]
    decisions: list[Decision]
    history: list[readiness.HistoryEntry]
    references: dict[str, tuple[scoring.Reference, ...]]
    criteria: tuple[scoring.Criterion, ...]
    open_request: DecisionRequestRead | None
    evidence: list[Evidence]


def project_page(session: Session, *, key: str, limits: Mapping[Stage, int], refresh_stale: bool) -> ProjectPage | None:
    """None when the stored readiness is out of date and `refresh_stale` is false (a read
    transaction cannot re-score it)."""
    view = readiness.view(session, key=key, limits=limits, refresh_stale=refresh_stale)
    if view is None:
        return None
    project = projects.get_project(session, key=key)
    found, _ = kpis.list_kpis(session, project_key=key, limit=KPIS_SHOWN, cursor=None)
    series = []
    for kpi in found:
        measurements: list[Measurement]
        measurements, _ = kpis.list_measurements(
            session, project_key=key, kpi_key=kpi.key, since=None, until=None, limit=POINTS_PER_KPI, cursor=None
        )
        series.append(KpiSeries(kpi, [(m.measured_at, m.value) for m in reversed(measurements)]))
    transitions, _ = projects.list_transitions(session, key=key, limit=TRANSITIONS_SHOWN, cursor=None)
    decisions, _ = list_decisions(session, key=key, limit=DECISIONS_SHOWN, cursor=None)
    history = readiness.history(session, key=key, limit=HISTORY_SHOWN, cursor=None, refresh_stale=False)
    result = view.current.result
    rubric = rubrics.to_engine(*rubrics.get_version(session, key=result["rubric"], number=result["rubric_version"]))
    return ProjectPage(
        project=project,
        view=view,
        kpis=series,
        transitions=transitions,
        decisions=decisions,
        history=history[0] if history is not None else [],
        references={criterion.key: criterion.references for criterion in rubric.criteria},
        criteria=rubric.criteria,
        open_request=requests.open_request(session, key=key),
        evidence=evidence.list_evidence(session, key=key, limit=EVIDENCE_SHOWN, cursor=None)[0],
    )


def stages_of(project: Project, transitions: list[StageTransition]) -> list[tuple[str, datetime, datetime | None]]:
    """Each stay in a stage, oldest first, the current one open-ended: what the timeline draws."""
    if not transitions:
        return [(project.stage, project.stage_entered_at, None)]
    stays: list[tuple[str, datetime, datetime | None]] = [
        (transitions[0].from_stage, transitions[0].from_stage_entered_at, transitions[0].transitioned_at)
    ]
    for this, following in zip(transitions, [*transitions[1:], None], strict=True):
        stays.append((this.to_stage, this.transitioned_at, following.transitioned_at if following else None))
    return stays
