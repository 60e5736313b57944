"""Every curl example of the documentation runs, page by page, against a live service on SQLite."""

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.documentation.examples import PageExamples, every_page, script
from tests.served import ADMIN_SECRET, Served

PAGES = [page for page in every_page() if page.run]

# The examples that cannot run here, by page: a new one must be added here, knowingly.
NOT_RUN = {
    "guides/governance.md": 1,  # the CI job around `git diff`, for a repository of rubrics
    "guides/operators/openid-connect.md": 1,  # needs an OpenID provider
}


class Receiver(BaseHTTPRequestHandler):
    """Where the guides' webhooks and chat channels deliver: takes every POST."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/readiness"
    server.shutdown()


def test_the_examples_not_run_are_the_known_ones() -> None:
    counted = {page.page: len(page.not_run) for page in every_page() if page.not_run}

    assert counted == NOT_RUN


@pytest.mark.parametrize("page", PAGES, ids=[page.page for page in PAGES])
def test_the_curl_examples_of_a_page_run_against_a_live_service_on_sqlite(
    page: PageExamples, receiver: str, tmp_path: Path
) -> None:
    settings = {"webhook_allowed_destinations": "127.0.0.1", "webhook_allow_http": "true"}
    with Served(f"sqlite:///{tmp_path / 'docs.db'}", tmp_path, **settings) as served:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "API": f"{served.base}/api/v1",
            "AUTH": f"Authorization: Bearer {ADMIN_SECRET}",
            "RECEIVER": receiver,
        }
        work = tmp_path / "work"
        work.mkdir()
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script(page)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert done.returncode == 0, f"{page.page}: exit {done.returncode}\n{done.stderr[-4000:]}\n{done.stdout[-4000:]}"
