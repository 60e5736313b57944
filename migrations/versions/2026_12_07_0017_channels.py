"""Telling people: notification channels, their deliveries and every attempt; each event's project
owners as they were when it was written; what was told of each project's planned decision date.

Only tables and a nullable column are added: the previous release keeps working on this schema.
Projects that already have a decision date get their reminder row here; a date already past (in
UTC) counts as told, so that upgrading does not send an overdue reminder for every old date.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _channels() -> None:
    op.create_table(
        "channel",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("to_addresses", JSONDocument, nullable=True),
        sa.Column("to_owners", sa.Boolean(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("event_types", JSONDocument, nullable=False),
        sa.Column("departments", JSONDocument, nullable=True),
        sa.Column("digest", sa.String(length=8), nullable=True),
        sa.Column("steering_report", sa.Boolean(), nullable=False),
        sa.Column("digest_period", sa.String(length=10), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel")),
    )
    op.create_table(
        "channel_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("event_position", sa.BigInteger(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("ordering_key", sa.String(length=600), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_channel_delivery_channel_id_channel"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_position"],
            ["event.position"],
            name=op.f("fk_channel_delivery_event_position_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_delivery")),
    )
    op.create_index("ix_channel_delivery_order", "channel_delivery", ["channel_id", "ordering_key", "position"])
    op.create_index("ix_channel_delivery_due", "channel_delivery", ["state", "next_attempt_at"])
    op.create_index("ix_channel_delivery_channel_created", "channel_delivery", ["channel_id", "created_at"])
    op.create_index(
        "uq_channel_delivery_event", "channel_delivery", ["channel_id", "event_position", "recipient"], unique=True
    )
    op.create_table(
        "channel_attempt",
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
            ["channel_delivery.id"],
            name=op.f("fk_channel_attempt_delivery_id_channel_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_attempt")),
    )
    op.create_index("ix_channel_attempt_delivery_id", "channel_attempt", ["delivery_id", "number"])


def _reminders() -> None:
    reminder = op.create_table(
        "decision_reminder",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("due_told_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_told_at", UTCDateTime(), nullable=True),
        sa.Column("changes_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_decision_reminder_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_decision_reminder")),
    )
    op.create_index(op.f("ix_decision_reminder_changes_at"), "decision_reminder", ["changes_at"])
    now = datetime.now(UTC)
    project = sa.table("project", sa.column("id", sa.Uuid()), sa.column("decision_date", sa.Date()))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(project.c.id, project.c.decision_date).where(project.c.decision_date.is_not(None))
    )
    dated = [
        {
            "project_id": project_id,
            "decision_date": day,
            "due_told_at": now if day < now.date() else None,
            "overdue_told_at": now if day < now.date() else None,
            "changes_at": None if day < now.date() else now,
        }
        for project_id, day in rows
    ]
    if dated:
        op.bulk_insert(reminder, dated)


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owners", JSONDocument, nullable=True))
    _channels()
    _reminders()


def downgrade() -> None:
    op.drop_index(op.f("ix_decision_reminder_changes_at"), table_name="decision_reminder")
    op.drop_table("decision_reminder")
    op.drop_index("ix_channel_attempt_delivery_id", table_name="channel_attempt")
    op.drop_table("channel_attempt")
    op.drop_index("uq_channel_delivery_event", table_name="channel_delivery")
    op.drop_index("ix_channel_delivery_channel_created", table_name="channel_delivery")
    op.drop_index("ix_channel_delivery_due", table_name="channel_delivery")
    op.drop_index("ix_channel_delivery_order", table_name="channel_delivery")
    op.drop_table("channel_delivery")
    op.drop_table("channel")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("owners")
