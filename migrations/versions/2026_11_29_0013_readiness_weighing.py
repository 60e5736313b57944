"""What a re-weigh reads, stored beside each current result: its summary (the result up to its
criteria), its criteria's ETag, and each criterion's status by key.

A rubric version that changes only weights weighs every project it governs again; with these, that
reads a few hundred bytes a project instead of parsing the whole result, about 9 KB. Only columns
are added, and they may stay empty: the previous release keeps working on this schema (it neither
reads nor writes them), and a row it wrote last is scored afresh rather than weighed again. Rows
stored before this migration fill them when next scored; nothing is rewritten here.

On PostgreSQL 14 and later built with LZ4, results are compressed with it from now on, about three
times cheaper to write than the default (every re-score rewrites each result).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _compress_results_with(method: str) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql" or (connection.dialect.server_version_info or ()) < (14,):
        return
    try:
        with connection.begin_nested():
            connection.execute(sa.text(f"ALTER TABLE project_readiness ALTER COLUMN result SET COMPRESSION {method}"))
    except sa.exc.DBAPIError:
        # Built without LZ4 ("compression method lz4 not supported"): the default stays.
        return


def upgrade() -> None:
    with op.batch_alter_table("project_readiness", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("criteria_etag", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("statuses", JSONDocument, nullable=True))
    _compress_results_with("lz4")


def downgrade() -> None:
    _compress_results_with("default")
    with op.batch_alter_table("project_readiness", schema=None) as batch_op:
        batch_op.drop_column("statuses")
        batch_op.drop_column("criteria_etag")
        batch_op.drop_column("summary")
