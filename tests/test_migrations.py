"""The migrations build the schema the models describe, and undo it, on both databases."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, inspect, select, text

import app.models  # noqa: F401  (registers every table)
from app.attestations.models import Attestation
from app.cli import main
from app.core.db import Base, Database, make_engine
from app.core.migrations import SchemaState, downgrade, head_revision, schema_state, upgrade
from app.core.settings import Settings, get_settings
from app.main import create_app
from app.projects.models import Project, StageTransition
from app.readiness.models import Evaluation, ReadinessMark
from tests.conftest import ADMIN_SECRET, DatabaseUrlFactory
from tests.projects.factories import make_project


@pytest.fixture
def empty_engine(backend: str, database_url_factory: DatabaseUrlFactory) -> Iterator[Engine]:
    engine = make_engine(database_url_factory(backend), pool_size=1)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert _tables(empty_engine) == set(Base.metadata.tables)

    downgrade(empty_engine, "base")
    assert _tables(empty_engine) == set()

    upgrade(empty_engine)
    assert _tables(empty_engine) == set(Base.metadata.tables)
    with empty_engine.connect() as connection:
        assert schema_state(connection) == SchemaState.current
        assert MigrationContext.configure(connection).get_current_revision() == head_revision()


def test_models_and_migrations_agree(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_twice_is_harmless(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)

    with empty_engine.connect() as connection:
        assert schema_state(connection) == SchemaState.current


def test_an_empty_database_is_missing_its_schema(empty_engine: Engine) -> None:
    with empty_engine.connect() as connection:
        assert schema_state(connection) == SchemaState.missing


def test_the_command_line_downgrades_and_upgrades(
    backend: str, database_url_factory: DatabaseUrlFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = database_url_factory(backend)
    monkeypatch.setenv("READINESS_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
        assert main(["migrate", "--downgrade", "base"]) == 0
        engine = make_engine(url, pool_size=1)
        assert _tables(engine) == set()
        assert main(["migrate"]) == 0
        assert _tables(engine) == set(Base.metadata.tables)
        engine.dispose()
    finally:
        get_settings.cache_clear()


def test_stays_recorded_before_0006_are_filled_in_from_the_history(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0005")
    created = datetime(2026, 1, 1, tzinfo=UTC)
    project_id = uuid.uuid4()
    moves = [("idea", "poc", created + timedelta(days=10)), ("poc", "pilot", created + timedelta(days=40))]
    with empty_engine.begin() as connection:
        connection.execute(
            insert(Project).values(
                id=project_id,
                key="legacy",
                name="Legacy",
                tags=[],
                stage="pilot",
                vendor_led=False,
                stakeholders=[],
                rubric="ai-production-readiness",
                created_at=created,
                updated_at=created,
                stage_entered_at=moves[-1][2],
                version=1,
            )
        )
        for from_stage, to_stage, at in moves:
            connection.execute(
                insert(StageTransition).values(
                    id=uuid.uuid4(),
                    project_id=project_id,
                    from_stage=from_stage,
                    to_stage=to_stage,
                    actor="legacy",
                    transitioned_at=at,
                )
            )

    upgrade(empty_engine)

    with empty_engine.connect() as connection:
        entered = connection.execute(
            select(StageTransition.from_stage, StageTransition.from_stage_entered_at).order_by(
                StageTransition.transitioned_at
            )
        ).all()
    assert entered == [("idea", created), ("poc", moves[0][2])]


def test_0007_keeps_attested_answers_as_attestations_and_marks_every_project(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0006")
    created = datetime(2026, 1, 1, tzinfo=UTC)
    project_id = uuid.uuid4()
    answers = [
        [{"criterion": "stakeholders.weekly_sync", "status": "partial", "note": "fortnightly"}],
        [{"criterion": "stakeholders.weekly_sync", "status": "met", "evidence_url": "https://wiki.example.com/s"}],
    ]
    with empty_engine.begin() as connection:
        connection.execute(
            insert(Project).values(
                id=project_id,
                key="legacy",
                name="Legacy",
                tags=[],
                stage="poc",
                vendor_led=False,
                stakeholders=[],
                rubric="ai-production-readiness",
                created_at=created,
                updated_at=created,
                stage_entered_at=created,
                version=1,
            )
        )
        for day, given in enumerate(answers):
            connection.execute(
                insert(Evaluation).values(
                    id=uuid.uuid4(),
                    project_id=project_id,
                    rubric_key="ai-production-readiness",
                    rubric_version=1,
                    evaluator="steering review",
                    stage="poc",
                    score=10.0,
                    level="not_ready",
                    gate_passed=False,
                    recommendation="no_go",
                    weakest_section=None,
                    evaluated_at=created + timedelta(days=day),
                    result={},
                    answers=given,
                )
            )

    upgrade(empty_engine)

    with empty_engine.connect() as connection:
        attested = connection.execute(select(Attestation.criterion, Attestation.status, Attestation.attested_by)).all()
        marked = connection.execute(select(ReadinessMark.project_id, ReadinessMark.kind)).all()
    assert [tuple(row) for row in attested] == [("stakeholders.weekly_sync", "met", "steering review")]
    assert [tuple(row) for row in marked] == [(project_id, "migration")]


def test_0013_keeps_results_whole_for_the_previous_release(
    backend: str, database_url_factory: DatabaseUrlFactory
) -> None:
    engine = make_engine(database_url_factory(backend), pool_size=3)
    upgrade(engine)
    settings = Settings(
        database_url=str(engine.url), bootstrap_admin_key=ADMIN_SECRET, rescorer=False, dispatcher=False
    )
    with TestClient(create_app(settings, Database(engine))) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        make_project(admin, "kept")
        shown = admin.get("/api/v1/projects/kept/readiness").json()
    downgrade(engine, "0012")
    with engine.connect() as connection:
        stored = json.loads(connection.execute(text("SELECT result FROM project_readiness")).scalar_one())
    upgrade(engine)
    engine.dispose()

    assert {name: stored[name] for name in ("score", "gate", "sections", "criteria")} == {
        name: shown[name] for name in ("score", "gate", "sections", "criteria")
    }


def test_stored_results_are_compressed_with_lz4_on_postgresql(database_url_factory: DatabaseUrlFactory) -> None:
    engine = make_engine(database_url_factory("postgresql"), pool_size=1)
    upgrade(engine)
    with engine.connect() as connection:
        compression = connection.execute(
            text(
                "SELECT attcompression FROM pg_attribute "
                "WHERE attrelid = 'project_readiness'::regclass AND attname = 'result'"
            )
        ).scalar_one()
    engine.dispose()

    assert compression == "l"
