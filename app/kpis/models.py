import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONDocument, Money, UTCDateTime, new_id, utcnow
from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import KpiValue


class Kpi(Base):
    __tablename__ = "kpi"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    category: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(50))
    direction: Mapped[str] = mapped_column(String(8))
    baseline: Mapped[float | None]
    target: Mapped[float | None]
    target_date: Mapped[date | None]
    value_per_unit: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    # The latest measurement, kept here on every write so that reads and portfolio sums need no
    # scan of the measurements.
    latest_value: Mapped[float | None]
    latest_measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    # The status last told in a `kpi.status_changed` event, and when time alone changes it next.
    told_status: Mapped[str | None] = mapped_column(String(16))
    status_changes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The identities that created, replaced or patched it, for the four-eyes rule; None before they were kept.
    written_by: Mapped[list[str] | None] = mapped_column(JSONDocument)

    __mapper_args__ = {"version_id_col": version}

    def roi_value(self) -> KpiValue:
        """What the ROI computation reads of this KPI."""
        return KpiValue(
            key=self.key,
            category=KpiCategory(self.category),
            direction=Direction(self.direction),
            baseline=self.baseline,
            target=self.target,
            latest=self.latest_value,
            value_per_unit=self.value_per_unit,
            currency=self.currency,
        )


class Measurement(Base):
    __tablename__ = "measurement"
    __table_args__ = (
        Index("ix_measurement_kpi_id_measured_at", "kpi_id", "measured_at", "id"),
        # The natural key of a point sent with its time: sent again, it replaces instead of adding.
        Index(
            "uq_measurement_kpi_id_measured_at_keyed",
            "kpi_id",
            "measured_at",
            unique=True,
            sqlite_where=text("keyed"),
            postgresql_where=text("keyed"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpi.id", ondelete="CASCADE"))
    value: Mapped[float]
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # False for a point sent without a time (stamped on receipt): always a point of its own.
    keyed: Mapped[bool] = mapped_column(default=True, server_default=true())
    source: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(2000))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who posted it, for the four-eyes rule.
    recorded_by_identity: Mapped[str | None] = mapped_column(String(300))
