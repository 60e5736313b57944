"""The decision room: evidence kept by the service (and what cites it), decision requests, and the
evidence attestations and decisions cite.

Only tables and nullable columns are added: the previous release keeps working on this schema.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by_identity", sa.String(length=300), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_evidence_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("project_id", "sha256", name=op.f("uq_evidence_project_id")),
    )
    op.create_table(
        "evidence_citation",
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("cited_by", sa.String(length=20), nullable=False),
        sa.Column("cited_by_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_evidence_citation_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_evidence_citation_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("evidence_id", "cited_by", "cited_by_id", name=op.f("pk_evidence_citation")),
    )
    op.create_index("ix_evidence_citation_cited_by", "evidence_citation", ["cited_by", "cited_by_id"])
    op.create_index(op.f("ix_evidence_citation_project_id"), "evidence_citation", ["project_id"])
    op.create_table(
        "decision_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_by_identity", sa.String(length=300), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("decision_id", sa.Uuid(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name=op.f("fk_decision_request_decision_id_decision"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_decision_request_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_request")),
    )
    op.create_index("ix_decision_request_status_requested_at", "decision_request", ["status", "requested_at", "id"])
    op.create_index(
        "uq_decision_request_open_project",
        "decision_request",
        ["project_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    with op.batch_alter_table("attestation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_ids", JSONDocument, nullable=True))
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_ids", JSONDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("evidence_ids")
    with op.batch_alter_table("attestation", schema=None) as batch_op:
        batch_op.drop_column("evidence_ids")
    op.drop_index("uq_decision_request_open_project", table_name="decision_request")
    op.drop_index("ix_decision_request_status_requested_at", table_name="decision_request")
    op.drop_table("decision_request")
    op.drop_index(op.f("ix_evidence_citation_project_id"), table_name="evidence_citation")
    op.drop_index("ix_evidence_citation_cited_by", table_name="evidence_citation")
    op.drop_table("evidence_citation")
    op.drop_table("evidence")
