"""Scaling what works: platforms; on projects the platform, the domain, the relations `replica_of`
and `adjacent_to`, and the risk classification; on status rows the risk tier and what the focus
signal needs. Publishes ai-production-readiness version 3: version 2 with the two scaling criteria
that were attested only turned into checks over the relations, and the EU AI Act references that
bind high-risk systems only marked `high_risk_only`.

Only a table and nullable or defaulted columns are added: the previous release keeps working on
this schema. Status rows are filled in by `readiness migrate` with this release's code: the rows of
projects in production or scaling, whose `deployment` is still empty, are refreshed, and with them
the projects whose focus signal reads them. Nothing is re-scored here: the re-scorer finds every
governed project behind the new latest version and brings it up; only projects whose relations now
decide a scaling criterion move.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime
from migrations.data import publish, unpublish

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "ai-production-readiness"
VERSION = 3
UNCLASSIFIED = "unclassified"


def upgrade() -> None:
    op.create_table(
        "platform",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("deployment_target", sa.String(length=32), nullable=True),
        sa.Column("deployment_same_runtime", sa.Boolean(), nullable=True),
        sa.Column("deployment_sovereign", sa.Boolean(), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=True),
        sa.Column("owner_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform")),
        sa.UniqueConstraint("key", name=op.f("uq_platform_key")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("domain", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("replica_of", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("adjacent_to", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("risk_tier", sa.String(length=16), server_default=UNCLASSIFIED, nullable=False))
        batch_op.add_column(sa.Column("risk_rationale", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("risk_classified_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("risk_classified_at", UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_project_platform_platform"), "platform", ["platform"], ["key"], ondelete="RESTRICT"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_project_replica_of_project"), "project", ["replica_of"], ["key"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_project_adjacent_to_project"), "project", ["adjacent_to"], ["key"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_project_platform", ["platform"], unique=False)
        batch_op.create_index("ix_project_replica_of", ["replica_of"], unique=False)
        batch_op.create_index("ix_project_adjacent_to", ["adjacent_to"], unique=False)
    with op.batch_alter_table("project_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_tier", sa.String(length=16), server_default=UNCLASSIFIED, nullable=False))
        batch_op.add_column(sa.Column("focus_on", JSONDocument, nullable=True))
        batch_op.add_column(sa.Column("focus_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("deployment", JSONDocument, nullable=True))
    publish(KEY, VERSION)


def downgrade() -> None:
    unpublish(KEY, VERSION)
    with op.batch_alter_table("project_status", schema=None) as batch_op:
        batch_op.drop_column("deployment")
        batch_op.drop_column("focus_until")
        batch_op.drop_column("focus_on")
        batch_op.drop_column("risk_tier")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index("ix_project_adjacent_to")
        batch_op.drop_index("ix_project_replica_of")
        batch_op.drop_index("ix_project_platform")
        batch_op.drop_constraint(batch_op.f("fk_project_adjacent_to_project"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_project_replica_of_project"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_project_platform_platform"), type_="foreignkey")
        batch_op.drop_column("risk_classified_at")
        batch_op.drop_column("risk_classified_by")
        batch_op.drop_column("risk_rationale")
        batch_op.drop_column("risk_tier")
        batch_op.drop_column("adjacent_to")
        batch_op.drop_column("replica_of")
        batch_op.drop_column("domain")
        batch_op.drop_column("platform")
    op.drop_table("platform")
