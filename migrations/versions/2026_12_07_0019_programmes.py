"""Programmes: initiatives with the weekly figures of their burn-ups, and each criterion's status in
the readiness history.

`readiness_history.statuses` keeps every criterion's status of the row's result as one letter per
criterion, in the order of the criteria of the row's rubric version: `m` met, `p` partial, `n`
not_met, `a` not_applicable, `e` exempt (`app.readiness.document.coded_statuses`); 23 bytes a row
for the default rubric. Rows written before this migration have none (NULL): an initiative's
burn-up says from which week it is exact. `readiness_history.significant` is false for a row of a
change of criteria alone (score, level, gate and blockers as they were), which the history does not
show; every row written before is a significant one.

`project_status.undone` lists the criteria a project has partly met or not met, sorted, between
commas (`,go_live.rollback_tested,value.positive_roi,`; `,` for none): an initiative's goal of
criteria is then a substring test on the narrow status row, not a JSON lookup in the readiness
row. It is filled here from each project's current statuses, and kept by re-scoring from then on.
On SQLite an index covers what an initiative counts (scope and goal), so that counting 100,000
projects reads the index alone; on PostgreSQL it is empty (a partial index on `false`).

Only tables, nullable columns and a column with a server default are added: the previous release
keeps working on this schema.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JSONDocument, SerialId, UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UNDONE = ("partial", "not_met")
CHUNK = 1000


def _fill_undone() -> None:
    connection = op.get_bind()
    readiness = sa.table("project_readiness", sa.column("project_id", sa.Uuid()), sa.column("statuses", JSONDocument))
    status = sa.table("project_status", sa.column("project_id", sa.Uuid()), sa.column("undone", sa.Text()))
    rows = []
    for project_id, statuses in connection.execute(
        sa.select(readiness.c.project_id, readiness.c.statuses).where(readiness.c.statuses.is_not(None))
    ).all():
        undone = sorted(key for key, value in statuses.items() if value in UNDONE)
        rows.append({"row_id": project_id, "value": f",{','.join(undone)}," if undone else ","})
    update = (
        sa.update(status)
        .where(status.c.project_id == sa.bindparam("row_id"))
        .values(undone=sa.bindparam("value", type_=sa.Text()))
    )
    for start in range(0, len(rows), CHUNK):
        connection.execute(update, rows[start : start + CHUNK])


def upgrade() -> None:
    with op.batch_alter_table("project_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undone", sa.Text(), nullable=True))
    op.create_index("ix_project_status_key", "project_status", ["key"])
    _fill_undone()
    # Empty on PostgreSQL, where an index entry is limited in size (see `ProjectStatus`).
    op.create_index(
        "ix_project_status_initiative_counts",
        "project_status",
        ["department", "stage", "region", "gate_passed", "level", "undone"],
        postgresql_where=sa.false(),
    )
    with op.batch_alter_table("readiness_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statuses", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("significant", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        "initiative",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=False),
        sa.Column("goal", JSONDocument, nullable=False),
        sa.Column("scope", JSONDocument, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("basis", sa.Integer(), nullable=False),
        sa.Column("weeks_through", sa.Date(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("checked_through", sa.BigInteger(), nullable=False),
        sa.Column("check_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiative")),
        sa.UniqueConstraint("key", name=op.f("uq_initiative_key")),
    )
    op.create_index(op.f("ix_initiative_check_at"), "initiative", ["check_at"])
    op.create_table(
        "initiative_week",
        sa.Column("id", SerialId, nullable=False),
        sa.Column("initiative_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("in_scope", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("approximate", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiative.id"],
            name=op.f("fk_initiative_week_initiative_id_initiative"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiative_week")),
    )
    op.create_index(
        "ix_initiative_week_initiative_id_basis_week", "initiative_week", ["initiative_id", "basis", "week"]
    )


def downgrade() -> None:
    op.drop_index("ix_initiative_week_initiative_id_basis_week", table_name="initiative_week")
    op.drop_table("initiative_week")
    op.drop_index(op.f("ix_initiative_check_at"), table_name="initiative")
    op.drop_table("initiative")
    with op.batch_alter_table("readiness_history", schema=None) as batch_op:
        batch_op.drop_column("significant")
        batch_op.drop_column("statuses")
    op.drop_index("ix_project_status_initiative_counts", table_name="project_status")
    op.drop_index("ix_project_status_key", table_name="project_status")
    with op.batch_alter_table("project_status", schema=None) as batch_op:
        batch_op.drop_column("undone")
