"""`make bench`: the service against its own ceilings, on SQLite and PostgreSQL, in one run.

Starts each server with one uvicorn worker on 127.0.0.1, seeds through the service's own API,
warms up, drives each scenario with wrk (c32, one thread), and prints requests/s, p50, p99 and the
ratio to the baselines measured in the same run. Figures only: nothing here passes or fails.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

ADMIN_SECRET = "bench-admin-secret-0123456789abcdef"
POSTGRES_SERVER = os.environ.get("READINESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


@contextmanager
def server(command: list[str], env: dict[str, str], probe_path: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + probe_path, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def uvicorn_app(target: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]


def readiness_serve() -> list[str]:
    return [sys.executable, "-m", "app.cli", "serve", "--workers", "1"]


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(name: str, url: str, *, seconds: int, connections: int, headers: dict[str, str]) -> Result:
    header_args = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    command = ["wrk", "-t1", f"-c{connections}", "--latency", *header_args]
    subprocess.run([*command, "-d2s", url], check=True, capture_output=True)
    output = subprocess.run([*command, f"-d{seconds}s", url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"{name}: wrk saw error responses\n{output}")
    rate = _RATE.search(output)
    latencies = {match[0]: float(match[1]) * _UNIT_MS[match[2]] for match in _LATENCY.findall(output)}
    assert rate is not None, output
    return Result(name, float(rate.group(1)), latencies["50"], latencies["99"])


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"readiness_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = POSTGRES_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(base: str) -> None:
    body = {
        "key": "claims-triage",
        "name": "Claims triage",
        "description": "Route incoming motor claims to the right handler",
        "workflow": "Motor claims intake",
        "department": "claims",
        "region": "emea",
        "tags": ["claims", "genai"],
        "business_owner": {"name": "Ana Souza", "email": "ana@example.com"},
        "technical_owner": {"name": "Bo Lee", "email": "bo@example.com"},
        "stakeholders": [
            {"role": "business", "name": "Ana Souza", "email": "ana@example.com"},
            {"role": "engineering", "name": "Bo Lee", "email": "bo@example.com"},
            {"role": "security", "name": "Cy Park", "email": "cy@example.com"},
            {"role": "legal", "name": "Di Rossi", "email": "di@example.com"},
        ],
        "deployment": {"target": "vpc", "same_runtime_as_production": True, "sovereign": False},
        "sync_cadence_days": 7,
        "decision_date": "2027-03-31",
        "costs": {"build_cost": 120000, "run_cost_per_month": 4000, "currency": "EUR"},
    }
    headers = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    response = httpx.put(f"{base}/api/v1/projects/claims-triage", json=body, headers=headers)
    response.raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    load = {"seconds": args.seconds, "connections": args.connections}
    path = "/api/v1/projects/claims-triage"
    results: list[Result] = []
    with server(uvicorn_app("bench.baselines:starlette_app"), {}, path) as base:
        results.append(wrk("baseline: bare Starlette", base + path, headers={}, **load))
    with server(uvicorn_app("bench.baselines:fastapi_app"), {}, path) as base:
        results.append(wrk("baseline: FastAPI + response model", base + path, headers={}, **load))
    auth = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    with tempfile.TemporaryDirectory() as directory, postgres_database() as postgres_url:
        for label, url in (("sqlite", f"sqlite:///{Path(directory) / 'bench.db'}"), ("postgresql", postgres_url)):
            env = {
                "READINESS_DATABASE_URL": url,
                "READINESS_BOOTSTRAP_ADMIN_KEY": ADMIN_SECRET,
                "READINESS_LOG_LEVEL": "WARNING",
            }
            with server(readiness_serve(), env, "/readyz") as base:
                seed(base)
                results.append(wrk(f"GET /projects/{{key}} ({label})", base + path, headers=auth, **load))
    fastapi = results[1].requests_per_second
    starlette = results[0].requests_per_second
    print(f"{'scenario':45} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'×FastAPI':>9} {'×Starlette':>11}")  # noqa: T201
    for result in results:
        print(  # noqa: T201
            f"{result.name:45} {result.requests_per_second:9.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.requests_per_second / fastapi:9.2f} {result.requests_per_second / starlette:11.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
