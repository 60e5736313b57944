"""Migrations 0012, 0018 and 0020 publish versions 2, 3 and 4 of the default rubric, each on top of the
one before, and take them away again cleanly."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.db import make_engine
from app.core.migrations import downgrade, upgrade
from app.rubrics.models import Rubric, RubricVersion
from migrations.data import published_definition
from tests.conftest import DatabaseUrlFactory

KEY = "ai-production-readiness"


@pytest.fixture
def empty_engine(backend: str, database_url_factory: DatabaseUrlFactory) -> Iterator[Engine]:
    engine = make_engine(database_url_factory(backend), pool_size=1)
    yield engine
    engine.dispose()


def published(engine: Engine) -> tuple[int, dict[int, object]]:
    with Session(engine) as session:
        rubric = session.scalars(select(Rubric).where(Rubric.key == KEY)).one()
        versions = session.execute(
            select(RubricVersion.number, RubricVersion.definition).where(RubricVersion.rubric_id == rubric.id)
        )
        return rubric.latest_version, {row.number: row.definition for row in versions}


def test_version_2_comes_with_0012_and_goes_with_its_downgrade(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0011")
    assert published(empty_engine) == (1, {1: published_definition(KEY, 1)})

    upgrade(empty_engine, "0012")
    assert published(empty_engine) == (2, {1: published_definition(KEY, 1), 2: published_definition(KEY, 2)})

    downgrade(empty_engine, "0011")
    assert published(empty_engine) == (1, {1: published_definition(KEY, 1)})

    upgrade(empty_engine, "0012")
    assert published(empty_engine)[0] == 2


def test_version_3_comes_with_0018_and_goes_with_its_downgrade(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0017")
    before = published(empty_engine)
    assert before[0] == 2

    upgrade(empty_engine, "0018")
    assert published(empty_engine) == (3, {**before[1], 3: published_definition(KEY, 3)})

    downgrade(empty_engine, "0017")
    assert published(empty_engine) == before

    upgrade(empty_engine, "0018")
    assert published(empty_engine)[0] == 3


def test_version_4_comes_with_0020_and_goes_with_its_downgrade(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0019")
    before = published(empty_engine)
    assert before[0] == 3

    upgrade(empty_engine)
    assert published(empty_engine) == (4, {**before[1], 4: published_definition(KEY, 4)})

    downgrade(empty_engine, "0019")
    assert published(empty_engine) == before

    upgrade(empty_engine)
    assert published(empty_engine)[0] == 4
