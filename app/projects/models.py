import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, Money, UTCDateTime, new_id, utcnow
from app.engine.default_rubric import KEY as DEFAULT_RUBRIC_KEY
from app.engine.frameworks import RiskTier
from app.platforms.models import Platform


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (
        Index("ix_project_stage_key", "stage", "key"),
        Index("ix_project_department_key", "department", "key"),
        # The deployments of a department, which the focus signal reads on every readiness read.
        Index("ix_project_department_stage_key", "department", "stage", "key"),
        Index("ix_project_region_key", "region", "key"),
        Index("ix_project_platform", "platform"),
        Index("ix_project_replica_of", "replica_of"),
        Index("ix_project_adjacent_to", "adjacent_to"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    workflow: Mapped[str | None] = mapped_column(String(500))
    department: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    stage: Mapped[str] = mapped_column(String(16), default="idea")
    business_owner_name: Mapped[str | None] = mapped_column(String(200))
    business_owner_email: Mapped[str | None] = mapped_column(String(320))
    technical_owner_name: Mapped[str | None] = mapped_column(String(200))
    technical_owner_email: Mapped[str | None] = mapped_column(String(320))
    vendor_led: Mapped[bool] = mapped_column(default=False)
    stakeholders: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    deployment_target: Mapped[str | None] = mapped_column(String(32))
    deployment_same_runtime: Mapped[bool | None]
    deployment_sovereign: Mapped[bool | None]
    sync_cadence_days: Mapped[int | None]
    decision_date: Mapped[date | None]
    build_cost: Mapped[Decimal | None] = mapped_column(Money)
    run_cost_per_month: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    rubric: Mapped[str] = mapped_column(String(63), default=DEFAULT_RUBRIC_KEY)
    # Scaling what works: the platform it runs on, the business domain it serves, the validated
    # project it replicates in another department or region, and the project whose domain it
    # expands into a neighbouring workflow. Keys, which never change, so that a read needs no join.
    platform: Mapped[str | None] = mapped_column(String(63), ForeignKey(Platform.key, ondelete="RESTRICT"))
    domain: Mapped[str | None] = mapped_column(String(100))
    replica_of: Mapped[str | None] = mapped_column(String(63), ForeignKey("project.key", ondelete="SET NULL"))
    adjacent_to: Mapped[str | None] = mapped_column(String(63), ForeignKey("project.key", ondelete="SET NULL"))
    # After the EU AI Act, set by an approver. A server default only, so that rows written by
    # statements that name their columns (the previous release's) get one too.
    risk_tier: Mapped[str] = mapped_column(String(16), server_default=RiskTier.unclassified.value)
    risk_rationale: Mapped[str | None] = mapped_column(String(2000))
    risk_classified_by: Mapped[str | None] = mapped_column(String(200))
    risk_classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class StageTransition(Base):
    __tablename__ = "stage_transition"
    __table_args__ = (Index("ix_stage_transition_project_id_at", "project_id", "transitioned_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    from_stage: Mapped[str] = mapped_column(String(16))
    # When the project entered `from_stage`: with `transitioned_at`, the length of the stay.
    from_stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    to_stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(2000))
    actor: Mapped[str] = mapped_column(String(100))
    transitioned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
