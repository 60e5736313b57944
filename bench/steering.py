"""`python -m bench.steering`: how long the steering report's PDF takes for 1,000 projects, from the
request to the last byte (the report computed from the history, then rendered by WeasyPrint).

The demo's story is played through the API (its 24 projects, with months of history, decisions
and measurements), then cloned row for row to 1,000 projects (`bench.dataset`), and the report of
the last quarter is asked for as a PDF a few times; the figure is the median.
"""

import argparse
import io
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Connection

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.demo import PORTFOLIO, build
from app.main import create_app
from bench.dataset import KPI, MEASUREMENT, PROJECT, PROJECT_CHILDREN, Template, _rows, grow
from bench.run import postgres_database, progress

PROJECTS = 1000
REPEATS = 5


def template(connection: Connection, key: str) -> Template:
    """A demo project's rows, to be cloned."""
    (project,) = _rows(connection, PROJECT, PROJECT.c.key == key)
    found = Template(project=project, kpis=_rows(connection, KPI, KPI.c.project_id == project["id"]))
    for kpi in found.kpis:
        found.measurements[kpi["id"]] = _rows(connection, MEASUREMENT, MEASUREMENT.c.kpi_id == kpi["id"])
    for table in PROJECT_CHILDREN:
        found.children[table.name] = _rows(connection, table, table.c.project_id == project["id"])
    return found


def measure(url: str) -> list[float]:
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    settings = Settings(database_url=url, rescorer=False, dispatcher=False, rate_limit=0, auth_failure_limit=0)
    progress("playing the demo's story")
    outcome = build(settings)
    with engine.connect() as connection:
        templates = [template(connection, spec.key) for spec in PORTFOLIO]
    _, seconds = grow(engine, templates, PROJECTS)
    progress(f"cloned to {PROJECTS} projects in {seconds:.1f} s")
    engine.dispose()
    today = datetime.now(UTC).date()
    period = {"from": (today - timedelta(days=90)).isoformat(), "to": today.isoformat()}
    timings = []
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {outcome.admin_secret}"
        projects = client.get("/api/v1/reports/steering", params=period).json()["projects"]
        for _ in range(REPEATS):
            started = time.perf_counter()
            response = client.get("/api/v1/reports/steering", params=period, headers={"Accept": "application/pdf"})
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        pages = len(PdfReader(io.BytesIO(response.content)).pages)
    progress(f"{projects} projects in the report; the PDF has {pages} pages, {len(response.content) // 1024} KiB")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL database, not SQLite")
    args = parser.parse_args()
    if args.postgres:
        with postgres_database() as url:
            timings = measure(url)
        database = "PostgreSQL"
    else:
        with tempfile.TemporaryDirectory() as directory:
            timings = measure(f"sqlite:///{Path(directory) / 'steering.db'}")
        database = "SQLite"
    print(  # noqa: T201
        f"steering report PDF, {PROJECTS} projects, {database}: median {statistics.median(timings):.2f} s, "
        f"slowest {max(timings):.2f} s over {REPEATS} requests"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
