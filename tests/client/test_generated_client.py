"""A client generated from the committed contract, as integrators make theirs: clean, typed, working.

openapi-python-client is the most used Python generator. A schema it cannot read, or a JSON answer
it cannot type, leaves integrators with untyped data or a client that raises on a 200, and it says
so only in a warning: any warning fails here.
"""

import importlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import DatabaseUrlFactory
from tests.served import ADMIN_SECRET, Served

ROOT = Path(__file__).parents[2]
CONTRACT = ROOT / "openapi" / "openapi.json"
SMOKE = Path(__file__).with_name("smoke.py")
BIN = Path(sys.executable).parent
PACKAGE = "readiness_client"
# A badge is a picture for an <img> tag, a rubric in YAML a file kept in git: the client hands over
# their bytes instead of leaving them out.
GENERATOR_CONFIG = {
    "content_type_overrides": {
        "image/svg+xml": "application/octet-stream",
        "application/pdf": "application/octet-stream",
        "application/yaml": "application/octet-stream",
    }
}
# The smoke script is held to strict typing; the generated package's own typing is its authors' affair.
MYPY_CONFIG = f"""\
[mypy]
strict = True

[mypy-{PACKAGE}.*]
ignore_errors = True
"""


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the package generated from the committed contract."""
    root = tmp_path_factory.mktemp("generated-client")
    config = root / "config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    result = subprocess.run(
        [
            *(BIN / "openapi-python-client", "generate", "--path", CONTRACT, "--meta", "none"),
            *("--output-path", root / PACKAGE, "--config", config, "--fail-on-warning"),
        ],
        # The generator formats its output with ruff, which it looks for on PATH.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    return root


@pytest.fixture(scope="session")
def smoke(generated: Path) -> Iterator[ModuleType]:
    sys.path.insert(0, str(generated))
    yield importlib.import_module("tests.client.smoke")
    sys.path.remove(str(generated))


@pytest.fixture
def served(backend: str, database_url_factory: DatabaseUrlFactory, tmp_path: Path) -> Iterator[Served]:
    service = Served(database_url_factory(backend), tmp_path)
    with service:
        yield service
    assert service.process is not None
    assert service.process.returncode in (0, -signal.SIGTERM)


def test_every_json_answer_is_parsed_into_a_generated_model(generated: Path) -> None:
    untyped = [
        f"{module.relative_to(generated)}: {line.strip()}"
        for module in (generated / PACKAGE / "api").rglob("*.py")
        for line in module.read_text().splitlines()
        if "response.json()" in line and not re.search(r"\w+\.from_dict\(response\.json\(\)\)", line)
    ]
    assert not untyped, untyped


def test_the_smoke_script_type_checks_strictly_against_the_generated_client(generated: Path) -> None:
    config = generated / "mypy.ini"
    config.write_text(MYPY_CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", config, "--cache-dir", generated / ".mypy_cache", SMOKE],
        env={**os.environ, "MYPYPATH": str(generated)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_client_drives_a_live_service(smoke: ModuleType, served: Served) -> None:
    smoke.run(served.base, ADMIN_SECRET)
