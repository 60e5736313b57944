"""Identity: key scopes, expiry, last use and rotation; who acted, by identity; the client's own
request id kept apart from the service's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_key", sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.add_column("api_key", sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.add_column("api_key", sa.Column("departments", JSONDocument, nullable=True))
    op.add_column("api_key", sa.Column("previous_secret_hash", sa.String(length=64), nullable=True))
    op.add_column("api_key", sa.Column("previous_valid_until", UTCDateTime(), nullable=True))
    op.create_index("ix_api_key_previous_secret_hash", "api_key", ["previous_secret_hash"], unique=True)
    op.add_column("audit_event", sa.Column("actor_identity", sa.String(length=300), nullable=True))
    op.add_column("audit_event", sa.Column("client_request_id", sa.String(length=128), nullable=True))
    op.add_column("attestation", sa.Column("attested_by_identity", sa.String(length=300), nullable=True))
    op.add_column("decision", sa.Column("decided_by_identity", sa.String(length=300), nullable=True))
    op.add_column("decision", sa.Column("on_behalf_of", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision") as batch:
        batch.drop_column("on_behalf_of")
        batch.drop_column("decided_by_identity")
    with op.batch_alter_table("attestation") as batch:
        batch.drop_column("attested_by_identity")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("client_request_id")
        batch.drop_column("actor_identity")
    op.drop_index("ix_api_key_previous_secret_hash", table_name="api_key")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("previous_valid_until")
        batch.drop_column("previous_secret_hash")
        batch.drop_column("departments")
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
