"""Rubric versions as the migrations published them, frozen here rather than built from the code,
which moves on: a migration must publish the same definition today as on the day it was written."""

import json
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime, utcnow

DIRECTORY = Path(__file__).parent


def published_definition(key: str, version: int) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads((DIRECTORY / f"{key}-v{version}.json").read_text(encoding="utf-8"))
    return definition


rubric = sa.table(
    "rubric",
    sa.column("id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("latest_version", sa.Integer()),
    sa.column("version", sa.Integer()),
)
rubric_version = sa.table(
    "rubric_version",
    sa.column("id", sa.Uuid()),
    sa.column("rubric_id", sa.Uuid()),
    sa.column("number", sa.Integer()),
    sa.column("definition", JSONDocument),
    sa.column("published_at", UTCDateTime()),
    sa.column("published_by", sa.String()),
)


def publish(key: str, version: int) -> None:
    """Publish the frozen `version` of the rubric `key` on top of the one before it, as the system."""
    connection = op.get_bind()
    found = connection.execute(sa.select(rubric.c.id, rubric.c.latest_version).where(rubric.c.key == key)).one_or_none()
    # An operator who deleted the default rubric, or already published this version number of
    # their own through the API, keeps what they have: published versions never change.
    if found is None or found.latest_version != version - 1:
        return
    op.bulk_insert(
        rubric_version,
        [
            {
                "id": uuid.uuid4(),
                "rubric_id": found.id,
                "number": version,
                "definition": published_definition(key, version),
                "published_at": utcnow(),
                "published_by": "system",
            }
        ],
    )
    connection.execute(
        sa.update(rubric).where(rubric.c.id == found.id).values(latest_version=version, version=rubric.c.version + 1)
    )


def unpublish(key: str, version: int) -> None:
    """Take away the `version` that `publish` published; refused once later versions build on it."""
    connection = op.get_bind()
    found = connection.execute(
        sa.select(rubric.c.id, rubric.c.latest_version, rubric_version.c.id.label("version_id"))
        .join(rubric_version, rubric_version.c.rubric_id == rubric.c.id)
        .where(rubric.c.key == key, rubric_version.c.number == version, rubric_version.c.published_by == "system")
    ).one_or_none()
    if found is None:
        return
    if found.latest_version > version:
        raise RuntimeError(f"{key} has versions after {version}; downgrade would leave them without their predecessor")
    connection.execute(sa.delete(rubric_version).where(rubric_version.c.id == found.version_id))
    # Projects scored against the version taken away are then behind the one before, and the
    # re-scorer brings them back.
    connection.execute(
        sa.update(rubric)
        .where(rubric.c.id == found.id)
        .values(latest_version=version - 1, version=rubric.c.version + 1)
    )
