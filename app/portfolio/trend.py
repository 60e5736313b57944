"""The portfolio's trend: how it moved, bucket by bucket, read from the histories the service keeps
(stage transitions, readiness history, measurements), so that it is right for the past too.

Set-based: five queries over the whole filtered set, whatever the number of buckets. The readiness
history and the measurements, the long histories, come back reduced in SQL to the last row of each
project or KPI in each bucket. Python then walks each project's changes once and adds what each
change does to the figures (a delta) to the bucket where it happens; a running sum over the
buckets turns the deltas into the figures.
"""

import heapq
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.auth import scope
from app.core.errors import FieldError, Unprocessable
from app.core.snapshots import ReadCache
from app.engine.roi import KpiValue, ProjectCosts, compute_roi
from app.engine.stages import FORWARD_ORDER, Stage
from app.kpis.models import Kpi, Measurement
from app.portfolio.models import ProjectStatus
from app.portfolio.service import Filters, GroupBy, _filtered, _group_column, _money, risk_expression
from app.projects.models import Project, StageTransition
from app.readiness.models import ReadinessHistory

Interval = Literal["week", "month"]
DEFAULT_BUCKETS = 12
MAX_BUCKETS = 104
# Dashboards poll the trend, which walks every project's history: kept until anything commits.
_trends = ReadCache(max_age=timedelta(seconds=5))
STAGES = tuple(stage.value for stage in (*FORWARD_ORDER, Stage.retired))
APPROXIMATIONS = (
    "stalled counts the projects over their stage's time limit (READINESS_STAGE_LIMITS_DAYS) at the end of "
    "the bucket, the current one included; the other stall signals (scope, success metric, ownership, "
    "infrastructure, no recent measurement or evaluation) are known only for the present: "
    "GET /portfolio/summary counts them today",
    "realized_monthly_benefit applies each KPI's current baseline, direction, value per unit and currency, "
    "and the project's current costs currency, to the latest measurement at the end of the bucket",
    "department, region, owner and tag, as filters and as groups, are the projects' current ones; the stage, "
    "level and risk filters select the projects by their current value, and every bucket shows those "
    "projects as they were then",
    "deleted projects and KPIs are left out of every bucket, past ones included",
)


@dataclass(frozen=True)
class TrendPoint:
    start: datetime
    end: datetime
    as_of: datetime
    projects: int
    by_stage: dict[str, int]
    entered_production: int
    mean_score: float | None
    go_live_ready: int
    stalled: int
    realized_monthly_benefit: dict[str, float]


@dataclass(frozen=True)
class TrendGroup:
    group: str | None
    points: list[TrendPoint]


@dataclass(frozen=True)
class Trend:
    interval: Interval
    group_by: GroupBy | None
    approximations: list[str]
    overall: list[TrendPoint]
    groups: list[TrendGroup]


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime  # exclusive: the next bucket's start


def _bucket_start(day: date, interval: Interval) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_start(start: date, interval: Interval) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def buckets(interval: Interval, first: date | None, last: date | None, today: date) -> list[Bucket]:
    """The ISO weeks or calendar months from the one holding `first` to the one holding `last`
    (today at the latest: the future has no figures); by default the 12 ending with `last`."""
    last = min(last or today, today)
    if first is not None and first > last:
        raise Unprocessable(
            "`from` must not be after `to`, nor after today.",
            errors=[FieldError(field="query.from", message=f"after {last.isoformat()}")],
        )
    starts = [_bucket_start(last, interval)]
    if first is None:
        while len(starts) < DEFAULT_BUCKETS:
            starts.insert(0, _bucket_start(starts[0] - timedelta(days=1), interval))
    else:
        first_start = _bucket_start(first, interval)
        while starts[0] > first_start:
            if len(starts) == MAX_BUCKETS:
                raise Unprocessable(
                    f"At most {MAX_BUCKETS} buckets: narrow `from`..`to` or choose a longer interval.",
                    errors=[FieldError(field="query.from", message=f"more than {MAX_BUCKETS} {interval}s before `to`")],
                )
            starts.insert(0, _bucket_start(starts[0] - timedelta(days=1), interval))
    return [Bucket(_midnight(start), _midnight(_next_start(start, interval))) for start in starts]


@dataclass(frozen=True)
class _Standing:
    """What one project adds to the figures of its group at the end of a bucket."""

    group: Any
    stage: str
    score: Decimal | None
    ready: bool
    stalled: bool
    currency: str | None
    benefit: Decimal


@dataclass
class _Tally:
    projects: int = 0
    by_stage: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    scored: int = 0
    score_sum: Decimal = Decimal(0)
    ready: int = 0
    stalled: int = 0
    benefit: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    entered_production: int = 0

    def add(self, standing: _Standing, sign: int) -> None:
        self.projects += sign
        self.by_stage[standing.stage] += sign
        if standing.score is not None:
            self.scored += sign
            self.score_sum += sign * standing.score
        self.ready += sign * standing.ready
        self.stalled += sign * standing.stalled
        if standing.currency is not None:
            self.benefit[standing.currency] += sign * standing.benefit

    def absorb(self, other: "_Tally") -> None:
        self.projects += other.projects
        for stage, count in other.by_stage.items():
            self.by_stage[stage] += count
        self.scored += other.scored
        self.score_sum += other.score_sum
        self.ready += other.ready
        self.stalled += other.stalled
        for currency, amount in other.benefit.items():
            self.benefit[currency] += amount

    def point(self, bucket: Bucket, as_of: datetime, entered_production: int) -> TrendPoint:
        # Currencies stay listed once a project in them has been seen, as the summary lists them.
        return TrendPoint(
            start=bucket.start,
            end=bucket.end,
            as_of=as_of,
            projects=self.projects,
            by_stage={stage: self.by_stage.get(stage, 0) for stage in STAGES},
            entered_production=entered_production,
            mean_score=float(round(self.score_sum / self.scored, 2)) if self.scored else None,
            go_live_ready=self.ready,
            stalled=self.stalled,
            realized_monthly_benefit={currency: _money(amount) for currency, amount in sorted(self.benefit.items())},
        )


@dataclass
class _Project:
    """A project's changes, by the bucket they land in."""

    group: Any
    created_at: datetime
    created: int
    costs: ProjectCosts
    changes: dict[int, list[tuple[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def land(self, index: int, kind: str, change: Any) -> None:
        # A measurement may be dated before the project was created: it counts from the creation.
        self.changes[max(index, self.created)].append((kind, change))


@dataclass
class _State:
    stage: str
    entered_at: datetime
    score: Decimal | None = None
    ready: bool = False
    values: dict[uuid.UUID, float] = field(default_factory=dict)


def _bucket_of(column: InstrumentedAttribute[datetime], ends: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the bucket a moment falls in; moments past the last bucket are filtered out."""
    return case(*((column < end, index) for index, end in enumerate(ends)))


def _counted(column: InstrumentedAttribute[datetime], ends: Sequence[datetime], now: datetime) -> ColumnElement[bool]:
    return (column < ends[-1]) & (column <= now)


def trend(
    session: Session,
    *,
    filters: Filters,
    group_by: GroupBy | None,
    interval: Interval,
    first: date | None,
    last: date | None,
    now: datetime,
    limits: Mapping[Stage, int],
) -> Trend:
    """Per bucket (and group): projects per stage, entries into production, mean score, go-live
    ready, stalled and realized monthly benefit, each as it stood at the end of the bucket."""
    key = ("trend", filters, group_by, interval, first, last, scope.departments(), tuple(sorted(limits.items())))
    return _trends.read(
        session,
        key,
        now,
        lambda: _trend(
            session,
            filters=filters,
            group_by=group_by,
            interval=interval,
            first=first,
            last=last,
            now=now,
            limits=limits,
        ),
    )


def _trend(
    session: Session,
    *,
    filters: Filters,
    group_by: GroupBy | None,
    interval: Interval,
    first: date | None,
    last: date | None,
    now: datetime,
    limits: Mapping[Stage, int],
) -> Trend:
    # One function: every bucket's figures come from the same few queries, replayed in time order.
    periods = buckets(interval, first, last, now.date())
    ends = [bucket.end for bucket in periods]
    # The figures of a bucket describe its last moment; the current bucket's, this one.
    as_of = [min(end, now) for end in ends]

    risk = risk_expression(now, limits)
    selected = _filtered(select(ProjectStatus.project_id), filters, risk)
    # A project's stage group is its stage at the time, which the walk follows.
    current_group = _group_column(group_by) if group_by in ("department", "region") else None
    created = (
        select(
            Project.id,
            Project.created_at,
            Project.build_cost,
            Project.run_cost_per_month,
            Project.currency,
            (current_group if current_group is not None else literal(None)).label("group"),
        )
        .join(ProjectStatus, ProjectStatus.project_id == Project.id)
        .where(_counted(Project.created_at, ends, now))
    )
    projects: dict[uuid.UUID, _Project] = {}
    for row in session.execute(_filtered(created, filters, risk)):
        projects[row.id] = _Project(
            group=row.group,
            created_at=row.created_at,
            created=bisect_right(ends, row.created_at),
            costs=ProjectCosts(row.build_cost, row.run_cost_per_month, row.currency),
        )

    for project_id, to_stage, at in session.execute(
        select(StageTransition.project_id, StageTransition.to_stage, StageTransition.transitioned_at)
        .where(StageTransition.project_id.in_(selected), _counted(StageTransition.transitioned_at, ends, now))
        .order_by(StageTransition.project_id, StageTransition.transitioned_at, StageTransition.id)
    ):
        if project_id in projects:
            projects[project_id].land(bisect_right(ends, at), "stage", (to_stage, at))

    for project_id, index, score, gate_passed in last_in_each_bucket(
        session,
        select(ReadinessHistory.project_id, ReadinessHistory.score, ReadinessHistory.gate_passed).where(
            ReadinessHistory.project_id.in_(selected), _counted(ReadinessHistory.changed_at, ends, now)
        ),
        partition=ReadinessHistory.project_id,
        at=ReadinessHistory.changed_at,
        order=(ReadinessHistory.changed_at.desc(), ReadinessHistory.id.desc()),
        ends=ends,
    ):
        if project_id in projects:
            projects[project_id].land(index, "readiness", (score, gate_passed))

    kpis: dict[uuid.UUID, list[Kpi]] = defaultdict(list)
    owner: dict[uuid.UUID, uuid.UUID] = {}
    for kpi in session.scalars(select(Kpi).where(Kpi.project_id.in_(selected)).order_by(Kpi.key)):
        kpis[kpi.project_id].append(kpi)
        owner[kpi.id] = kpi.project_id
    for kpi_id, index, value in last_in_each_bucket(
        session,
        select(Measurement.kpi_id, Measurement.value).where(
            Measurement.kpi_id.in_(select(Kpi.id).where(Kpi.project_id.in_(selected))),
            _counted(Measurement.measured_at, ends, now),
        ),
        partition=Measurement.kpi_id,
        at=Measurement.measured_at,
        order=(Measurement.measured_at.desc(), Measurement.recorded_at.desc()),
        ends=ends,
    ):
        measured = projects.get(owner[kpi_id])
        if measured is not None:
            measured.land(index, "measurement", (kpi_id, value))

    deltas: list[dict[Any, _Tally]] = [defaultdict(_Tally) for _ in periods]
    for project_id, project in projects.items():
        _walk(project, kpis[project_id], group_by, periods, as_of, limits, deltas)
    return _accumulate(interval, group_by, periods, as_of, deltas)


def last_in_each_bucket(
    session: Session,
    query: Select[*tuple[Any, ...]],
    *,
    partition: InstrumentedAttribute[uuid.UUID],
    at: InstrumentedAttribute[datetime],
    order: tuple[ColumnElement[Any], ...],
    ends: Sequence[datetime],
) -> list[Any]:
    """(partition, bucket index, the query's other columns) of the last row of each partition in
    each bucket: what a bucket's end sees of a history, without the rows in between."""
    bucket = _bucket_of(at, ends)
    ranked = query.add_columns(
        bucket.label("bucket"),
        func.row_number().over(partition_by=(partition, bucket), order_by=order).label("rank"),
    ).subquery()
    columns = [column for column in ranked.c if column.name not in ("bucket", "rank")]
    key, rest = columns[0], columns[1:]
    # In bucket order, so that of two rows moved to the same bucket the later one is applied last.
    query = select(key, ranked.c.bucket, *rest).where(ranked.c.rank == 1).order_by(key, ranked.c.bucket)
    return list(session.execute(query))


def _walk(
    project: _Project,
    kpis: list[Kpi],
    group_by: GroupBy | None,
    periods: Sequence[Bucket],
    as_of: Sequence[datetime],
    limits: Mapping[Stage, int],
    deltas: list[dict[Any, _Tally]],
) -> None:
    """Add to `deltas` what the project changes in the figures, at each bucket where it changes
    them: its own changes, and the moment it goes over its stage's time limit."""
    state = _State(stage=Stage.idea.value, entered_at=project.created_at)
    values = [kpi.roi_value() for kpi in kpis]
    pending = [project.created, *project.changes]
    heapq.heapify(pending)
    before: _Standing | None = None
    while pending:
        index = heapq.heappop(pending)
        if pending and pending[0] == index:
            continue
        for kind, change in project.changes.pop(index, []):
            match kind:
                case "stage":
                    state.stage, state.entered_at = change
                    if state.stage == Stage.production.value and change[1] >= periods[0].start:
                        group = state.stage if group_by == "stage" else project.group
                        deltas[index][group].entered_production += 1
                case "readiness":
                    state.score, state.ready = Decimal(repr(change[0])), change[1]
                case "measurement":
                    state.values[change[0]] = change[1]
        limit = limits.get(Stage(state.stage)) if state.stage != Stage.retired.value else None
        if limit is not None:
            due = bisect_right(as_of, state.entered_at + timedelta(days=limit))
            if index < due < len(periods):
                heapq.heappush(pending, due)
        after = _standing(project, state, values, kpis, as_of[index], limit, group_by)
        if after != before:
            if before is not None:
                deltas[index][before.group].add(before, -1)
            deltas[index][after.group].add(after, 1)
            before = after


def _standing(
    project: _Project,
    state: _State,
    values: list[KpiValue],
    kpis: list[Kpi],
    as_of: datetime,
    limit: int | None,
    group_by: GroupBy | None,
) -> _Standing:
    then = [replace(value, latest=state.values.get(kpi.id)) for value, kpi in zip(values, kpis, strict=True)]
    report = compute_roi(then, project.costs, 1)
    return _Standing(
        group=state.stage if group_by == "stage" else project.group,
        stage=state.stage,
        score=state.score,
        ready=state.ready,
        stalled=limit is not None and as_of - state.entered_at > timedelta(days=limit),
        currency=report.currency,
        benefit=report.realized.monthly_benefit,
    )


def _accumulate(
    interval: Interval,
    group_by: GroupBy | None,
    periods: Sequence[Bucket],
    as_of: Sequence[datetime],
    deltas: list[dict[Any, _Tally]],
) -> Trend:
    names = sorted({name for delta in deltas for name in delta}, key=str)
    running = {name: _Tally() for name in names}
    overall = _Tally()
    overall_points: list[TrendPoint] = []
    group_points: dict[Any, list[TrendPoint]] = {name: [] for name in names}
    for index, bucket in enumerate(periods):
        entered = 0
        for name, delta in deltas[index].items():
            running[name].absorb(delta)
            overall.absorb(delta)
            entered += delta.entered_production
        for name in names:
            moved = deltas[index].get(name)
            entered_here = moved.entered_production if moved else 0
            group_points[name].append(running[name].point(bucket, as_of[index], entered_here))
        overall_points.append(overall.point(bucket, as_of[index], entered))
    return Trend(
        interval=interval,
        group_by=group_by,
        approximations=list(APPROXIMATIONS),
        overall=overall_points,
        groups=[TrendGroup(name, group_points[name]) for name in names] if group_by else [],
    )
