"""Alembic, driven from code: upgrade under a lock, and compare the database's revision with ours."""

from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

import migrations
from app.core.db import migration_connection

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


class SchemaState(StrEnum):
    current = "current"
    behind = "behind"  # the code expects migrations the database has not had
    ahead = "ahead"  # a newer release migrated it; this code still works (migrations only add)
    missing = "missing"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade under a lock, so that replicas starting together migrate one at a time."""
    with migration_connection(engine) as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def downgrade(engine: Engine, revision: str) -> None:
    with migration_connection(engine) as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_state(connection: Connection, scripts: ScriptDirectory | None = None) -> SchemaState:
    current = MigrationContext.configure(connection).get_current_revision()
    scripts = scripts or ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    if current is None:
        return SchemaState.missing
    if current == head:
        return SchemaState.current
    known = {script.revision for script in scripts.walk_revisions()}
    return SchemaState.behind if current in known else SchemaState.ahead
