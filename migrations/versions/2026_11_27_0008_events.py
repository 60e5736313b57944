"""Events: the outbox, webhook subscriptions, their deliveries and every attempt; the KPI statuses
and stall risks last told.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 22:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, SerialId, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("position", SerialId, autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_event")),
        sa.UniqueConstraint("id", name=op.f("uq_event_id")),
    )
    op.create_index("ix_event_occurred_at", "event", ["occurred_at"])
    op.create_index("ix_event_subject_position", "event", ["subject", "position"])
    op.create_table(
        "event_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purged_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_feed")),
    )
    op.create_table(
        "webhook",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("event_types", JSONDocument, nullable=False),
        sa.Column("departments", JSONDocument, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event_position", sa.BigInteger(), nullable=False),
        sa.Column("ordering_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_position"],
            ["event.position"],
            name=op.f("fk_webhook_delivery_event_position_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhook.id"], name=op.f("fk_webhook_delivery_webhook_id_webhook"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_delivery_order", "webhook_delivery", ["webhook_id", "ordering_key", "event_position"])
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_delivery.id"],
            name=op.f("fk_webhook_attempt_delivery_id_webhook_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
    )
    op.create_index("ix_webhook_attempt_delivery_id", "webhook_attempt", ["delivery_id", "number"])
    # The state last told of each KPI and project, settled by the service a batch at a time.
    with op.batch_alter_table("kpi") as batch_op:
        batch_op.add_column(sa.Column("told_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("status_changes_at", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_kpi_status_changes_at", ["status_changes_at"])
    with op.batch_alter_table("project_status") as batch_op:
        batch_op.add_column(sa.Column("told_risk", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("risk_changes_at", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_project_status_risk_changes_at", ["risk_changes_at"])


def downgrade() -> None:
    with op.batch_alter_table("project_status") as batch_op:
        batch_op.drop_index("ix_project_status_risk_changes_at")
        batch_op.drop_column("risk_changes_at")
        batch_op.drop_column("told_risk")
    with op.batch_alter_table("kpi") as batch_op:
        batch_op.drop_index("ix_kpi_status_changes_at")
        batch_op.drop_column("status_changes_at")
        batch_op.drop_column("told_status")
    op.drop_index("ix_webhook_attempt_delivery_id", table_name="webhook_attempt")
    op.drop_table("webhook_attempt")
    op.drop_index("ix_webhook_delivery_order", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_due", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook")
    op.drop_table("event_feed")
    op.drop_index("ix_event_subject_position", table_name="event")
    op.drop_index("ix_event_occurred_at", table_name="event")
    op.drop_table("event")
