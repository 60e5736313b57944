"""Publishes ai-production-readiness version 2: version 1 with the crosswalk to NIST AI RMF,
ISO/IEC 42001, the EU AI Act and the ML Test Score as references (43 over 18 criteria), and
`value.business_kpi` pointing at MAP 1.4 rather than MAP 1.3.

Criteria, weights, gates and checks are version 1's, so no score moves. Nothing is re-scored here:
the re-scorer finds every governed project behind the new latest version and brings it up.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 12:00:00.000000
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime, utcnow
from migrations.data import published_definition

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "ai-production-readiness"
VERSION = 2

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


def upgrade() -> None:
    connection = op.get_bind()
    found = connection.execute(sa.select(rubric.c.id, rubric.c.latest_version).where(rubric.c.key == KEY)).one_or_none()
    # An operator who deleted the default rubric, or already published a version 2 of their own
    # through the API, keeps what they have: published versions never change.
    if found is None or found.latest_version != VERSION - 1:
        return
    op.bulk_insert(
        rubric_version,
        [
            {
                "id": uuid.uuid4(),
                "rubric_id": found.id,
                "number": VERSION,
                "definition": published_definition(KEY, VERSION),
                "published_at": utcnow(),
                "published_by": "system",
            }
        ],
    )
    connection.execute(
        sa.update(rubric).where(rubric.c.id == found.id).values(latest_version=VERSION, version=rubric.c.version + 1)
    )


def downgrade() -> None:
    connection = op.get_bind()
    found = connection.execute(
        sa.select(rubric.c.id, rubric.c.latest_version, rubric_version.c.id.label("version_id"))
        .join(rubric_version, rubric_version.c.rubric_id == rubric.c.id)
        .where(rubric.c.key == KEY, rubric_version.c.number == VERSION, rubric_version.c.published_by == "system")
    ).one_or_none()
    if found is None:
        return
    if found.latest_version > VERSION:
        # Versions published after this one build on it; taking it away would leave a hole.
        raise RuntimeError(f"{KEY} has versions after {VERSION}; downgrade would leave them without their predecessor")
    connection.execute(sa.delete(rubric_version).where(rubric_version.c.id == found.version_id))
    # Projects scored against version 2 are then behind version 1, and the re-scorer brings them back.
    connection.execute(
        sa.update(rubric)
        .where(rubric.c.id == found.id)
        .values(latest_version=VERSION - 1, version=rubric.c.version + 1)
    )
