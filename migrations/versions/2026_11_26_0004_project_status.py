"""Each project's current status, kept up to date on writes, for portfolio reads.

Rows for existing projects are filled by `readiness migrate` after upgrading (with the code of
the release that runs it), not here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:40:51.343162
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_status",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("evaluation_id", sa.Uuid(), nullable=True),
        sa.Column("evaluated_at", UTCDateTime(), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("gate_passed", sa.Boolean(), nullable=True),
        sa.Column("signals", JSONDocument, nullable=False),
        sa.Column("risk_active", sa.String(length=8), nullable=False),
        sa.Column("risk_inactive", sa.String(length=8), nullable=False),
        sa.Column("quiet_from", UTCDateTime(), nullable=True),
        sa.Column("last_measured_at", UTCDateTime(), nullable=True),
        sa.Column("realized_monthly_benefit", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("projected_monthly_benefit", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("ever_poc", sa.Boolean(), nullable=False),
        sa.Column("ever_production", sa.Boolean(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_project_status_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_status")),
    )
    with op.batch_alter_table("project_status", schema=None) as batch_op:
        batch_op.create_index("ix_project_status_score", ["score", "project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("project_status", schema=None) as batch_op:
        batch_op.drop_index("ix_project_status_score")

    op.drop_table("project_status")
