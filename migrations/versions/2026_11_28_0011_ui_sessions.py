"""Dashboard sessions: a hash of each session's token, the API key it stands for, and its expiry.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ui_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_ui_session_api_key_id_api_key"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ui_session_token_hash")),
    )
    op.create_index(op.f("ix_ui_session_api_key_id"), "ui_session", ["api_key_id"], unique=False)
    op.create_index(op.f("ix_ui_session_expires_at"), "ui_session", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ui_session_expires_at"), table_name="ui_session")
    op.drop_index(op.f("ix_ui_session_api_key_id"), table_name="ui_session")
    op.drop_table("ui_session")
