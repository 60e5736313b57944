import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, Money, UTCDateTime, utcnow
from app.engine.frameworks import RiskTier

# A JSON column whose Python None is SQL NULL rather than JSON `null`, so that `IS NULL` finds it.
NullableDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class ProjectStatus(Base):
    """Where a project stands, kept up to date by every write that changes it, so that portfolio
    reads never recompute a project.

    What changes with time alone (inactivity) is stored as the moment it sets in (`quiet_from`) and
    the risk either way, so that a read settles it with a comparison.
    """

    __tablename__ = "project_status"
    # Portfolio pages read this table alone and walk one of these indexes in their sort order.
    __table_args__ = (
        Index("ix_project_status_rank_score_key", "rank_score", "key"),
        Index("ix_project_status_department_rank_score_key", "department", "rank_score", "key"),
        Index("ix_project_status_stage_entered_at_key", "stage_entered_at", "key"),
        Index("ix_project_status_name_key", "name", "key"),
        Index("ix_project_status_key", "key"),
        # What an initiative counts (its scope's filters, its goal), read from the index alone on
        # SQLite, where reading 100,000 rows costs ten times as much. PostgreSQL reads the rows fast
        # enough, and limits an index entry to a third of a page, which `undone` could exceed: the
        # index is empty there.
        Index(
            "ix_project_status_initiative_counts",
            "department",
            "stage",
            "region",
            "gate_passed",
            "level",
            "undone",
            postgresql_where=false(),
        ),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    # Copies of the project's columns that portfolio reads filter, sort and group on.
    key: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    # Lower-cased, so that the owner filter compares emails without regard to case.
    business_owner_email: Mapped[str | None] = mapped_column(String(320))
    technical_owner_email: Mapped[str | None] = mapped_column(String(320))
    tags: Mapped[list[str] | None] = mapped_column(JSONDocument)
    risk_tier: Mapped[str] = mapped_column(String(16), server_default=RiskTier.unclassified.value)
    stage: Mapped[str] = mapped_column(String(16))
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The current score, with projects not scored yet below every score: what "sort by score" orders on.
    rank_score: Mapped[float]
    evaluation_id: Mapped[uuid.UUID | None]
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None]
    level: Mapped[str | None] = mapped_column(String(20))
    gate_passed: Mapped[bool | None]
    # The criteria partly met or not met, `,a.b,c.d,` (`readiness.document.undone_criteria`): what
    # an initiative's goal of criteria tests; None until the project is scored.
    undone: Mapped[str | None] = mapped_column(Text)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    risk_active: Mapped[str] = mapped_column(String(8))
    risk_inactive: Mapped[str] = mapped_column(String(8))
    quiet_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    realized_monthly_benefit: Mapped[Decimal | None] = mapped_column(Money)
    projected_monthly_benefit: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    ever_poc: Mapped[bool] = mapped_column(default=False)
    ever_production: Mapped[bool] = mapped_column(default=False)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # With a focus signal among `signals`, the keys of the deployments that are not stable yet, and
    # when the signal ends with time alone (one of them turning 30 days old: the stall watch
    # refreshes the row then); SQL NULL otherwise, which the scaling view filters on.
    focus_on: Mapped[list[str] | None] = mapped_column(NullableDocument)
    focus_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A project in production or scaling as the focus signal of others reads it (since when, which
    # stability criteria are unmet), or NULL: when it changes, the projects that read it follow.
    deployment: Mapped[dict[str, Any] | None] = mapped_column(NullableDocument)
    # The stall risk last told in a `project.stall_risk_changed` event, and when inactivity sets in.
    told_risk: Mapped[str | None] = mapped_column(String(8))
    risk_changes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
