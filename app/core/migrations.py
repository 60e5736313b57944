"""Alembic, driven from code: upgrade under a lock, and compare the database's revision with ours."""

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite rebuilds a table to alter it (batch mode: copy, drop, rename), and dropping a table
    that others refer to deletes their rows (ON DELETE CASCADE) while foreign keys are enforced. As
    SQLite prescribes for such rebuilds, enforcement is off while migrating (it can only be switched
    outside a transaction) and what the migration leaves is checked before it commits."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        raw.execute("PRAGMA foreign_keys=ON")


def _commit(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"the migration leaves rows whose foreign keys point nowhere: {broken[:10]}")
    connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade under a lock, so that replicas starting together migrate one at a time."""
    with migration_connection(engine) as connection, _foreign_keys_off(connection):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        _commit(connection)


def downgrade(engine: Engine, revision: str) -> None:
    with migration_connection(engine) as connection, _foreign_keys_off(connection):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        _commit(connection)


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
