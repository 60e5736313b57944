import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from app.core.clock import clock
from app.core.schemas import PastTimestamp, ReadModel, Slug, WriteModel
from app.engine.checks import FACT_NAME_PATTERN, FUTURE_TOLERANCE
from app.facts.models import Fact

MAX_BATCH_ITEMS = 10_000

FactName = Annotated[
    str,
    Field(
        pattern=FACT_NAME_PATTERN,
        max_length=128,
        description="A dotted name such as `ops.alerting_enabled`; a name ending in `_at` holds a timestamp.",
    ),
]
# The hard ceiling of the contract; READINESS_MAX_FACT_VALUE_BYTES sets the limit in force below it.
MAX_FACT_STRING_LENGTH = 65_536
FactValue = StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=MAX_FACT_STRING_LENGTH)]
URL_PATTERN = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def normalise_value(name: str, value: Any) -> Any:
    """A fact named `*_at` holds an RFC 3339 timestamp with an offset, stored in UTC; one named
    `*_url` an http(s) URL, since readers follow it as evidence."""
    if name.endswith("_url"):
        if not isinstance(value, str) or not URL_PATTERN.match(value):
            raise ValueError(f"{name} ends in _url, so its value must be an http:// or https:// URL")
        return value
    if not name.endswith("_at"):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{name} ends in _at, so its value must be an RFC 3339 timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{name} ends in _at, so its value must be an RFC 3339 timestamp") from error
    if moment.tzinfo is None:
        raise ValueError(f"{name} must carry a UTC offset, e.g. 2026-01-31T12:00:00Z")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"{name} is outside the range of timestamps once in UTC") from error
    if moment > clock.now() + FUTURE_TOLERANCE:
        # A timestamp fact records what happened ("rollback tested at"): one dated ahead would pass
        # "within N days" checks until its date and beyond.
        raise ValueError(
            f"{name} is in the future; a timestamp fact may be at most 5 minutes ahead of the service's clock"
        )
    return moment.isoformat().replace("+00:00", "Z")


class FactWrite(WriteModel):
    read_only_fields = frozenset({"name", "recorded_at"})

    value: FactValue
    source: str | None = Field(default=None, max_length=200, description="The system that observed it.")
    observed_at: PastTimestamp | None = Field(
        default=None, description="When the fact was observed (default: now). The latest observation wins."
    )


class FactBatchItem(WriteModel):
    project: Slug
    name: FactName
    value: FactValue
    source: str | None = Field(default=None, max_length=200)
    observed_at: PastTimestamp | None = None

    @model_validator(mode="after")
    def _timestamp_facts_hold_timestamps(self) -> "FactBatchItem":
        self.value = normalise_value(self.name, self.value)
        return self


class FactBatch(WriteModel):
    items: list[FactBatchItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class FactBatchResult(ReadModel):
    stored: int = Field(description="Facts created or updated.")
    superseded: int = Field(description="Items older than the fact already stored, so not applied.")
    unchanged: int = Field(
        description="Items equal to the fact stored (value, source and observed_at): nothing written, no event."
    )


class FactRead(ReadModel):
    name: str
    value: bool | int | float | str
    source: str | None
    observed_at: datetime
    recorded_at: datetime

    @classmethod
    def from_fact(cls, fact: Fact) -> "FactRead":
        return cls.model_construct(
            name=fact.name,
            value=fact.value,
            source=fact.source,
            observed_at=fact.observed_at,
            recorded_at=fact.recorded_at,
        )
