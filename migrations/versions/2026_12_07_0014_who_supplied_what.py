"""Who supplied what, so that four eyes can compare people: the person an API key stands for, who
created, replaced or patched each KPI, who posted each measurement; and the secret a dashboard
session was opened with, so that rotating a key ends its sessions once the old secret stops working.

Only nullable columns are added: the previous release keeps working on this schema. Rows written
before this migration say nothing of who wrote them; four eyes then compares only what it knows.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=320), nullable=True))
    with op.batch_alter_table("kpi", schema=None) as batch_op:
        batch_op.add_column(sa.Column("written_by", JSONDocument, nullable=True))
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_by_identity", sa.String(length=300), nullable=True))
    with op.batch_alter_table("ui_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ui_session", schema=None) as batch_op:
        batch_op.drop_column("secret_hash")
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.drop_column("recorded_by_identity")
    with op.batch_alter_table("kpi", schema=None) as batch_op:
        batch_op.drop_column("written_by")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("person")
