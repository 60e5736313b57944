"""Rubrics and their versions, evaluations, exemptions and go/no-go decisions.

Publishes the default rubric, ai-production-readiness, as its version 1.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:35:18.656452
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, UTCDateTime, utcnow
from migrations.data import published_definition

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rubric",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rubric")),
        sa.UniqueConstraint("key", name=op.f("uq_rubric_key")),
    )
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_key", sa.String(length=63), nullable=False),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("evaluator", sa.String(length=200), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("gate_passed", sa.Boolean(), nullable=False),
        sa.Column("recommendation", sa.String(length=8), nullable=False),
        sa.Column("weakest_section", sa.String(length=40), nullable=True),
        sa.Column("result", JSONDocument, nullable=False),
        sa.Column("answers", JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_evaluation_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
    )
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_project_rubric_at", ["project_id", "rubric_key", "evaluated_at", "id"], unique=False
        )

    op.create_table(
        "exemption",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("criterion", sa.String(length=120), nullable=False),
        sa.Column("justification", sa.String(length=2000), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_exemption_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exemption")),
    )
    with op.batch_alter_table("exemption", schema=None) as batch_op:
        batch_op.create_index("ix_exemption_project_id_criterion", ["project_id", "criterion"], unique=False)

    op.create_table(
        "rubric_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rubric_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("definition", JSONDocument, nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["rubric_id"], ["rubric.id"], name=op.f("fk_rubric_version_rubric_id_rubric"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rubric_version")),
        sa.UniqueConstraint("rubric_id", "number", name=op.f("uq_rubric_version_rubric_id")),
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("rationale", sa.String(length=4000), nullable=True),
        sa.Column("override_reason", sa.String(length=2000), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluation.id"], name=op.f("fk_decision_evaluation_id_evaluation"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_decision_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index("ix_decision_project_id_decided_at", ["project_id", "decided_at", "id"], unique=False)

    _publish_default_rubric()


def _publish_default_rubric() -> None:
    rubric = sa.table(
        "rubric",
        sa.column("id", sa.Uuid()),
        sa.column("key", sa.String()),
        sa.column("latest_version", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
        sa.column("version", sa.Integer()),
    )
    version = sa.table(
        "rubric_version",
        sa.column("id", sa.Uuid()),
        sa.column("rubric_id", sa.Uuid()),
        sa.column("number", sa.Integer()),
        sa.column("definition", JSONDocument),
        sa.column("published_at", UTCDateTime()),
        sa.column("published_by", sa.String()),
    )
    rubric_id, now = uuid.uuid4(), utcnow()
    op.bulk_insert(
        rubric,
        [{"id": rubric_id, "key": "ai-production-readiness", "latest_version": 1, "created_at": now, "version": 1}],
    )
    op.bulk_insert(
        version,
        [
            {
                "id": uuid.uuid4(),
                "rubric_id": rubric_id,
                "number": 1,
                "definition": published_definition("ai-production-readiness", 1),
                "published_at": now,
                "published_by": "system",
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_project_id_decided_at")

    op.drop_table("decision")
    op.drop_table("rubric_version")
    with op.batch_alter_table("exemption", schema=None) as batch_op:
        batch_op.drop_index("ix_exemption_project_id_criterion")

    op.drop_table("exemption")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_project_rubric_at")

    op.drop_table("evaluation")
    op.drop_table("rubric")
