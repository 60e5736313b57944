import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema, model_validator

from app.core.schemas import SIGNED_MONEY_JSON_SCHEMA, IsoDate, PastTimestamp, ReadModel, Slug, WriteModel
from app.engine.kpi import (
    Direction,
    KpiCategory,
    KpiStatus,
    Schedule,
    is_business_kpi,
    progress,
    status,
    target_is_in_direction,
)
from app.engine.roi import BenefitCategory, Outlook, RoiReport
from app.kpis.models import Kpi, Measurement
from app.projects.schemas import MoneyAmount

MAX_BATCH_ITEMS = 10_000

Reading = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e15, le=1e15)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")]
# Signed money out, as a JSON number rounded to cents.
SignedMoney = Annotated[
    Decimal, PlainSerializer(float, return_type=float, when_used="json"), WithJsonSchema(SIGNED_MONEY_JSON_SCHEMA)
]
Ratio = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class KpiFields(WriteModel):
    """The writable fields of a KPI."""

    read_only_fields = frozenset({"id", "is_business_kpi", "latest", "progress", "status", "created_at", "updated_at"})

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    category: KpiCategory = Field(
        description="`cost`, `time`, `revenue` and `risk` are business KPIs; "
        "`quality`, `adoption` and `model_accuracy` are not."
    )
    unit: str | None = Field(default=None, max_length=50, description="e.g. `EUR per claim`, `minutes`, `%`.")
    direction: Direction = Field(description="Which way is better.")
    baseline: Reading | None = None
    target: Reading | None = Field(default=None, description="Must lie in the KPI's direction from the baseline.")
    target_date: IsoDate | None = None
    value_per_unit: MoneyAmount | None = Field(
        default=None, description="Money that one unit of improvement is worth per month, for ROI."
    )
    currency: Currency | None = Field(default=None, description="Default: the currency of the project's costs.")

    @model_validator(mode="after")
    def _target_lies_in_the_direction(self) -> "KpiFields":
        if self.baseline is not None and self.target is not None:
            if not target_is_in_direction(self.direction, self.baseline, self.target):
                relation = "above" if self.direction == Direction.increase else "below"
                raise ValueError(f"target must be {relation} the baseline for a KPI to {self.direction.value}")
        return self


class KpiCreate(KpiFields):
    key: Slug


class KpiReplace(KpiFields):
    key: Slug


class Latest(ReadModel):
    value: float
    measured_at: datetime


class KpiRead(ReadModel):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    category: KpiCategory
    is_business_kpi: bool
    unit: str | None
    direction: Direction
    baseline: float | None
    target: float | None
    target_date: date | None
    value_per_unit: MoneyAmount | None
    currency: str | None
    latest: Latest | None
    progress: float | None = Field(description="(latest − baseline) / (target − baseline); 1 at the target.")
    status: KpiStatus = Field(
        description="`no_data` without a measurement, baseline or target. Otherwise progress is compared "
        "with the share of time elapsed from the KPI's creation to its `target_date` (none expected "
        "without a date): `on_track` at or ahead of it (or the target reached), `at_risk` less than "
        "25 points behind and not worse than the baseline, `off_track` otherwise."
    )
    created_at: datetime
    updated_at: datetime


class MeasurementCreate(WriteModel):
    read_only_fields = frozenset({"id", "recorded_at"})

    value: Reading
    measured_at: PastTimestamp | None = Field(default=None, description="Default: now. At most 5 minutes ahead.")
    source: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class MeasurementRead(ReadModel):
    id: uuid.UUID
    value: float
    measured_at: datetime
    source: str | None
    note: str | None
    recorded_at: datetime

    @classmethod
    def from_measurement(cls, measurement: Measurement) -> "MeasurementRead":
        return cls.model_construct(
            id=measurement.id,
            value=measurement.value,
            measured_at=measurement.measured_at,
            source=measurement.source,
            note=measurement.note,
            recorded_at=measurement.recorded_at,
        )


class MeasurementBatchItem(MeasurementCreate):
    project: Slug
    kpi: Slug


class MeasurementBatch(WriteModel):
    items: list[MeasurementBatchItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class MeasurementBatchResult(ReadModel):
    stored: int = Field(description="Points written: created plus updated.")
    created: int = Field(description="New points.")
    updated: int = Field(description="Points already stored at the same KPI and measured_at, given a new value.")
    unchanged: int = Field(description="Points re-sent exactly as stored: nothing written.")


CENTS = 2


class OutlookRead(ReadModel):
    monthly_benefit: SignedMoney
    by_category: dict[BenefitCategory, SignedMoney]
    total_benefit: SignedMoney
    total_cost: SignedMoney
    net: SignedMoney
    roi_pct: Ratio | None = Field(description="net / total_cost × 100; null when nothing is spent.")
    payback_months: Ratio | None = Field(
        description="build_cost / (monthly_benefit − run_cost_per_month); null unless that margin is positive."
    )


class KpiBenefitRead(ReadModel):
    kpi: str
    category: BenefitCategory
    realized_monthly_benefit: SignedMoney | None
    projected_monthly_benefit: SignedMoney | None
    excluded_reason: str | None = Field(description="Why the KPI adds nothing to the sums, if it does not.")


class RoiRead(ReadModel):
    currency: str | None
    horizon_months: int
    realized: OutlookRead = Field(description="From each KPI's latest measurement.")
    projected: OutlookRead = Field(description="From each KPI's target.")
    per_kpi: list[KpiBenefitRead]

    @classmethod
    def from_report(cls, report: RoiReport) -> "RoiRead":
        """Rounded for the API: money to cents, percentages and months to two decimals, half to even."""
        return cls(
            currency=report.currency,
            horizon_months=report.horizon_months,
            realized=_outlook(report.realized),
            projected=_outlook(report.projected),
            per_kpi=[
                KpiBenefitRead(
                    kpi=benefit.key,
                    category=benefit.category,
                    realized_monthly_benefit=_round(benefit.realized_monthly),
                    projected_monthly_benefit=_round(benefit.projected_monthly),
                    excluded_reason=benefit.excluded_reason,
                )
                for benefit in report.per_kpi
            ],
        )


def _round(value: Decimal | None) -> Decimal | None:
    return None if value is None else round(value, CENTS)


def _outlook(outlook: Outlook) -> OutlookRead:
    return OutlookRead(
        monthly_benefit=round(outlook.monthly_benefit, CENTS),
        by_category={category: round(value, CENTS) for category, value in outlook.by_category.items()},
        total_benefit=round(outlook.total_benefit, CENTS),
        total_cost=round(outlook.total_cost, CENTS),
        net=round(outlook.net, CENTS),
        roi_pct=_round(outlook.roi_pct),
        payback_months=_round(outlook.payback_months),
    )


def kpi_read(kpi: Kpi, now: datetime) -> KpiRead:
    """The KPI as the API shows it, with progress and status computed for `now`."""
    current = progress(kpi.baseline, kpi.target, kpi.latest_value)
    latest = None
    if kpi.latest_value is not None and kpi.latest_measured_at is not None:
        latest = Latest.model_construct(value=kpi.latest_value, measured_at=kpi.latest_measured_at)
    category = KpiCategory(kpi.category)
    return KpiRead.model_construct(
        id=kpi.id,
        key=kpi.key,
        name=kpi.name,
        description=kpi.description,
        category=category,
        is_business_kpi=is_business_kpi(category),
        unit=kpi.unit,
        direction=Direction(kpi.direction),
        baseline=kpi.baseline,
        target=kpi.target,
        target_date=kpi.target_date,
        value_per_unit=kpi.value_per_unit,
        currency=kpi.currency,
        latest=latest,
        progress=current,
        status=status(current, Schedule(kpi.created_at, kpi.target_date), now),
        created_at=kpi.created_at,
        updated_at=kpi.updated_at,
    )


class KpiPut(KpiFields):
    """A KPI created or replaced by its key, which the path gives."""

    key: Slug | None = Field(default=None, description="If given, must equal the key in the path.")


# What the `kpi.status_changed` event carries.


class KpiStatusChanged(BaseModel):
    """A KPI's status against its target and date changed: by a measurement or edit, or because
    time passed without the progress the schedule expects."""

    project: str
    kpi: str
    before: str = Field(examples=["on_track"])
    after: str = Field(examples=["at_risk"])
    progress: float | None = Field(description="Progress from baseline to target, 0 to 1.")
    cause: str = Field(description="`write` or `time`.")
