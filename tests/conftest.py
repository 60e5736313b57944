"""Every API test runs twice: on a SQLite file and on a throwaway PostgreSQL database.

Each database is built once per session by the real migrations; each test runs inside a
transaction that is rolled back, with the app's sessions joined to it through savepoints.
"""

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.clock import Clock
from app.core.clock import clock as service_clock
from app.core.db import Database, make_engine
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.decisions import reminders
from app.initiatives import watch as initiatives
from app.main import create_app
from app.portfolio import watch
from app.readiness.marks import has_due_work

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ADMIN_SECRET = "test-admin-secret-0123456789abcdef"
BACKENDS = ["sqlite", "postgresql"]


def postgres_server_url() -> str:
    return os.environ.get("READINESS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ThrowawayDatabases:
    """Creates databases on the test PostgreSQL server and drops every one of them at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: list[str] = []

    def create(self) -> str:
        name = f"readiness_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(self.server_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with psycopg.connect(_libpq(self.server_url), autocommit=True) as admin:
            for name in self.names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def throwaway_postgres() -> Iterator[ThrowawayDatabases]:
    databases = ThrowawayDatabases(postgres_server_url())
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def database_url_factory(
    tmp_path_factory: pytest.TempPathFactory, throwaway_postgres: ThrowawayDatabases
) -> "DatabaseUrlFactory":
    return DatabaseUrlFactory(tmp_path_factory.mktemp("sqlite"), throwaway_postgres)


class DatabaseUrlFactory:
    """A fresh, empty database of either backend."""

    def __init__(self, directory: Path, postgres: ThrowawayDatabases) -> None:
        self.directory = directory
        self.postgres = postgres

    def __call__(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.directory / f'{uuid.uuid4().hex[:12]}.db'}"
        return self.postgres.create()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, database_url_factory: DatabaseUrlFactory) -> str:
    return database_url_factory(backend)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=2)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def db(engine: Engine, connection: Connection) -> Database:
    return Database(engine, bind=connection, threads=1)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Webhook tests run their own dispatcher; the others have no subscription to deliver to. Rate
    # limits are off except in the tests of them: a suite sends many requests from one address.
    return Settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_SECRET,
        api_key_cache_seconds=0,
        dispatcher=False,
        rate_limit=0,
        auth_failure_limit=0,
    )


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """An anonymous client; use `admin`, `writer` or `reader` for authenticated ones."""
    with TestClient(create_app(settings, db)) as client:
        yield client


def _background_due(session: Session) -> bool:
    return has_due_work(session) or watch.has_due(session) or reminders.has_due(session) or initiatives.has_due(session)


def settled(db: Database, seconds: float = 30) -> bool:
    """Whether the re-scorer is done with every write within `seconds`: each marked project
    re-scored, each KPI status, stall risk and reminder a write made due told, each initiative
    looked at. A test comparing two reads waits for it first, or a commit of the re-scorer's between
    them changes the second."""
    due = db.work(_background_due, write=False)
    deadline = time.monotonic() + seconds
    while due():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _client_with_key(client: TestClient, secret: str) -> TestClient:
    authenticated = TestClient(client.app)
    authenticated.headers["Authorization"] = f"Bearer {secret}"
    return authenticated


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    return _client_with_key(client, ADMIN_SECRET)


def issue_key(admin: TestClient, role: str) -> str:
    response = admin.post("/api/v1/api-keys", json={"name": f"{role}-{uuid.uuid4().hex[:8]}", "role": role})
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


@pytest.fixture
def writer(client: TestClient, admin: TestClient) -> TestClient:
    return _client_with_key(client, issue_key(admin, "writer"))


@pytest.fixture
def approver(client: TestClient, admin: TestClient) -> TestClient:
    return _client_with_key(client, issue_key(admin, "approver"))


@pytest.fixture
def reader(client: TestClient, admin: TestClient) -> TestClient:
    return _client_with_key(client, issue_key(admin, "reader"))


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The service's clock, for tests that move time forward; set back afterwards."""
    yield service_clock
    service_clock.reset()
