"""Programmes at scale: reading an initiative's progress at 100,000 projects (the target: under
200 ms) and previewing a rubric version at 10,000 (under 10 s), on SQLite and PostgreSQL.

`python -m bench.programmes` starts the service (`readiness serve`, the re-scorer in process),
seeds template projects through its API, clones them with `bench.dataset` (each clone's history
moved back by up to half a year, so that burn-ups have weeks to walk), then measures:

- `POST /rubrics/{key}/versions:preview` of a version raising the go-live section's weight, at the
  preview size (single client, after one warm-up call);
- `GET /initiatives/{key}/progress` at the full size, for an initiative with a gate goal over one
  department and one with a goal of two criteria over the whole portfolio, both starting 26 weeks
  ago: the first read (which keeps the finished weeks, unless the watch already did) and then
  reads as a portal polls them.

Figures only: nothing here passes or fails.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from bench import dataset
from bench.run import ADMIN_SECRET, AUTH, postgres_database, progress, rescored_within, seed, server

TEMPLATES = 60
SHIFTED = {
    "project": ("created_at", "updated_at", "stage_entered_at"),
    "project_status": ("stage_entered_at",),
    "stage_transition": ("transitioned_at", "from_stage_entered_at"),
    "readiness_history": ("changed_at",),
}
GO_LIVE_FACTS = (
    ("security.review_completed", True),
    ("compliance.review_completed", True),
    ("ops.alerting_enabled", True),
    ("ops.escalation_path", "pager rota"),
    ("ops.rollback_procedure_url", "https://wiki.example/rollback"),
    ("ops.team_trained", True),
    ("ops.runbook_url", "https://wiki.example/runbook"),
    ("perf.benchmarks_tracked", True),
)


def moved_back(index: int, clone: dataset.Clone) -> dataset.Clone:
    """The clone as if it had started up to half a year ago: its history spread over the weeks."""
    offset = timedelta(days=(index * 37) % 182, hours=index % 24)
    for table, columns in SHIFTED.items():
        for row in clone.get(table, []):
            for column in columns:
                if isinstance(row.get(column), datetime):
                    row[column] -= offset
    return clone


def seed_programmes(base: str) -> None:
    """The bench's templates, and the go-live facts for a third of them, so that goals are met by some."""
    seed(base, TEMPLATES)
    now = datetime.now(UTC).isoformat()
    items: list[dict[str, Any]] = []
    for index in range(0, TEMPLATES, 3):
        key = dataset.project_key(index)
        items += [{"project": key, "name": name, "value": value} for name, value in GO_LIVE_FACTS]
        items.append({"project": key, "name": "ops.rollback_tested_at", "value": now})
    with httpx.Client(base_url=f"{base}/api/v1", headers=AUTH, timeout=120) as api:
        api.post("/facts:batch", json={"items": items}).raise_for_status()


def timed(call: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000, response


def percentiles(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms ({len(ordered)} reads)"


def measure_preview(api: httpx.Client, size: int) -> list[str]:
    definition = api.get("/api/v1/rubrics/ai-production-readiness").raise_for_status().json()
    for section in definition["sections"]:
        if section["key"] == "go_live":
            section["weight"] = 3
    path = "/api/v1/rubrics/ai-production-readiness/versions:preview"
    timings = []
    answer: dict[str, Any] = {}
    for _ in range(3):
        elapsed, response = timed(lambda: api.post(path, json=definition))
        timings.append(elapsed)
        answer = response.json()
    return [
        f"POST versions:preview at {answer['projects']:,} projects: {percentiles(timings)}; "
        f"{len(answer['changes']):,} projects would change (size {size:,})"
    ]


INITIATIVES = (
    {
        "key": "gate-in-claims",
        "name": "Gate criteria met in claims",
        "goal": {"gate": True},
        "scope": {"department": "claims"},
    },
    {
        "key": "monitoring-everywhere",
        "name": "Monitoring and observability everywhere",
        "goal": {"criteria": ["go_live.monitoring_alerting", "infrastructure.observability_in_pilot"]},
        "scope": {},
    },
)


def measure_progress(api: httpx.Client, reads: int) -> list[str]:
    lines = []
    starts_at = (datetime.now(UTC) - timedelta(weeks=26)).isoformat()
    for initiative in INITIATIVES:
        body = {
            **initiative,
            "owner": {"name": "Ana Souza", "email": "ana@example.com"},
            "starts_at": starts_at,
            "target_date": (datetime.now(UTC) + timedelta(days=90)).date().isoformat(),
        }
        api.post("/api/v1/initiatives", json=body).raise_for_status()
        path = f"/api/v1/initiatives/{initiative['key']}/progress"
        first, response = timed(lambda path=path: api.get(path))
        shown = response.json()
        timings = [timed(lambda path=path: api.get(path))[0] for _ in range(reads)]
        lines.append(
            f"GET {path}: first read {first:.0f} ms, then {percentiles(timings)}; in scope {shown['in_scope']:,}, "
            f"done {shown['done']:,}, {len(shown['burn_up'])} weeks of burn-up"
        )
    return lines


@contextmanager
def database_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'programmes.db'}"
        return
    with postgres_database() as url:
        yield url


def run(kind: str, projects: int, preview_projects: int, reads: int) -> list[str]:
    lines = []
    with TemporaryDirectory() as directory, database_url(kind, Path(directory)) as url:
        env = {
            "READINESS_DATABASE_URL": url,
            "READINESS_BOOTSTRAP_ADMIN_KEY": ADMIN_SECRET,
            "READINESS_LOG_LEVEL": "WARNING",
            "READINESS_RATE_LIMIT": "0",
            "READINESS_AUTH_FAILURE_LIMIT": "0",
        }
        with (
            server([sys.executable, "-m", "app.cli", "serve"], env, "/readyz") as (base, _),
            httpx.Client(base_url=base, headers=AUTH, timeout=600) as api,
        ):
            seed_programmes(base)
            rescored_within(api)
            data = dataset.DataSet(url, TEMPLATES)
            try:
                for size, measure in ((preview_projects, "preview"), (projects, "progress")):
                    added, seconds = data.grow(size, moved_back)
                    progress(f"{kind}: grown to {size:,} projects in {seconds:.0f} s")
                    rescored_within(api, limit=1800)
                    found = measure_preview(api, size) if measure == "preview" else measure_progress(api, reads)
                    for line in found:
                        progress(f"{kind}: {line}")
                    lines += [f"{kind}: {line}" for line in found]
            finally:
                data.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--preview-projects", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args()
    lines = []
    for kind in args.databases.split(","):
        lines += run(kind, args.projects, args.preview_projects, args.reads)
    print("\n".join(lines))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
