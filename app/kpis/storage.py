"""Measurements stored many at a time, in as few statements as the database allows.

A batch of 1,000 points is one statement each way whatever its size: on PostgreSQL the points go
in by binary `COPY`, and the lists of a batch travel as arrays (`unnest`) instead of one bound
parameter per value; SQLite, in process, runs a prepared statement over the rows (`executemany`),
except for the latest values, which it reads from one JSON array.
"""

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, column, insert, select, text, values
from sqlalchemy.orm import Session

from app.core.changes import WRITTEN
from app.core.db import UTCDateTime
from app.kpis.models import Kpi, Measurement

KPI_TABLE: Table = Kpi.__table__  # type: ignore[assignment]
MEASUREMENT_TABLE: Table = Measurement.__table__  # type: ignore[assignment]
POINT_COLUMNS = (
    "id",
    "kpi_id",
    "value",
    "measured_at",
    "keyed",
    "source",
    "note",
    "recorded_at",
    "recorded_by_identity",
)
POINT_TYPES = ("uuid", "uuid", "float8", "timestamptz", "bool", "varchar", "varchar", "timestamptz", "varchar")
# Keys a statement on SQLite: two parameters a key, well under its limit of 32,766.
NATURAL_KEY_CHUNK = 5000


@dataclass(frozen=True)
class Newest:
    """A KPI's newest point among those just written."""

    kpi_id: uuid.UUID
    measured_at: datetime
    value: float


def _on_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def insert_points(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert these measurement rows (every column given)."""
    connection = session.connection()
    if not _on_postgresql(connection):
        connection.execute(insert(MEASUREMENT_TABLE), list(rows))
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    copy_statement = f"COPY measurement ({', '.join(POINT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(copy_statement) as copy:
        copy.set_types(POINT_TYPES)
        for row in rows:
            copy.write_row([row[name] for name in POINT_COLUMNS])


ADVANCE_LATEST_PG = text(
    """
    UPDATE kpi
    SET latest_value = newest.value, latest_measured_at = newest.measured_at, version = kpi.version + 1,
        status_changes_at = CAST(:written AS timestamptz)
    FROM unnest(CAST(:kpi_ids AS uuid[]), CAST(:measured_ats AS timestamptz[]), CAST(:readings AS float8[]))
        AS newest (kpi_id, measured_at, value)
    WHERE kpi.id = newest.kpi_id
        AND (kpi.latest_measured_at IS NULL OR kpi.latest_measured_at <= newest.measured_at)
    """
)


# SQLite binds the points as one JSON array of [kpi_id, measured_at, value] in their stored forms:
# one statement instead of 1,000 executions of a prepared one, whose per-row binding cost more
# than the B-tree updates themselves.
ADVANCE_LATEST_SQLITE = text(
    """
    UPDATE kpi
    SET latest_value = newest.value, latest_measured_at = newest.measured_at, version = kpi.version + 1,
        status_changes_at = :written
    FROM (
        SELECT point.value ->> 0 AS kpi_id, point.value ->> 1 AS measured_at, point.value ->> 2 AS value
        FROM json_each(:newest) AS point
    ) AS newest
    WHERE kpi.id = newest.kpi_id
        AND (kpi.latest_measured_at IS NULL OR kpi.latest_measured_at <= newest.measured_at)
    """
).bindparams(bindparam("written", type_=UTCDateTime()))


def advance_latest(session: Session, newest: Collection[Newest]) -> None:
    """Move each KPI's latest measurement forward; a later or equal measured_at wins, and makes
    the KPI's status due (`WRITTEN`), the one status a measurement can change.

    Conditional, so that concurrent writers never lose the newest value and never conflict.
    """
    connection = session.connection()
    if _on_postgresql(connection):
        connection.execute(
            ADVANCE_LATEST_PG,
            {
                "kpi_ids": [point.kpi_id for point in newest],
                "measured_ats": [point.measured_at for point in newest],
                "readings": [point.value for point in newest],
                "written": WRITTEN,
            },
        )
        return
    stored_id = KPI_TABLE.c.id.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    stored_moment = KPI_TABLE.c.latest_measured_at.type.dialect_impl(connection.dialect).bind_processor(
        connection.dialect
    )
    assert stored_id is not None
    assert stored_moment is not None
    points = [[stored_id(point.kpi_id), stored_moment(point.measured_at), point.value] for point in newest]
    connection.execute(ADVANCE_LATEST_SQLITE, {"newest": json.dumps(points), "written": WRITTEN})


KEYED_POINTS_PG = text(
    """
    SELECT measurement.id, measurement.kpi_id, measurement.measured_at, measurement.value,
        measurement.source, measurement.note
    FROM measurement
    JOIN unnest(CAST(:kpi_ids AS uuid[]), CAST(:measured_ats AS timestamptz[])) AS sent (kpi_id, measured_at)
        ON measurement.kpi_id = sent.kpi_id AND measurement.measured_at = sent.measured_at
    WHERE measurement.keyed
    """
).columns(
    MEASUREMENT_TABLE.c.id,
    MEASUREMENT_TABLE.c.kpi_id,
    MEASUREMENT_TABLE.c.measured_at,
    MEASUREMENT_TABLE.c.value,
    MEASUREMENT_TABLE.c.source,
    MEASUREMENT_TABLE.c.note,
)


def keyed_points(session: Session, keys: Collection[tuple[uuid.UUID, datetime]]) -> dict[tuple[Any, Any], Any]:
    """The stored points of these (KPI, measured_at) natural keys."""
    connection = session.connection()
    if _on_postgresql(connection):
        rows = connection.execute(
            KEYED_POINTS_PG,
            {"kpi_ids": [kpi_id for kpi_id, _ in keys], "measured_ats": [measured_at for _, measured_at in keys]},
        )
        return {(row.kpi_id, row.measured_at): row for row in rows}
    found: dict[tuple[Any, Any], Any] = {}
    ordered = list(keys)
    for start in range(0, len(ordered), NATURAL_KEY_CHUNK):
        # Joined from a list of the keys: SQLite uses no index for `(a, b) IN (VALUES ...)` and
        # would scan every stored measurement, for each batch.
        sent = (
            values(
                column("kpi_id", MEASUREMENT_TABLE.c.kpi_id.type),
                column("measured_at", MEASUREMENT_TABLE.c.measured_at.type),
                name="sent",
            )
            .data(ordered[start : start + NATURAL_KEY_CHUNK])
            .cte("sent")
        )
        rows = connection.execute(
            select(
                MEASUREMENT_TABLE.c.id,
                MEASUREMENT_TABLE.c.kpi_id,
                MEASUREMENT_TABLE.c.measured_at,
                MEASUREMENT_TABLE.c.value,
                MEASUREMENT_TABLE.c.source,
                MEASUREMENT_TABLE.c.note,
            )
            .select_from(
                sent.join(
                    MEASUREMENT_TABLE,
                    and_(
                        MEASUREMENT_TABLE.c.kpi_id == sent.c.kpi_id,
                        MEASUREMENT_TABLE.c.measured_at == sent.c.measured_at,
                    ),
                )
            )
            .where(MEASUREMENT_TABLE.c.keyed)
        )
        found.update({(row.kpi_id, row.measured_at): row for row in rows})
    return found
