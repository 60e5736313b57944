"""The portfolio read path at 100,000 projects.

Each project's status row also keeps the project columns that portfolio reads filter, sort and
group on, and a score to rank by, so that a page is one indexed walk of one table. Each stage
transition keeps when the project entered the stage it left, so that the summary reads every
stay's length from one row instead of pairing transitions with a window function.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 22:05:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROJECT_COPIES: dict[str, sa.types.TypeEngine[Any]] = {
    "key": sa.String(length=63),
    "name": sa.String(length=200),
    "department": sa.String(length=100),
    "region": sa.String(length=100),
    "stage": sa.String(length=16),
    "stage_entered_at": UTCDateTime(),
}
NOT_NULL = ("key", "name", "stage", "stage_entered_at", "rank_score")
INDEXES = {
    "ix_project_status_rank_score_key": ["rank_score", "key"],
    "ix_project_status_department_rank_score_key": ["department", "rank_score", "key"],
    "ix_project_status_stage_entered_at_key": ["stage_entered_at", "key"],
    "ix_project_status_name_key": ["name", "key"],
}


def upgrade() -> None:
    with op.batch_alter_table("project_status") as batch:
        for name, type_ in PROJECT_COPIES.items():
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.add_column(sa.Column("rank_score", sa.Double(), nullable=True))
    copies = ", ".join(
        f"{name} = (SELECT project.{name} FROM project WHERE project.id = project_status.project_id)"
        for name in PROJECT_COPIES
    )
    op.execute(f"UPDATE project_status SET {copies}, rank_score = COALESCE(score, -1.0)")  # noqa: S608 - constants
    with op.batch_alter_table("project_status") as batch:
        for name in NOT_NULL:
            batch.alter_column(name, existing_type=PROJECT_COPIES.get(name, sa.Double()), nullable=False)
        batch.drop_index("ix_project_status_score")
        for name, columns in INDEXES.items():
            batch.create_index(name, columns, unique=False)

    with op.batch_alter_table("stage_transition") as batch:
        batch.add_column(sa.Column("from_stage_entered_at", UTCDateTime(), nullable=True))
    # A stay began at the project's previous transition, or at its creation for the first one.
    op.execute(
        """
        UPDATE stage_transition SET from_stage_entered_at = COALESCE(
            (SELECT MAX(earlier.transitioned_at) FROM stage_transition AS earlier
             WHERE earlier.project_id = stage_transition.project_id
               AND earlier.transitioned_at < stage_transition.transitioned_at),
            (SELECT project.created_at FROM project WHERE project.id = stage_transition.project_id))
        """
    )
    with op.batch_alter_table("stage_transition") as batch:
        batch.alter_column("from_stage_entered_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_transition") as batch:
        batch.drop_column("from_stage_entered_at")
    with op.batch_alter_table("project_status") as batch:
        for name in INDEXES:
            batch.drop_index(name)
        batch.create_index("ix_project_status_score", ["score", "project_id"], unique=False)
        for name in (*PROJECT_COPIES, "rank_score"):
            batch.drop_column(name)
