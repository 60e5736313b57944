"""The large data sets: a few dozen template projects go through the service's API, then bulk
inserts into the migrations-built tables clone them, the way a data migration would write rows.

Every clone is a template's rows under a new key and new ids (its KPIs, measurements, facts,
stage history, evaluations, attestations, and the status row, current readiness and readiness
history the service derived for the template), so
the data is exactly what the service itself wrote, in the proportions of the templates, and
100,000 projects take a minute instead of the hours that one API call per project would.
Audit events are the one thing not cloned: they record requests, and clones were never requested.
"""

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, text

import app.main  # noqa: F401  (registers every table on the metadata)
from app.core.db import Base, make_engine

TABLES = Base.metadata.tables
PROJECT, KPI, MEASUREMENT = TABLES["project"], TABLES["kpi"], TABLES["measurement"]
# Children of a project, in an order that satisfies the foreign keys.
PROJECT_CHILDREN = tuple(
    TABLES[name]
    for name in (
        "fact",
        "stage_transition",
        "evaluation",
        "attestation",
        "project_status",
        "project_readiness",
        "readiness_history",
    )
)
CHUNK = 2000


def project_key(index: int) -> str:
    return f"project-{index:06d}"


@dataclass
class Template:
    project: dict[str, Any]
    kpis: list[dict[str, Any]] = field(default_factory=list)
    measurements: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def clone(self, index: int) -> dict[str, list[dict[str, Any]]]:
        """This template's rows for project number `index`: new key, new ids, same content."""
        project_id = uuid.uuid4()
        naming = {"key": project_key(index), "name": f"Project {index}"}
        rows: dict[str, list[dict[str, Any]]] = {
            PROJECT.name: [{**self.project, "id": project_id, **naming}],
            KPI.name: [],
            MEASUREMENT.name: [],
        }
        for kpi in self.kpis:
            kpi_id = uuid.uuid4()
            rows[KPI.name].append({**kpi, "id": kpi_id, "project_id": project_id})
            rows[MEASUREMENT.name] += [
                {**measurement, "id": uuid.uuid4(), "kpi_id": kpi_id} for measurement in self.measurements[kpi["id"]]
            ]
        new_ids: dict[uuid.UUID, uuid.UUID] = {}
        for table in PROJECT_CHILDREN:
            rows[table.name] = []
            for child in self.children[table.name]:
                row = {**child, "project_id": project_id}
                if table.name == "project_status":  # it keeps copies of the project's key and name
                    row.update(naming)
                if table.name == "readiness_history":  # numbered by the database
                    del row["id"]
                elif "id" in row:
                    row["id"] = new_ids[child["id"]] = uuid.uuid4()
                if row.get("evaluation_id") is not None:
                    row["evaluation_id"] = new_ids[child["evaluation_id"]]
                rows[table.name].append(row)
        return rows


def _rows(connection: Connection, table: Table, *where: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(select(table).where(*where))]


def load_templates(connection: Connection, count: int) -> list[Template]:
    templates = []
    for index in range(count):
        (project,) = _rows(connection, PROJECT, PROJECT.c.key == project_key(index))
        template = Template(project=project, kpis=_rows(connection, KPI, KPI.c.project_id == project["id"]))
        for kpi in template.kpis:
            template.measurements[kpi["id"]] = _rows(connection, MEASUREMENT, MEASUREMENT.c.kpi_id == kpi["id"])
        for table in PROJECT_CHILDREN:
            template.children[table.name] = _rows(connection, table, table.c.project_id == project["id"])
        templates.append(template)
    return templates


def _chunks(start: int, stop: int) -> Iterator[range]:
    for first in range(start, stop, CHUNK):
        yield range(first, min(first + CHUNK, stop))


def _insert_all(connection: Connection, clones: Iterable[dict[str, list[dict[str, Any]]]]) -> int:
    by_table: dict[str, list[dict[str, Any]]] = {}
    for clone in clones:
        for name, rows in clone.items():
            by_table.setdefault(name, []).extend(rows)
    for table in (PROJECT, KPI, MEASUREMENT, *PROJECT_CHILDREN):
        if by_table.get(table.name):
            connection.execute(insert(table), by_table[table.name])
    return len(by_table.get(MEASUREMENT.name, []))


Clone = dict[str, list[dict[str, Any]]]


def grow(
    engine: Engine, templates: list[Template], size: int, adjust: Callable[[int, Clone], Clone] | None = None
) -> tuple[int, float]:
    """Clone `templates` in turn until there are `size` projects, each clone passed through
    `adjust` (with its number) when given; (measurements added, seconds)."""
    started = time.perf_counter()
    with engine.connect() as connection:
        existing = connection.scalar(select(func.count()).select_from(PROJECT)) or 0
    measurements = 0
    for indexes in _chunks(existing, size):
        with engine.begin() as connection:
            clones = (templates[index % len(templates)].clone(index) for index in indexes)
            if adjust is not None:
                clones = (adjust(index, clone) for index, clone in zip(indexes, clones, strict=True))
            measurements += _insert_all(connection, clones)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    return measurements, time.perf_counter() - started


class DataSet:
    """The templates as the API wrote them, read once: the benchmark's own writes to them later
    (thousands of measurements on the first project) must not be cloned into every copy."""

    def __init__(self, url: str, templates: int) -> None:
        # ANALYZE of a large data set on a busy machine takes longer than a request may.
        self.engine = make_engine(url, pool_size=1, statement_timeout_ms=600_000)
        with self.engine.connect() as connection:
            self.templates = load_templates(connection, templates)

    def grow(self, size: int, adjust: Callable[[int, Clone], Clone] | None = None) -> tuple[int, float]:
        return grow(self.engine, self.templates, size, adjust)

    def close(self) -> None:
        self.engine.dispose()
