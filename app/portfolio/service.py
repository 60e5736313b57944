"""Portfolio reads: readiness across projects, what is stalling, and summaries by group.

Everything here reads the per-project status rows (see `status.py`) with SQL filters, sorts and
aggregates; nothing loads every project into Python.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.db import contains_element, seconds_between
from app.core.pagination import (
    cursor_integer,
    cursor_moment,
    cursor_number,
    cursor_text,
    decode_cursor,
    encode_cursor,
    keyset_after,
)
from app.core.snapshots import ReadCache
from app.engine import stall
from app.engine.frameworks import RiskTier
from app.engine.stages import FORWARD_ORDER, Stage
from app.kpis.models import Kpi
from app.portfolio.models import ProjectStatus
from app.portfolio.schemas import PortfolioRow, StalledRow, SummaryRead
from app.projects.models import Project, StageTransition
from app.readiness.inputs import stall_profile, surroundings
from app.readiness.models import Evaluation

Sort = Literal["score", "-score", "days_in_stage", "-days_in_stage", "name", "key"]
GroupBy = Literal["department", "region", "stage"]
STALLED_RISKS = (stall.Risk.medium.value, stall.Risk.high.value)
DAY = 86400.0


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    region: str | None = None
    stage: Stage | None = None
    level: str | None = None
    risk: stall.Risk | None = None
    owner: str | None = None
    tag: str | None = None
    risk_tier: RiskTier | None = None


def risk_expression(now: datetime, limits: Mapping[Stage, int]) -> ColumnElement[str]:
    """A project's stall risk now: the stored risk with or without inactivity, settled by comparing
    timestamps (over its stage's time limit, or quiet since `quiet_from`)."""
    overdue = [
        and_(ProjectStatus.stage == stage.value, ProjectStatus.stage_entered_at < now - timedelta(days=days))
        for stage, days in limits.items()
    ]
    inactive = or_(ProjectStatus.quiet_from < now, *overdue) if overdue else ProjectStatus.quiet_from < now
    return case((inactive, ProjectStatus.risk_inactive), else_=ProjectStatus.risk_active)


def _filtered(query: Select[Any], filters: Filters, risk: ColumnElement[str] | None) -> Select[Any]:
    query = scope.restrict(query, ProjectStatus.department)
    if filters.department is not None:
        query = query.where(ProjectStatus.department == filters.department)
    if filters.region is not None:
        query = query.where(ProjectStatus.region == filters.region)
    if filters.stage is not None:
        query = query.where(ProjectStatus.stage == filters.stage.value)
    if filters.level is not None:
        query = query.where(ProjectStatus.level == filters.level)
    if filters.risk is not None:
        assert risk is not None, "a risk filter needs the risk expression"
        query = query.where(risk == filters.risk.value)
    if filters.owner is not None:
        owner = filters.owner.lower()
        query = query.where(
            or_(ProjectStatus.business_owner_email == owner, ProjectStatus.technical_owner_email == owner)
        )
    if filters.tag is not None:
        query = query.where(contains_element(ProjectStatus.tags, filters.tag))
    if filters.risk_tier is not None:
        query = query.where(ProjectStatus.risk_tier == filters.risk_tier.value)
    return query


def filtered(query: Select[Any], filters: Filters, now: datetime, limits: Mapping[Stage, int]) -> Select[Any]:
    """The query narrowed to the projects in the caller's scope that match the filters: for views
    built elsewhere on the status rows."""
    return _filtered(query, filters, risk_expression(now, limits))


def _sort_key(sort: Sort) -> tuple[ColumnElement[Any], bool, Any]:
    """The column to keyset on, whether it runs descending, and how to read a cursor's value of it."""
    match sort:
        case "score" | "-score":
            return ProjectStatus.rank_score.expression, sort == "-score", cursor_number
        case "days_in_stage" | "-days_in_stage":
            # More days in the stage is an earlier entry: `days_in_stage` ascending runs newest entry first.
            return ProjectStatus.stage_entered_at.expression, sort == "days_in_stage", cursor_moment
        case "name":
            return ProjectStatus.name.expression, False, cursor_text
        case "key":
            return ProjectStatus.key.expression, False, cursor_text


@cache
def _page_statement(sort: Sort) -> Select[Any]:
    """The columns of a portfolio page in a sort's order, built once: pages are the most polled read."""
    sort_column, _, _ = _sort_key(sort)
    columns = select(
        ProjectStatus.key,
        ProjectStatus.name,
        ProjectStatus.department,
        ProjectStatus.region,
        ProjectStatus.business_owner_email,
        ProjectStatus.technical_owner_email,
        ProjectStatus.stage,
        ProjectStatus.stage_entered_at,
        ProjectStatus.score,
        ProjectStatus.level,
        ProjectStatus.gate_passed,
        ProjectStatus.evaluated_at,
        ProjectStatus.quiet_from,
        ProjectStatus.risk_active,
        ProjectStatus.risk_inactive,
        ProjectStatus.realized_monthly_benefit,
        ProjectStatus.projected_monthly_benefit,
        ProjectStatus.currency,
        sort_column.label("sort_value"),
    )
    return cast(Select[Any], columns)


def readiness_rows(
    connection: Connection,
    *,
    filters: Filters,
    sort: Sort,
    limit: int,
    cursor: str | None,
    now: datetime,
    limits: Mapping[Stage, int],
) -> tuple[list[PortfolioRow], str | None]:
    """One row per project: its latest score, level, gate, stage, days in stage, risk and benefit."""
    sort_column, descending, parse = _sort_key(sort)
    query = _filtered(_page_statement(sort), filters, risk_expression(now, limits) if filters.risk else None)
    keys: list[ColumnElement[Any]] = [sort_column, ProjectStatus.key.expression]
    if cursor is not None:
        value, after_key = decode_cursor(cursor, parse, cursor_text)
        query = query.where(keyset_after(keys, [value, after_key], descending=descending))
    order = [key.desc() if descending else key.asc() for key in keys]
    rows = list(connection.execute(query.order_by(*order).limit(limit + 1)).mappings())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        value = last["sort_value"]
        next_cursor = encode_cursor([value.isoformat() if isinstance(value, datetime) else value, last["key"]])
    days = {stage.value: timedelta(days=limit_days) for stage, limit_days in limits.items()}
    return [_row(row, now, days) for row in rows[:limit]], next_cursor


def risk_now(row: Mapping[Any, Any], now: datetime, limits: Mapping[str, timedelta]) -> str:
    """`risk_expression`'s rule for a row already read: the risk with inactivity once it has set in
    (quiet since `quiet_from`, or over the stage's time limit)."""
    quiet = row["quiet_from"] is not None and row["quiet_from"] < now
    limit = limits.get(row["stage"])
    overdue = limit is not None and row["stage_entered_at"] < now - limit
    return str(row["risk_inactive"] if quiet or overdue else row["risk_active"])


def _row(row: Mapping[Any, Any], now: datetime, limits: Mapping[str, timedelta]) -> PortfolioRow:
    return PortfolioRow.model_validate(
        {
            "key": row["key"],
            "name": row["name"],
            "department": row["department"],
            "region": row["region"],
            "business_owner_email": row["business_owner_email"],
            "technical_owner_email": row["technical_owner_email"],
            "stage": row["stage"],
            "days_in_stage": (now - row["stage_entered_at"]).days,
            "score": row["score"],
            "level": row["level"],
            "gate_passed": row["gate_passed"],
            "evaluated_at": row["evaluated_at"],
            "risk": risk_now(row, now, limits),
            "realized_monthly_benefit": row["realized_monthly_benefit"],
            "projected_monthly_benefit": row["projected_monthly_benefit"],
            "currency": row["currency"],
        }
    )


def stalled(
    session: Session, *, filters: Filters, limit: int, cursor: str | None, now: datetime, limits: Mapping[Stage, int]
) -> tuple[list[StalledRow], str | None]:
    """Projects at medium or high stall risk, worst first, each with its signals."""
    risk = risk_expression(now, limits)
    rank = case((risk == stall.Risk.high.value, 2), else_=1)
    query = (
        select(Project, ProjectStatus, risk.label("risk"), rank.label("rank"))
        .join(ProjectStatus, ProjectStatus.project_id == Project.id)
        .where(risk.in_(STALLED_RISKS))
    )
    query = _filtered(query, filters, risk)
    if cursor is not None:
        after_rank, after_key = decode_cursor(cursor, cursor_integer, cursor_text)
        query = query.where(or_(rank < after_rank, and_(rank == after_rank, Project.key > after_key)))
    rows = list(session.execute(query.order_by(rank.desc(), Project.key).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].rank, rows[limit - 1].Project.key]) if len(rows) > limit else None
    rows = rows[:limit]
    projects = [row.Project for row in rows]
    diagnoses = diagnose_many(session, projects, now, limits)
    items = [
        StalledRow.model_validate(
            {
                "key": row.Project.key,
                "name": row.Project.name,
                "department": row.Project.department,
                "stage": row.Project.stage,
                "days_in_stage": (now - row.Project.stage_entered_at).days,
                "risk": row.risk,
                "signals": diagnoses[row.Project.id].signals,
            },
            from_attributes=True,
        )
        for row in rows
    ]
    return items, next_cursor


def diagnose_many(
    session: Session, projects: list[Project], now: datetime, limits: Mapping[Stage, int]
) -> dict[uuid.UUID, stall.Diagnosis]:
    """The full diagnosis of each project, read from its data."""
    ids = [project.id for project in projects]
    kpis: dict[uuid.UUID, list[Kpi]] = defaultdict(list)
    for kpi in session.scalars(select(Kpi).where(Kpi.project_id.in_(ids))):
        kpis[kpi.project_id].append(kpi)
    evaluated = dict(
        session.execute(
            select(Evaluation.project_id, func.max(Evaluation.evaluated_at))
            .join(Project, (Project.id == Evaluation.project_id) & (Project.rubric == Evaluation.rubric_key))
            .where(Evaluation.project_id.in_(ids))
            .group_by(Evaluation.project_id)
        ).all()
    )
    around = surroundings(session.connection(), projects)
    return {
        project.id: stall.diagnose(
            stall_profile(project, kpis[project.id], evaluated.get(project.id), around[project.id]), now, dict(limits)
        )
        for project in projects
    }


def _group_column(group_by: GroupBy | None) -> ColumnElement[Any]:
    if group_by is None:
        return literal("all")
    column = {
        "department": ProjectStatus.department,
        "region": ProjectStatus.region,
        "stage": ProjectStatus.stage,
    }[group_by]
    return column.expression


class Histogram:
    """Counts of values, from which a median is exact; histograms of groups add up to the whole's.

    Scores carry two decimals and stays are counted to the hundredth of a day, so a histogram has
    at most a few thousand entries however many projects it counts, and one GROUP BY serves both
    every group's median and the overall median.
    """

    def __init__(self) -> None:
        self.counts: dict[float, int] = defaultdict(int)

    def add(self, value: float, count: int) -> None:
        self.counts[value] += count

    def median(self) -> float | None:
        size = sum(self.counts.values())
        if size == 0:
            return None
        middle = {(size + 1) // 2, (size + 2) // 2}  # 1-based positions; two when size is even
        found, position = [], 0
        for value in sorted(self.counts):
            first, position = position + 1, position + self.counts[value]
            found += [value for wanted in middle if first <= wanted <= position]
        return sum(found) / len(found)


def _empty_stats() -> dict[str, Any]:
    stages = [stage.value for stage in (*FORWARD_ORDER, Stage.retired)]
    return {
        "projects": 0,
        "by_stage": dict.fromkeys(stages, 0),
        "mean_score": None,
        "median_score": None,
        "go_live_ready": 0,
        "stalled": 0,
        "poc_to_production": {"entered_poc": 0, "reached_production": 0, "rate": None},
        "median_days_in_stage": dict.fromkeys((stage.value for stage in FORWARD_ORDER), None),
        "monthly_benefit": {"realized": {}, "projected": {}},
    }


@dataclass
class _Group:
    stats: dict[str, Any] = field(default_factory=_empty_stats)
    scored: int = 0
    score_sum: float = 0.0
    scores: Histogram = field(default_factory=Histogram)
    stays: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    realized: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    projected: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def finish(self) -> dict[str, Any]:
        stats = self.stats
        stats["mean_score"] = round(self.score_sum / self.scored, 2) if self.scored else None
        median = self.scores.median()
        stats["median_score"] = round(median, 2) if median is not None else None
        conversion = stats["poc_to_production"]
        entered, reached = conversion["entered_poc"], conversion["reached_production"]
        conversion["rate"] = round(reached / entered, 4) if entered else None
        for stage, histogram in self.stays.items():
            if stage in stats["median_days_in_stage"]:
                stay = histogram.median()
                stats["median_days_in_stage"][stage] = round(stay, 2) if stay is not None else None
        stats["monthly_benefit"] = {
            "realized": {currency: _money(total) for currency, total in self.realized.items()},
            "projected": {currency: _money(total) for currency, total in self.projected.items()},
        }
        return stats


# Portals poll the summary far more often than the portfolio changes.
_summaries = ReadCache(max_age=timedelta(seconds=5))


def summary(
    session: Session, *, filters: Filters, group_by: GroupBy | None, now: datetime, limits: Mapping[Stage, int]
) -> SummaryRead:
    """The summary as last read, unless anything committed since (or it is a few seconds old)."""
    key = ("summary", filters, group_by, scope.departments(), tuple(sorted(limits.items())))
    return _summaries.read(
        session, key, now, lambda: _summary(session, filters=filters, group_by=group_by, now=now, limits=limits)
    )


def _summary(
    session: Session, *, filters: Filters, group_by: GroupBy | None, now: datetime, limits: Mapping[Stage, int]
) -> SummaryRead:
    """Three GROUP BY queries, each one pass over its table, feed every group and the whole."""
    # One function: the three GROUP BY queries feed the same groups, each one pass over its table.
    group = _group_column(group_by)
    risk = risk_expression(now, limits)
    groups: dict[Any, _Group] = defaultdict(_Group)
    overall = _Group()

    def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    totals = (
        select(
            group.label("name"),
            ProjectStatus.stage,
            ProjectStatus.currency,
            func.count().label("projects"),
            func.count(ProjectStatus.score).label("scored"),
            func.sum(ProjectStatus.score).label("score_sum"),
            counted(ProjectStatus.gate_passed.is_(True)).label("ready"),
            counted(and_(risk.in_(STALLED_RISKS), ProjectStatus.stage != Stage.retired.value)).label("stalled"),
            counted(ProjectStatus.ever_poc.is_(True)).label("entered_poc"),
            counted(ProjectStatus.ever_production.is_(True)).label("reached_production"),
            func.sum(ProjectStatus.realized_monthly_benefit).label("realized"),
            func.sum(ProjectStatus.projected_monthly_benefit).label("projected"),
        )
        .select_from(ProjectStatus)
        .group_by(group, ProjectStatus.stage, ProjectStatus.currency)
    )
    totals = _filtered(totals, filters, risk)
    for row in session.execute(totals):
        for target in (groups[row.name], overall):
            stats = target.stats
            stats["projects"] += row.projects
            stats["by_stage"][row.stage] += row.projects
            stats["go_live_ready"] += int(row.ready or 0)
            stats["stalled"] += int(row.stalled or 0)
            stats["poc_to_production"]["entered_poc"] += int(row.entered_poc or 0)
            stats["poc_to_production"]["reached_production"] += int(row.reached_production or 0)
            target.scored += row.scored
            target.score_sum += float(row.score_sum or 0)
            if row.currency is not None:
                target.realized[row.currency] += Decimal(row.realized or 0)
                target.projected[row.currency] += Decimal(row.projected or 0)

    scores = (
        select(group, ProjectStatus.score, func.count())
        .select_from(ProjectStatus)
        .where(ProjectStatus.score.is_not(None))
        .group_by(group, ProjectStatus.score)
    )
    scores = _filtered(scores, filters, risk)
    stay_hundredths = func.round(
        seconds_between(StageTransition.from_stage_entered_at, StageTransition.transitioned_at) / (DAY / 100)
    )
    stays = (
        select(group, StageTransition.from_stage, stay_hundredths, func.count())
        .select_from(StageTransition)
        .group_by(group, StageTransition.from_stage, stay_hundredths)
    )
    # The whole portfolio's stays need no project columns; a group, filter or scope does.
    if group_by is not None or filters != Filters() or scope.departments() is not None:
        stays = _filtered(
            stays.join(ProjectStatus, ProjectStatus.project_id == StageTransition.project_id), filters, risk
        )
    for name, score, count in session.execute(scores):
        groups[name].scores.add(score, count)
        overall.scores.add(score, count)
    for name, stage, hundredths, count in session.execute(stays):
        groups[name].stays[stage].add(float(hundredths) / 100, count)
        overall.stays[stage].add(float(hundredths) / 100, count)

    return SummaryRead.model_validate(
        {
            "group_by": group_by,
            "groups": [{"group": name, **groups[name].finish()} for name in sorted(groups, key=str)]
            if group_by
            else [],
            "overall": overall.finish(),
        }
    )


def by_level(
    session: Session, *, filters: Filters, now: datetime, limits: Mapping[Stage, int]
) -> dict[str | None, int]:
    """How many of the projects that match the filters stand at each readiness level; None for unscored."""
    counts = select(ProjectStatus.level, func.count()).select_from(ProjectStatus).group_by(ProjectStatus.level)
    query = _filtered(cast(Select[Any], counts), filters, risk_expression(now, limits))
    return {level: int(count) for level, count in session.execute(query)}


def _money(value: Any) -> float:
    return float(round(Decimal(value or 0), 2))
