"""Natural keys and portfolio filters: a measurement sent with its time is keyed by (KPI, time); the
portfolio's status rows carry the owners' emails and the tags they are filtered on; a fact records
who posted it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("measurement", sa.Column("keyed", sa.Boolean(), server_default=sa.true(), nullable=False))
    # Points stored twice at one instant before this revision: the last recorded keeps the key.
    op.execute(
        """
        UPDATE measurement SET keyed = false WHERE id IN (
            SELECT id FROM (
                SELECT id, row_number() OVER (
                    PARTITION BY kpi_id, measured_at ORDER BY recorded_at DESC, id DESC
                ) AS position
                FROM measurement
            ) ranked
            WHERE position > 1
        )
        """
    )
    op.create_index(
        "uq_measurement_kpi_id_measured_at_keyed",
        "measurement",
        ["kpi_id", "measured_at"],
        unique=True,
        sqlite_where=sa.text("keyed"),
        postgresql_where=sa.text("keyed"),
    )
    op.add_column("fact", sa.Column("recorded_by_identity", sa.String(length=300), nullable=True))
    op.add_column("project_status", sa.Column("business_owner_email", sa.String(length=320), nullable=True))
    op.add_column("project_status", sa.Column("technical_owner_email", sa.String(length=320), nullable=True))
    op.add_column("project_status", sa.Column("tags", JSONDocument, nullable=True))
    of_project = "FROM project p WHERE p.id = project_status.project_id"
    op.execute(
        f"""
        UPDATE project_status SET
            business_owner_email = (SELECT lower(p.business_owner_email) {of_project}),
            technical_owner_email = (SELECT lower(p.technical_owner_email) {of_project}),
            tags = (SELECT p.tags {of_project})
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("project_status") as batch:
        batch.drop_column("tags")
        batch.drop_column("technical_owner_email")
        batch.drop_column("business_owner_email")
    with op.batch_alter_table("fact") as batch:
        batch.drop_column("recorded_by_identity")
    op.drop_index("uq_measurement_kpi_id_measured_at_keyed", table_name="measurement")
    with op.batch_alter_table("measurement") as batch:
        batch.drop_column("keyed")
