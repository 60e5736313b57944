"""Portfolio reads: readiness across projects, what is stalling, and summaries by group.

Everything here reads the per-project status rows (see `status.py`) with SQL filters, sorts and
aggregates; nothing loads every project into Python.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from app.core.db import seconds_between
from app.core.errors import NotFound
from app.core.pagination import decode_cursor, encode_cursor, keyset_after
from app.engine import stall
from app.engine.stages import FORWARD_ORDER, Stage
from app.evaluations.models import Evaluation
from app.kpis.models import Kpi
from app.portfolio.models import ProjectStatus
from app.portfolio.status import profile
from app.projects.models import Project, StageTransition

Sort = Literal["score", "-score", "days_in_stage", "-days_in_stage", "name", "key"]
GroupBy = Literal["department", "region", "stage"]
STALLED_RISKS = (stall.Risk.medium.value, stall.Risk.high.value)
UNSCORED = -1.0  # projects not evaluated yet sort below every score
DAY = 86400.0


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    region: str | None = None
    stage: Stage | None = None
    level: str | None = None
    risk: stall.Risk | None = None


def risk_expression(now: datetime, limits: Mapping[Stage, int]) -> ColumnElement[str]:
    """A project's stall risk now: the stored risk with or without inactivity, settled by comparing
    timestamps (over its stage's time limit, or quiet since `quiet_from`)."""
    overdue = [
        and_(Project.stage == stage.value, Project.stage_entered_at < now - timedelta(days=days))
        for stage, days in limits.items()
    ]
    inactive = or_(ProjectStatus.quiet_from < now, *overdue) if overdue else ProjectStatus.quiet_from < now
    return case((inactive, ProjectStatus.risk_inactive), else_=ProjectStatus.risk_active)


def _filtered(query: Select[Any], filters: Filters, risk: ColumnElement[str]) -> Select[Any]:
    if filters.department is not None:
        query = query.where(Project.department == filters.department)
    if filters.region is not None:
        query = query.where(Project.region == filters.region)
    if filters.stage is not None:
        query = query.where(Project.stage == filters.stage.value)
    if filters.level is not None:
        query = query.where(ProjectStatus.level == filters.level)
    if filters.risk is not None:
        query = query.where(risk == filters.risk.value)
    return query


def _sort_key(sort: Sort) -> tuple[ColumnElement[Any], bool, Any]:
    """The column to keyset on, whether it runs descending, and how to read a cursor's value of it."""
    score = func.coalesce(ProjectStatus.score, UNSCORED)
    match sort:
        case "score" | "-score":
            return score, sort == "-score", float
        case "days_in_stage" | "-days_in_stage":
            # More days in the stage is an earlier entry: `days_in_stage` ascending runs newest entry first.
            return Project.stage_entered_at.expression, sort == "days_in_stage", datetime.fromisoformat
        case "name":
            return Project.name.expression, False, str
        case "key":
            return Project.key.expression, False, str


def readiness_rows(
    session: Session,
    *,
    filters: Filters,
    sort: Sort,
    limit: int,
    cursor: str | None,
    now: datetime,
    limits: Mapping[Stage, int],
) -> tuple[list[dict[str, Any]], str | None]:
    """One row per project: its latest score, level, gate, stage, days in stage, risk and benefit."""
    risk = risk_expression(now, limits)
    sort_column, descending, parse = _sort_key(sort)
    columns = select(
        Project.key,
        Project.name,
        Project.department,
        Project.region,
        Project.stage,
        Project.stage_entered_at,
        ProjectStatus.score,
        ProjectStatus.level,
        ProjectStatus.gate_passed,
        ProjectStatus.evaluated_at,
        risk.label("risk"),
        ProjectStatus.realized_monthly_benefit,
        ProjectStatus.projected_monthly_benefit,
        ProjectStatus.currency,
        sort_column.label("sort_value"),
    ).outerjoin(ProjectStatus, ProjectStatus.project_id == Project.id)
    query = _filtered(cast(Select[Any], columns), filters, risk)
    keys: list[ColumnElement[Any]] = [sort_column, Project.key.expression]
    if cursor is not None:
        value, after_key = decode_cursor(cursor, parse, str)
        query = query.where(keyset_after(keys, [value, after_key], descending=descending))
    order = [key.desc() if descending else key.asc() for key in keys]
    rows = list(session.execute(query.order_by(*order).limit(limit + 1)).mappings())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        value = last["sort_value"]
        next_cursor = encode_cursor([value.isoformat() if isinstance(value, datetime) else value, last["key"]])
    return [_row(row, now) for row in rows[:limit]], next_cursor


def _row(row: Mapping[Any, Any], now: datetime) -> dict[str, Any]:
    return {
        "key": row["key"],
        "name": row["name"],
        "department": row["department"],
        "region": row["region"],
        "stage": row["stage"],
        "days_in_stage": (now - row["stage_entered_at"]).days,
        "score": row["score"],
        "level": row["level"],
        "gate_passed": row["gate_passed"],
        "evaluated_at": row["evaluated_at"],
        "risk": row["risk"],
        "realized_monthly_benefit": row["realized_monthly_benefit"],
        "projected_monthly_benefit": row["projected_monthly_benefit"],
        "currency": row["currency"],
    }


def stalled(
    session: Session, *, limit: int, cursor: str | None, now: datetime, limits: Mapping[Stage, int]
) -> tuple[list[dict[str, Any]], str | None]:
    """Projects at medium or high stall risk, worst first, each with its signals."""
    risk = risk_expression(now, limits)
    rank = case((risk == stall.Risk.high.value, 2), else_=1)
    query = (
        select(Project, ProjectStatus, risk.label("risk"), rank.label("rank"))
        .join(ProjectStatus, ProjectStatus.project_id == Project.id)
        .where(risk.in_(STALLED_RISKS))
    )
    if cursor is not None:
        after_rank, after_key = decode_cursor(cursor, int, str)
        query = query.where(or_(rank < after_rank, and_(rank == after_rank, Project.key > after_key)))
    rows = list(session.execute(query.order_by(rank.desc(), Project.key).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].rank, rows[limit - 1].Project.key]) if len(rows) > limit else None
    rows = rows[:limit]
    projects = [row.Project for row in rows]
    diagnoses = diagnose_many(session, projects, now, limits)
    items = [
        {
            "key": row.Project.key,
            "name": row.Project.name,
            "department": row.Project.department,
            "stage": row.Project.stage,
            "days_in_stage": (now - row.Project.stage_entered_at).days,
            "risk": row.risk,
            "signals": diagnoses[row.Project.id].signals,
        }
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
    return {
        project.id: stall.diagnose(profile(project, kpis[project.id], evaluated.get(project.id)), now, dict(limits))
        for project in projects
    }


def _group_column(group_by: GroupBy | None) -> ColumnElement[Any]:
    if group_by is None:
        return literal("all")
    column = {"department": Project.department, "region": Project.region, "stage": Project.stage}[group_by]
    return column.expression


def _medians(session: Session, values: Select[Any]) -> dict[tuple[Any, ...], float]:
    """The median of `value` per group, from a query of (group columns..., value), in SQL."""
    source = values.subquery()
    *group_columns, value = source.c
    ranked = (
        select(
            *group_columns,
            value.label("value"),
            func.row_number().over(partition_by=group_columns, order_by=value).label("position"),
            func.count().over(partition_by=group_columns).label("size"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    *ranked_groups, ranked_value, position, size = ranked.c
    middle = or_(position == (size + 1) // 2, position == (size + 2) // 2)
    query = select(*ranked_groups, func.avg(ranked_value)).where(middle).group_by(*ranked_groups)
    return {tuple(row[:-1]): float(row[-1]) for row in session.execute(query)}


def summary(
    session: Session, *, group_by: GroupBy | None, now: datetime, limits: Mapping[Stage, int]
) -> dict[str, Any]:
    groups = _summarise(session, _group_column(group_by), now, limits)
    overall = _summarise(session, _group_column(None), now, limits)
    return {
        "group_by": group_by,
        "groups": [{"group": name, **stats} for name, stats in sorted(groups.items(), key=lambda i: str(i[0]))]
        if group_by
        else [],
        "overall": overall.get("all") or _empty_stats(),
    }


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


def _summarise(
    session: Session, group: ColumnElement[Any], now: datetime, limits: Mapping[Stage, int]
) -> dict[Any, dict[str, Any]]:
    risk = risk_expression(now, limits)
    joined = select(Project).outerjoin(ProjectStatus, ProjectStatus.project_id == Project.id)
    stats: dict[Any, dict[str, Any]] = defaultdict(_empty_stats)

    for name, stage, count in session.execute(
        joined.with_only_columns(group, Project.stage, func.count()).group_by(group, Project.stage)
    ):
        stats[name]["by_stage"][stage] = count
        stats[name]["projects"] += count

    def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    totals = joined.with_only_columns(
        group,
        func.avg(ProjectStatus.score),
        counted(ProjectStatus.gate_passed.is_(True)),
        counted(and_(risk.in_(STALLED_RISKS), Project.stage != Stage.retired.value)),
        counted(ProjectStatus.ever_poc.is_(True)),
        counted(ProjectStatus.ever_production.is_(True)),
    ).group_by(group)
    for name, mean, ready, stalled_count, entered_poc, reached_production in session.execute(totals):
        entry = stats[name]
        entry["mean_score"] = round(float(mean), 2) if mean is not None else None
        entry["go_live_ready"] = int(ready or 0)
        entry["stalled"] = int(stalled_count or 0)
        entry["poc_to_production"] = {
            "entered_poc": int(entered_poc or 0),
            "reached_production": int(reached_production or 0),
            "rate": round(int(reached_production or 0) / int(entered_poc), 4) if entered_poc else None,
        }

    for (name,), median in _medians(session, joined.with_only_columns(group, ProjectStatus.score)).items():
        stats[name]["median_score"] = round(median, 2)

    previous = func.lag(StageTransition.transitioned_at).over(
        partition_by=StageTransition.project_id, order_by=(StageTransition.transitioned_at, StageTransition.id)
    )
    stays = select(
        group.label("grp"),
        StageTransition.from_stage.label("stage"),
        (seconds_between(func.coalesce(previous, Project.created_at), StageTransition.transitioned_at) / DAY).label(
            "days"
        ),
    ).join(Project, Project.id == StageTransition.project_id)
    for (name, stage), median in _medians(session, stays).items():
        if stage in stats[name]["median_days_in_stage"]:
            stats[name]["median_days_in_stage"][stage] = round(median, 2)

    benefits = (
        joined.with_only_columns(
            group,
            ProjectStatus.currency,
            func.sum(ProjectStatus.realized_monthly_benefit),
            func.sum(ProjectStatus.projected_monthly_benefit),
        )
        .where(ProjectStatus.currency.is_not(None))
        .group_by(group, ProjectStatus.currency)
    )
    for name, currency, realized, projected in session.execute(benefits):
        stats[name]["monthly_benefit"]["realized"][currency] = _money(realized)
        stats[name]["monthly_benefit"]["projected"][currency] = _money(projected)
    return dict(stats)


def _money(value: Any) -> float:
    return float(round(Decimal(value or 0), 2))


def badge(session: Session, *, key: str) -> tuple[float | None, str | None, uuid.UUID | None]:
    """The score, level and evaluation behind a project's badge; 404 for an unknown project."""
    row = session.execute(
        select(Project.id, ProjectStatus.score, ProjectStatus.level, ProjectStatus.evaluation_id)
        .outerjoin(ProjectStatus, ProjectStatus.project_id == Project.id)
        .where(Project.key == key)
    ).first()
    if row is None:
        raise NotFound(f"No project with key {key!r}.")
    return row.score, row.level, row.evaluation_id
