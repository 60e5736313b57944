"""Live readiness: each project's current result, its history, attestations, and re-scoring marks.

Answers found in stored evaluations become attestations (the latest per project and criterion),
so that nothing a person attested is lost; every existing project is marked for re-scoring, which
the service does on start (and any read of a marked project does at once).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 19:10:00.000000
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, SerialId, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attestation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("criterion", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence_url", sa.String(length=2000), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("attested_by", sa.String(length=100), nullable=False),
        sa.Column("attested_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_attestation_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestation")),
        sa.UniqueConstraint("project_id", "criterion", name=op.f("uq_attestation_project_id")),
    )
    op.create_table(
        "project_readiness",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_key", sa.String(length=63), nullable=False),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("gate_passed", sa.Boolean(), nullable=False),
        sa.Column("blockers", JSONDocument, nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(length=40), nullable=False),
        sa.Column("changes_at", UTCDateTime(), nullable=True),
        sa.Column("deadlines", JSONDocument, nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_project_readiness_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_readiness")),
    )
    op.create_index("ix_project_readiness_changes_at", "project_readiness", ["changes_at"], unique=False)
    op.create_table(
        "readiness_history",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("rubric_key", sa.String(length=63), nullable=False),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("gate_passed", sa.Boolean(), nullable=False),
        sa.Column("blockers", JSONDocument, nullable=False),
        sa.Column("previous", JSONDocument, nullable=True),
        sa.Column("cause", JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_readiness_history_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readiness_history")),
    )
    op.create_index(
        "ix_readiness_history_project_id_changed_at",
        "readiness_history",
        ["project_id", "changed_at", "id"],
        unique=False,
    )
    op.create_table(
        "readiness_mark",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_readiness_mark_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readiness_mark")),
    )
    op.create_index("ix_readiness_mark_project_id", "readiness_mark", ["project_id"], unique=False)
    _answers_to_attestations()
    now = datetime.now(UTC)
    project = sa.table("project", sa.column("id", sa.Uuid()))
    mark = sa.table(
        "readiness_mark",
        sa.column("project_id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("name", sa.String()),
        sa.column("marked_at", UTCDateTime()),
    )
    op.execute(
        mark.insert().from_select(
            ["project_id", "kind", "name", "marked_at"],
            sa.select(
                project.c.id, sa.literal("migration"), sa.literal("0007 live readiness"), sa.literal(now, UTCDateTime())
            ),
        )
    )


def _answers_to_attestations() -> None:
    evaluation = sa.table(
        "evaluation",
        sa.column("project_id", sa.Uuid()),
        sa.column("evaluator", sa.String()),
        sa.column("evaluated_at", UTCDateTime()),
        sa.column("answers", JSONDocument),
    )
    attestation = sa.table(
        "attestation",
        sa.column("id", sa.Uuid()),
        sa.column("project_id", sa.Uuid()),
        sa.column("criterion", sa.String()),
        sa.column("status", sa.String()),
        sa.column("evidence_url", sa.String()),
        sa.column("note", sa.String()),
        sa.column("expires_at", UTCDateTime()),
        sa.column("attested_by", sa.String()),
        sa.column("attested_at", UTCDateTime()),
        sa.column("version", sa.Integer()),
    )
    latest: dict[tuple[Any, str], dict[str, Any]] = {}
    rows = op.get_bind().execute(
        sa.select(evaluation).order_by(evaluation.c.evaluated_at).execution_options(yield_per=1000)
    )
    for row in rows:
        for answer in row.answers or []:
            latest[(row.project_id, answer["criterion"])] = {
                "id": uuid.uuid4(),
                "project_id": row.project_id,
                "criterion": answer["criterion"],
                "status": answer["status"],
                "evidence_url": answer.get("evidence_url"),
                "note": answer.get("note"),
                "expires_at": None,
                "attested_by": (row.evaluator or "evaluation")[:100],
                "attested_at": row.evaluated_at,
                "version": 1,
            }
    if latest:
        op.bulk_insert(attestation, list(latest.values()))


def downgrade() -> None:
    # The status rows go back to showing the latest evaluation, as the code before this one reads them.
    op.execute(
        """
        UPDATE project_status SET
            score = (SELECT evaluation.score FROM evaluation WHERE evaluation.id = project_status.evaluation_id),
            level = (SELECT evaluation.level FROM evaluation WHERE evaluation.id = project_status.evaluation_id),
            gate_passed = (SELECT evaluation.gate_passed FROM evaluation
                           WHERE evaluation.id = project_status.evaluation_id),
            rank_score = COALESCE(
                (SELECT evaluation.score FROM evaluation WHERE evaluation.id = project_status.evaluation_id), -1.0)
        """
    )
    op.drop_index("ix_readiness_mark_project_id", table_name="readiness_mark")
    op.drop_table("readiness_mark")
    op.drop_index("ix_readiness_history_project_id_changed_at", table_name="readiness_history")
    op.drop_table("readiness_history")
    op.drop_index("ix_project_readiness_changes_at", table_name="project_readiness")
    op.drop_table("project_readiness")
    op.drop_table("attestation")
