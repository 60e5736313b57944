"""Dashboard sign-in through the OpenID provider: sessions that stand for a person the provider
signed in rather than an API key (the key becomes optional; identity, name, role and departments
are kept instead), and the sign-ins on their way to the provider and back.

Only a table and nullable columns are added, and a column made nullable: the previous release keeps
working on this schema (it opens key sessions only, and its inner join never sees the others).
Downgrading ends the sessions opened through the provider: the older schema cannot hold them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ui_session", schema=None) as batch_op:
        batch_op.alter_column("api_key_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("identity", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("departments", JSONDocument, nullable=True))
    op.create_table(
        "ui_pending_sign_in",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("next", sa.String(length=2000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_pending_sign_in")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_ui_pending_sign_in_state_hash")),
    )
    op.create_index(op.f("ix_ui_pending_sign_in_expires_at"), "ui_pending_sign_in", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ui_pending_sign_in_expires_at"), table_name="ui_pending_sign_in")
    op.drop_table("ui_pending_sign_in")
    op.execute(sa.text("DELETE FROM ui_session WHERE api_key_id IS NULL"))
    with op.batch_alter_table("ui_session", schema=None) as batch_op:
        batch_op.drop_column("departments")
        batch_op.drop_column("role")
        batch_op.drop_column("name")
        batch_op.drop_column("identity")
        batch_op.alter_column("api_key_id", existing_type=sa.Uuid(), nullable=False)
