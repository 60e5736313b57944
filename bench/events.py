"""`python -m bench.events`: webhook deliveries per second with one worker, and what the outbox
costs batch ingestion, on SQLite and PostgreSQL. Figures only; `make bench` runs it after the rest.

Deliveries: events put straight into the outbox of a fresh database, one subscription to a
receiver on loopback (aiohttp, in a process of its own), one `readiness worker` process; the
figure is events delivered per second from the worker's start to the last one received, spread
over 1,000 projects, and again for a single project, whose events go strictly one at a time.

Outbox cost: the same 1,000-item measurement batch over 1,000 projects, posted in alternation
with the event steps of the write epilogue (the outbox, KPI statuses and stall risks) installed and
removed, in one process; the ratio of the medians is the cost.
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bench.run import ADMIN_SECRET, free_port, postgres_database, progress

EVENTS = 10_000


def _receive(port: int, counter: "multiprocessing.sharedctypes.Synchronized[int]") -> None:
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        with counter.get_lock():
            counter.value += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@contextmanager
def receiver() -> Iterator[tuple[str, "multiprocessing.sharedctypes.Synchronized[int]"]]:
    port = free_port()
    counter: multiprocessing.sharedctypes.Synchronized[int] = multiprocessing.Value("q", 0)
    process = multiprocessing.Process(target=_receive, args=(port, counter), daemon=True)
    process.start()
    time.sleep(1.0)
    try:
        yield f"http://127.0.0.1:{port}/hooks", counter
    finally:
        process.terminate()
        process.join()


def _fill(url: str, hook_url: str, subjects: int) -> None:
    from app.core.db import Database, make_engine
    from app.core.migrations import upgrade
    from app.events.models import Event, Webhook
    from app.events.outbox import envelope
    from app.events.schemas import Ping

    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    db = Database(engine, threads=1)
    now = datetime.now(UTC)

    def fill(session: Session) -> None:
        session.add(Webhook(url=hook_url, event_types=["*"], secret="whsec_" + "A" * 44, cursor=0))
        rows = []
        for number in range(EVENTS):
            event_id = uuid.uuid4()
            subject = f"project-{number % subjects}"
            data = Ping(webhook_id=event_id, message=str(number))
            rows.append(
                {
                    "id": event_id,
                    "type": "project.updated",
                    "subject": subject,
                    "occurred_at": now,
                    "body": envelope(event_id, "project.updated", subject, now, data),
                }
            )
        session.execute(insert(Event), rows)

    db.work(fill, write=True)()
    db.dispose()


def deliveries_per_second(url: str, subjects: int) -> float:
    with receiver() as (hook_url, counter):
        _fill(url, hook_url, subjects)
        env = {
            **os.environ,
            "READINESS_DATABASE_URL": url,
            "READINESS_WEBHOOK_ALLOWED_DESTINATIONS": "127.0.0.1",
            "READINESS_WEBHOOK_ALLOW_HTTP": "true",
            "READINESS_WORKER_METRICS_PORT": "0",
            "READINESS_LOG_LEVEL": "WARNING",
            "READINESS_RATE_LIMIT": "0",
            "READINESS_AUTH_FAILURE_LIMIT": "0",
        }
        started = time.perf_counter()
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
        try:
            while counter.value < EVENTS and time.perf_counter() - started < 300:
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    return counter.value / seconds


def outbox_cost(url: str, rounds: int) -> tuple[float, float]:
    """Median ms of a 1,000-item batch with the event steps and without them."""
    from fastapi.testclient import TestClient

    from app.core import changes
    from app.core.db import make_engine
    from app.core.migrations import upgrade
    from app.core.settings import Settings
    from app.events import outbox
    from app.main import create_app
    from app.portfolio import watch

    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    # The re-scorer would compete for the same process: ingestion alone is measured here.
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=ADMIN_SECRET,
        dispatcher=False,
        rescorer=False,
        rate_limit=0,
        auth_failure_limit=0,
    )
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        keys = [f"bench-{n:04d}" for n in range(1000)]
        for key in keys:
            client.post("/api/v1/projects", json={"key": key, "name": key, "workflow": "w"}).raise_for_status()
            kpi = {
                "key": "handling-cost",
                "name": "Handling cost",
                "category": "cost",
                "direction": "decrease",
                "baseline": 40,
                "target": 25,
                "target_date": "2027-06-30",
            }
            client.post(f"/api/v1/projects/{key}/kpis", json=kpi).raise_for_status()
        registry = changes._registry  # noqa: SLF001 - the bench takes the steps out to compare
        event_steps = [
            (order, step) for order, step in registry.handlers if step in (outbox.events_of_changes, watch.keep_told)
        ]
        timings: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(rounds * 2):
            with_events = round_ % 2 == 0
            if with_events:
                registry.handlers = sorted([*registry.handlers, *event_steps], key=lambda entry: entry[0])
                registry.last = [outbox.write_pending]
            else:
                registry.handlers = [entry for entry in registry.handlers if entry not in event_steps]
                registry.last = []
            items = [
                {"project": key, "kpi": "handling-cost", "value": 30 + (n + round_) % 9} for n, key in enumerate(keys)
            ]
            started = time.perf_counter()
            client.post("/api/v1/measurements:batch", json={"items": items}).raise_for_status()
            timings[with_events].append((time.perf_counter() - started) * 1000)
        registry.handlers = sorted({*registry.handlers, *event_steps}, key=lambda entry: entry[0])
        registry.last = [outbox.write_pending]
    return statistics.median(timings[True]), statistics.median(timings[False])


@contextmanager
def fresh(database: str, directory: Path) -> Iterator[str]:
    if database == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{directory / f'{uuid.uuid4().hex[:8]}.db'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent.parent / "BENCHMARKS.md")
    args = parser.parse_args()
    lines = [
        "| scenario | sqlite | postgresql |",
        "|---|---|---|",
    ]
    figures: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for database in ("sqlite", "postgresql"):
            for scenario, subjects in (("spread over 1,000 projects", 1000), ("one project, strictly in order", 1)):
                with fresh(database, Path(directory)) as url:
                    rate = deliveries_per_second(url, subjects)
                progress(f"{database}: {rate:,.0f} deliveries/s, {scenario}")
                # The target (1,000/s per worker) is for events spread over projects; one project's
                # are sent one after the other, as ordering requires.
                verdict = ("met: " if rate >= 1000 else "**missed**: ") if subjects > 1 else ""
                label = f"webhook deliveries/s, one worker, {scenario}" + (
                    " (target ≥ 1,000/s)" if subjects > 1 else ""
                )
                figures.setdefault(label, {})[database] = f"{verdict}{rate:,.0f}"
            with fresh(database, Path(directory)) as url:
                with_events, without = outbox_cost(url, args.rounds)
            cost = with_events / without - 1
            progress(f"{database}: batch p50 {with_events:.0f} ms with events, {without:.0f} ms without ({cost:+.0%})")
            figures.setdefault("1,000-item batch p50: with event steps / without (cost)", {})[database] = (
                f"{with_events:.0f} / {without:.0f} ms ({cost:+.0%})"
            )
    for scenario, cells in figures.items():
        lines.append(f"| {scenario} | {cells['sqlite']} | {cells['postgresql']} |")
    table = "\n".join(lines)
    print(table)  # noqa: T201
    write_section(args.output, table, args.rounds)
    return 0


def write_section(output: Path, table: str, rounds: int) -> None:
    """Put the figures in BENCHMARKS.md, replacing those of an earlier run (`make bench` writes
    the rest of the file first)."""
    text = output.read_text() if output.exists() else "# Benchmarks\n"
    heading = "\n## Events and webhooks\n"
    if heading in text:
        before, _, after = text.partition(heading)
        rest = after.split("\n## ", 1)
        text = before + ("\n## " + rest[1] if len(rest) > 1 else "")
    section = (
        f"{heading}\n`python -m bench.events --rounds {rounds}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, run by "
        "`make bench` after the rest). Deliveries: 10,000 events in the outbox of a fresh database, one "
        "subscription to an aiohttp receiver on loopback in its own process, one `readiness worker`; from the "
        "worker's start to the last event received. Outbox cost: the same 1,000-item measurement batch over "
        "1,000 projects, posted in alternation with the event steps of the write epilogue installed and removed, "
        "in one process with the re-scorer off.\n\n" + table + "\n"
    )
    output.write_text(text.rstrip("\n") + "\n" + section)


if __name__ == "__main__":
    raise SystemExit(main())
