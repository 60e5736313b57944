"""`readiness serve` in a process of its own, on a free port of 127.0.0.1, for tests over real HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ADMIN_SECRET = "served-admin-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A running service; `stop()` sends SIGTERM, `kill()` SIGKILL, `start()` starts it again."""

    def __init__(self, database_url: str, log_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "READINESS_DATABASE_URL": database_url,
            "READINESS_BOOTSTRAP_ADMIN_KEY": ADMIN_SECRET,
            "READINESS_PORT": str(self.port),
            "READINESS_LOG_FORMAT": "json",
            # Load and fault tests send many requests with one key from one address.
            "READINESS_RATE_LIMIT": "0",
            "READINESS_AUTH_FAILURE_LIMIT": "0",
            **{f"READINESS_{name.upper()}": value for name, value in settings.items()},
        }
        self.log_path = log_dir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    # Generous: replicas starting together migrate one at a time, on a machine the rest of the suite loads.
    def start(self, timeout: float = 60) -> "Served":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, "the service did not start in time"
            time.sleep(0.05)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def client(self, timeout: float = 10) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/api/v1", headers={"Authorization": f"Bearer {ADMIN_SECRET}"}, timeout=timeout
        )

    def __enter__(self) -> "Served":
        return self.start()

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
