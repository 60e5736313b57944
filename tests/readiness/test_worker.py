"""`readiness worker`: the re-scorer in a process of its own, beside API processes that do not run it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, DatabaseUrlFactory
from tests.served import Served, free_port


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_process_keeps_the_portfolio_current_and_stops_on_sigterm(
    backend: str, database_url_factory: DatabaseUrlFactory, tmp_path: Path
) -> None:
    url = database_url_factory(backend)
    with Served(url, tmp_path, rescorer="false") as api:
        with api.client() as client:
            keys = [f"worked-{i}" for i in range(60)]
            for key in keys:
                owner = {"name": "Ana", "email": "ana@example.com"}
                created = client.post("/projects", json={"key": key, "name": key, "business_owner": owner})
                assert created.status_code == 201, created.text
            assert client.patch("/projects/worked-0", json={"business_owner": None}).status_code == 200

            def stale() -> list[str]:
                rows = client.get("/portfolio/readiness", params={"limit": 500}).json()["items"]
                return [row["key"] for row in rows if row["score"] is None]

            time.sleep(0.5)
            unscored = stale()
            log = (tmp_path / "worker.log").open("wb")
            worker = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                env={
                    **os.environ,
                    **{k: v for k, v in api.env.items() if k.startswith("READINESS_")},
                    # Not the default port: another worker on the machine (a benchmark's) may hold it.
                    "READINESS_WORKER_METRICS_PORT": str(free_port()),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                # A worker starting on a busy machine (imports, migrations check) can take seconds.
                deadline = time.monotonic() + 60
                while stale() and time.monotonic() < deadline:
                    time.sleep(0.1)
                caught_up = stale()
                readiness = client.get("/projects/worked-0/readiness")
                assert readiness.status_code == 200, readiness.text
                criterion = readiness.json()["criteria"][0]
            finally:
                worker.send_signal(signal.SIGTERM)
                code = worker.wait(timeout=30)

    assert sorted(unscored) == sorted(keys)
    assert caught_up == []
    assert criterion["key"] == "stakeholders.business_owner"
    assert criterion["status"] == "not_met"
    assert code == 0, (tmp_path / "worker.log").read_text()
