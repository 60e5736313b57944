"""Publishes ai-production-readiness version 4: version 3 with `evidence_required` on every go-live
gate criterion, so that a `met` or `partial` attestation of one cites evidence the service holds.

No table changes. Checks decide as before and attestations already stored keep counting, so the
re-scorer brings every governed project up to version 4 without moving a score: the requirement
binds the attestations made from now on.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 22:30:00.000000
"""

from collections.abc import Sequence

from migrations.data import publish, unpublish

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "ai-production-readiness"
VERSION = 4


def upgrade() -> None:
    publish(KEY, VERSION)


def downgrade() -> None:
    unpublish(KEY, VERSION)
