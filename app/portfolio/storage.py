"""Where the status rows meet the database's dialect: the columns measurements change, computed by
the database in one UPDATE, and the scores re-scoring stores, in one statement.

A batch of measurements over 1,000 projects must not read their KPIs into Python and write 1,000
rows back: the last measurement, the monthly benefit (realized and projected, as
`app.engine.roi.compute_roi` defines it) and when inactivity sets in are aggregates of the KPI rows
that the database already holds. The ROI rule is restated here in SQL and the tests hold it to the
engine's. PostgreSQL computes money in `numeric` from each reading's shortest decimal form, exactly
as the engine does; SQLite, which stores money as a double anyway, computes in doubles.
"""

import uuid
from collections.abc import Collection, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Numeric,
    String,
    Table,
    Update,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.core.among import among_parameter
from app.core.changes import WRITTEN
from app.core.storage import update_rows
from app.engine.kpi import Direction
from app.engine.stall import EVALUATION_QUIET_DAYS, EXPECTS_ACTIVITY, MEASUREMENT_QUIET_DAYS
from app.kpis.models import Kpi
from app.portfolio.models import ProjectStatus
from app.projects.models import Project

KPI: Table = Kpi.__table__  # type: ignore[assignment]
PROJECT: Table = Project.__table__  # type: ignore[assignment]
STATUS: Table = ProjectStatus.__table__  # type: ignore[assignment]


class days_after(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """`moment + days`, as Python's `timedelta(days=...)` adds them: 86,400 seconds each."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "days_after"


@compiles(days_after, "postgresql")
def _days_after_pg(element: days_after, compiler: Any, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # Seconds, not days: a day of `interval` follows the session's time zone across DST changes.
    return f"({moment} + make_interval(secs => {days} * 86400))"


@compiles(days_after, "sqlite")
def _days_after_sqlite(element: days_after, compiler: Any, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # SQLAlchemy stores a SQLite datetime as 'YYYY-MM-DD HH:MM:SS.ffffff'. SQLite's date functions
    # keep milliseconds and would round .9999 up into the next second, so whole days are added to
    # the whole seconds and the fraction, which they never change, is carried over as text.
    whole = f"strftime('%Y-%m-%d %H:%M:%S', substr({moment}, 1, 19), '+' || {days} || ' days')"
    return f"({whole} || substr({moment}, 20))"


class earlier(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """The earlier of two moments, neither NULL."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "earlier"


@compiles(earlier, "postgresql")
def _earlier_pg(element: earlier, compiler: Any, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(earlier, "sqlite")
def _earlier_sqlite(element: earlier, compiler: Any, **kw: Any) -> str:
    # SQLite's scalar min(); its stored datetimes compare as text in time order.
    return f"min({compiler.process(element.clauses, **kw)})"


class exact(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """A stored float as the decimal the engine reads it as: its shortest representation."""

    type = Numeric()
    inherit_cache = True
    name = "exact"


@compiles(exact, "postgresql")
def _exact_pg(element: exact, compiler: Any, **kw: Any) -> str:
    # float8's text output is its shortest round-trip form (extra_float_digits ≥ 1, the default),
    # which is what `Decimal(repr(value))` reads.
    return f"CAST(CAST({compiler.process(element.clauses, **kw)} AS TEXT) AS NUMERIC)"


@compiles(exact, "sqlite")
def _exact_sqlite(element: exact, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


class code_point_order(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """A text column ordered as Python's `sorted` orders strings, whatever the database collation."""

    type = String()
    inherit_cache = True
    name = "code_point_order"


@compiles(code_point_order, "postgresql")
def _code_point_order_pg(element: code_point_order, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)} COLLATE "C")'


@compiles(code_point_order, "sqlite")
def _code_point_order_sqlite(element: code_point_order, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"  # BINARY, SQLite's default collation


def _benefit(reading: ColumnElement[Any], currency: ColumnElement[Any]) -> ColumnElement[Any]:
    """A KPI's monthly benefit at `reading`; NULL where the engine leaves the KPI out."""
    counted = and_(
        KPI.c.value_per_unit.is_not(None),
        KPI.c.baseline.is_not(None),
        reading.is_not(None),
        or_(KPI.c.currency.is_(None), currency.is_(None), KPI.c.currency == currency),
    )
    improvement = case(
        (KPI.c.direction == Direction.increase.value, exact(reading) - exact(KPI.c.baseline)),
        else_=exact(KPI.c.baseline) - exact(reading),
    )
    return case((counted, improvement * KPI.c.value_per_unit))


PROJECT_IDS = "measured_project_ids"


@cache
def _refresh_measured(dialect: str) -> Update:
    """The UPDATE of the status rows of the projects given as `PROJECT_IDS` (a list, sorted) after
    measurements: last measured, benefit, currency and when inactivity sets in, with the stall risk
    made due. The stall signals and the evaluation stay as they are. Projects without a status row
    are left out; its row count says how many were updated. Built once per dialect: building and
    keying a statement of this size costs more than running it for a single measurement."""
    # One statement, built in one place: its parts are subqueries of each other.
    # The project's own currency: its costs', else that of its first priced KPI by key.
    first_priced = (
        select(KPI.c.currency)
        .where(
            KPI.c.project_id == PROJECT.c.id,
            KPI.c.value_per_unit.is_not(None),
            KPI.c.value_per_unit != 0,
            KPI.c.currency.is_not(None),
        )
        .order_by(code_point_order(KPI.c.key))
        .limit(1)
        .scalar_subquery()
    )
    # Status rows are locked in project order, as every writer of them takes them, so that two
    # writers never deadlock; SQLite, with one writer at a time, takes no row locks. Being locked,
    # the rows are read once, before the KPIs are summed per project.
    measured_projects = (
        select(
            PROJECT.c.id,
            PROJECT.c.stage,
            PROJECT.c.stage_entered_at,
            func.coalesce(PROJECT.c.currency, first_priced).label("currency"),
        )
        .join(STATUS, STATUS.c.project_id == PROJECT.c.id)
        .where(among_parameter(dialect, PROJECT.c.id, PROJECT_IDS))
    )
    # Python's sqlite3 counts no rows for a statement that begins with WITH, and a row count of -1
    # would send every batch to look for projects without a status row.
    projects = (
        measured_projects.order_by(PROJECT.c.id).with_for_update(of=STATUS).cte("measured_project")
        if dialect == "postgresql"
        else measured_projects.subquery("measured_project")
    )
    totals = (
        select(
            projects.c.id,
            projects.c.stage,
            projects.c.stage_entered_at,
            projects.c.currency,
            func.max(KPI.c.latest_measured_at).label("last_measured_at"),
            func.coalesce(func.sum(_benefit(KPI.c.latest_value, projects.c.currency)), 0).label("realized"),
            func.coalesce(func.sum(_benefit(KPI.c.target, projects.c.currency)), 0).label("projected"),
        )
        .select_from(projects.outerjoin(KPI, KPI.c.project_id == projects.c.id))
        .group_by(projects.c.id, projects.c.stage, projects.c.stage_entered_at, projects.c.currency)
        .subquery("measured_totals")
    )
    # As `stall.quiet_from_times`: a stage that expects activity turns quiet a while after the
    # last measurement or evaluation, counted from entering the stage if there was none.
    quiet_from = case(
        (
            totals.c.stage.in_(sorted(stage.value for stage in EXPECTS_ACTIVITY)),
            earlier(
                days_after(func.coalesce(totals.c.last_measured_at, totals.c.stage_entered_at), MEASUREMENT_QUIET_DAYS),
                days_after(func.coalesce(STATUS.c.evaluated_at, totals.c.stage_entered_at), EVALUATION_QUIET_DAYS),
            ),
        )
    )
    return (
        update(STATUS)
        .where(STATUS.c.project_id == totals.c.id)
        .values(
            last_measured_at=totals.c.last_measured_at,
            realized_monthly_benefit=totals.c.realized,
            projected_monthly_benefit=totals.c.projected,
            currency=totals.c.currency,
            quiet_from=quiet_from,
            # The stall risk may change with `quiet_from`: due for the re-scorer, in this same row version.
            risk_changes_at=literal(WRITTEN, STATUS.c.risk_changes_at.type),
        )
    )


def update_measured(connection: Connection, project_ids: Collection[uuid.UUID]) -> int:
    """Run `_refresh_measured` for these projects; returns how many status rows it updated."""
    if connection.dialect.name == "postgresql":
        # The planner prices a set-based statement from statistics that a stream of batches keeps
        # stale (each leaves dead row versions behind); priced high, it would be JIT-compiled, which
        # costs seconds for a statement that runs in milliseconds.
        connection.exec_driver_sql("SET LOCAL jit = off")
    result = connection.execute(_refresh_measured(connection.dialect.name), {PROJECT_IDS: sorted(project_ids)})
    return int(result.rowcount)


# The scores the portfolio sorts and filters on, from four arrays: one statement, compiled once,
# whatever the number of projects.
STATUS_SCORES = text(
    f"UPDATE {STATUS.name} SET rank_score = fresh.score, score = fresh.score, level = fresh.level, "
    "gate_passed = fresh.gate_passed, undone = fresh.undone "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:scores AS float8[]), CAST(:levels AS varchar[]), "
    "CAST(:gates AS boolean[]), CAST(:undone AS text[])) AS fresh (project_id, score, level, gate_passed, undone) "
    f"WHERE {STATUS.name}.project_id = fresh.project_id"
)


def store_scores(connection: Connection, scores: Sequence[tuple[uuid.UUID, float, str, bool, str]]) -> None:
    """The scores (and the criteria undone) on the projects' status rows: one `UPDATE` over arrays
    on PostgreSQL; on SQLite, which has no round trips to save, one prepared `UPDATE` run for every
    row."""
    if connection.dialect.name == "postgresql":
        ids, values, levels, gates, undone = zip(*scores, strict=True)
        connection.execute(
            STATUS_SCORES,
            {
                "ids": list(ids),
                "scores": list(values),
                "levels": list(levels),
                "gates": list(gates),
                "undone": list(undone),
            },
        )
        return
    rows = [
        {
            "project_id": project_id,
            "rank_score": score,
            "score": score,
            "level": level,
            "gate_passed": gate_passed,
            "undone": undone,
        }
        for project_id, score, level, gate_passed, undone in scores
    ]
    update_rows(connection, STATUS, "project_id", rows)
