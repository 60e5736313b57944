"""Projects, stage transitions, facts, API keys and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 19:05:15.989388
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("name", name=op.f("uq_api_key_name")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_key_secret_hash")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("before", JSONDocument, nullable=True),
        sa.Column("after", JSONDocument, nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_entity", ["entity_type", "entity_key"], unique=False)
        batch_op.create_index("ix_audit_event_occurred_at_id", ["occurred_at", "id"], unique=False)

    op.create_table(
        "project",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("workflow", sa.String(length=500), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("tags", JSONDocument, nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("business_owner_name", sa.String(length=200), nullable=True),
        sa.Column("business_owner_email", sa.String(length=320), nullable=True),
        sa.Column("technical_owner_name", sa.String(length=200), nullable=True),
        sa.Column("technical_owner_email", sa.String(length=320), nullable=True),
        sa.Column("vendor_led", sa.Boolean(), nullable=False),
        sa.Column("stakeholders", JSONDocument, nullable=False),
        sa.Column("deployment_target", sa.String(length=32), nullable=True),
        sa.Column("deployment_same_runtime", sa.Boolean(), nullable=True),
        sa.Column("deployment_sovereign", sa.Boolean(), nullable=True),
        sa.Column("sync_cadence_days", sa.Integer(), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("build_cost", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("run_cost_per_month", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("rubric", sa.String(length=63), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("stage_entered_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
        sa.UniqueConstraint("key", name=op.f("uq_project_key")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index("ix_project_department_key", ["department", "key"], unique=False)
        batch_op.create_index("ix_project_region_key", ["region", "key"], unique=False)
        batch_op.create_index("ix_project_stage_key", ["stage", "key"], unique=False)

    op.create_table(
        "fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", JSONDocument, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_fact_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fact")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_fact_project_id")),
    )
    op.create_table(
        "stage_transition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("transitioned_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_stage_transition_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_transition")),
    )
    with op.batch_alter_table("stage_transition", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stage_transition_project_id_at", ["project_id", "transitioned_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stage_transition", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_transition_project_id_at")

    op.drop_table("stage_transition")
    op.drop_table("fact")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index("ix_project_stage_key")
        batch_op.drop_index("ix_project_region_key")
        batch_op.drop_index("ix_project_department_key")

    op.drop_table("project")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_occurred_at_id")
        batch_op.drop_index("ix_audit_event_entity")

    op.drop_table("audit_event")
    op.drop_table("api_key")
