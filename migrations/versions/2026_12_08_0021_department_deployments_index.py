"""An index on a project's department, stage and key: the focus signal of a project starting
something new reads its department's deployments (its projects in production or scaling) on every
readiness read, and with only the department's index that read walked every project of the
department, 20,000 at 100,000 projects.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 03:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_project_department_stage_key", "project", ["department", "stage", "key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_project_department_stage_key", table_name="project")
