"""Faults: the database stops and comes back under load; the service is killed mid-batch.

The PostgreSQL here is a private cluster the test makes with initdb on a free loopback port and
stops at will; the machine's shared cluster is never touched.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import DatabaseUrlFactory
from tests.served import Served, free_port


def postgres_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert candidates, "PostgreSQL server binaries (initdb, pg_ctl) are needed"
    return Path(candidates[-1]).parent


class PrivateCluster:
    def __init__(self, directory: Path) -> None:
        self.bin = postgres_bin()
        self.data = directory / "data"
        self.port = free_port()
        self.log = directory / "postgres.log"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as admin:
            admin.execute("CREATE DATABASE readiness")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/readiness"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    # Not under pytest's temporary directory: the postgres user must be able to reach it.
    directory = Path(tempfile.mkdtemp(prefix="readiness-cluster-"))
    directory.chmod(0o755)
    private = PrivateCluster(directory)
    yield private
    subprocess.run(
        [*private.run_as, str(private.bin / "pg_ctl"), "-D", str(private.data), "-m", "immediate", "stop"],
        capture_output=True,
        check=False,
    )
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Load:
    """Writes measurements one after another until stopped, recording what each got."""

    service: Served
    acknowledged: list[int] = field(default_factory=list)
    outcomes: list[tuple[float, int, float]] = field(default_factory=list)  # (when, status, seconds)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.service.client(timeout=10) as api:
            value = 0
            while not self.stop.is_set():
                value += 1
                started = time.monotonic()
                try:
                    status = api.post("/projects/loaded/kpis/cost/measurements", json={"value": value}).status_code
                except httpx.TransportError:
                    status = 0
                self.outcomes.append((started, status, time.monotonic() - started))
                if status == 201:
                    self.acknowledged.append(value)
                time.sleep(0.01)


def seed(service: Served) -> None:
    with service.client() as api:
        api.post("/projects", json={"key": "loaded", "name": "Loaded"})
        kpi = {"key": "cost", "name": "Cost", "category": "cost", "direction": "decrease"}
        assert api.post("/projects/loaded/kpis", json=kpi).status_code == 201


def stored_values(service: Served, project: str = "loaded", kpi: str = "cost") -> list[float]:
    values: list[float] = []
    cursor = None
    with service.client() as api:
        while True:
            params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = api.get(f"/projects/{project}/kpis/{kpi}/measurements", params=params).json()
            values += [m["value"] for m in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return values


def test_a_database_outage_fails_fast_and_the_service_recovers_on_its_own(
    cluster: PrivateCluster, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    with Served(cluster.url, tmp_path) as service:
        seed(service)
        load = Load(service)
        worker = threading.Thread(target=load.run)
        worker.start()
        time.sleep(1.0)

        cluster.stop()
        down_at = time.monotonic()
        time.sleep(1.5)
        readiness_while_down = httpx.get(f"{service.base}/readyz", timeout=5)
        restarting_at = time.monotonic()
        cluster.start()
        up_at = time.monotonic()
        time.sleep(6.0)
        load.stop.set()
        worker.join(timeout=30)

        during = [(status, seconds) for when, status, seconds in load.outcomes if down_at + 0.2 < when < restarting_at]
        recovered = [when for when, status, _ in load.outcomes if when > up_at and status == 201]
        assert during, "no request was made while the database was down"
        assert {status for status, _ in during} == {503}
        assert max(seconds for _, seconds in during) < 2.0
        assert readiness_while_down.status_code == 503
        assert readiness_while_down.headers["content-type"] == "application/problem+json"
        assert recovered, "no write succeeded after the database came back"
        assert recovered[0] - up_at < 5.0
        assert httpx.get(f"{service.base}/readyz", timeout=5).status_code == 200
        stored = stored_values(service)
        record_property("acknowledged", len(load.acknowledged))
        record_property("present", len(stored))
        record_property("refused_while_down", len(during))
        record_property("slowest_refusal_s", round(max(seconds for _, seconds in during), 3))
        record_property("recovery_s", round(recovered[0] - up_at, 3))
        assert sorted(stored) == sorted(float(v) for v in load.acknowledged)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_killed_service_keeps_every_acknowledged_batch_whole_and_no_other_half(
    backend: str,
    database_url_factory: DatabaseUrlFactory,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    service = Served(database_url_factory(backend), tmp_path).start()
    seed(service)
    acknowledged: list[int] = []
    size = 400

    def post_batches() -> None:
        with service.client(timeout=30) as api:
            for batch in range(1, 1000):
                items = [{"project": "loaded", "kpi": "cost", "value": batch * 10_000 + n} for n in range(size)]
                try:
                    if api.post("/measurements:batch", json={"items": items}).status_code == 201:
                        acknowledged.append(batch)
                except httpx.TransportError:
                    return

    worker = threading.Thread(target=post_batches)
    worker.start()
    time.sleep(2.0)
    service.kill()
    worker.join(timeout=30)
    service.start()
    try:
        per_batch = Counter(int(value) // 10_000 for value in stored_values(service))
        record_property("acknowledged_batches", len(acknowledged))
        record_property("present_batches", len(per_batch))
        assert acknowledged, "no batch was acknowledged before the kill"
        assert all(per_batch[batch] == size for batch in acknowledged)
        assert set(per_batch.values()) == {size}, "a batch is half stored"
    finally:
        service.stop()


def test_sigterm_lets_the_request_in_flight_finish(database_url_factory: DatabaseUrlFactory, tmp_path: Path) -> None:
    service = Served(database_url_factory("sqlite"), tmp_path).start()
    seed(service)
    items = [{"project": "loaded", "kpi": "cost", "value": n} for n in range(10_000)]
    answers: list[int] = []

    def post_batch() -> None:
        with service.client(timeout=60) as api:
            answers.append(api.post("/measurements:batch", json={"items": items}).status_code)

    worker = threading.Thread(target=post_batch)
    worker.start()
    time.sleep(0.3)
    service.stop()
    worker.join(timeout=60)
    service.start()
    try:
        assert answers == [201]
        assert len(stored_values(service)) == 10_000
    finally:
        service.stop()
