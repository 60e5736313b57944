"""Schema-driven fuzzing: schemathesis generates requests from the OpenAPI document, valid and not,
and checks every response against the contract (no 5xx, documented statuses, schemas, headers)."""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from app.auth.service import ensure_bootstrap_key
from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project

EXAMPLES = 5
Case = schemathesis.Case[Any]

# One app for the whole module, so that schemathesis can read its contract at collection time;
# each test points it at that test's transactional database.
UNUSED_DATABASE = f"sqlite:///{Path(tempfile.gettempdir()) / 'readiness-fuzz-unused.db'}"
# No background work: loading the contract runs the app's lifespan while pytest is still collecting.
# The feed's long poll held for at most a moment: generated requests wait for events that never come.
APP = create_app(
    Settings(
        database_url=UNUSED_DATABASE,
        api_key_cache_seconds=0,
        event_max_wait_seconds=0.2,
        rescorer=False,
        dispatcher=False,
        rate_limit=0,
        auth_failure_limit=0,
    )
)
# The coverage phase (every boundary of every schema) runs live in `make fuzz`, on both databases;
# here it would spend minutes enumerating the rubric schema's combinations in every test run.
CONFIG = SchemathesisConfig.discover()
CONFIG.projects.default.phases.update(phases=["examples", "fuzzing", "stateful"])
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@schema.auth()
class AdminKey:
    """The bootstrap admin key on every request, except where a check leaves auth out on purpose."""

    def get(self, case: Case, context: schemathesis.AuthContext) -> str:
        return ADMIN_SECRET

    def set(self, case: Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture
def fuzzed_app(db: Database) -> Iterator[None]:
    original = APP.state.db
    APP.state.db = APP.state.authenticator.db = db
    db.work(ensure_bootstrap_key, write=True)(secret=ADMIN_SECRET)
    admin = TestClient(APP, headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
    # Something for the generated requests to find, as well as to miss.
    make_project(admin, "claims-triage")
    make_kpi(admin, "claims-triage", cost_kpi())
    yield
    APP.state.db = APP.state.authenticator.db = original


@pytest.mark.usefixtures("fuzzed_app")
@schema.parametrize()
# Derandomised, so that CI is reproducible; `make fuzz FUZZ_SEED=random` explores further.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: Case) -> None:
    case.call_and_validate()
