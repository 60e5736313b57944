"""The project-wide pydantic bases for what the API reads and writes."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.core.clock import clock
from app.core.errors import FieldError, Unprocessable, validation_errors
from app.engine.checks import FUTURE_TOLERANCE

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"

Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=2, max_length=63)]

# Money is a JSON number both ways, so that a client sends back what it read. `multipleOf: 0.01`
# would state the two decimals, but binary floating point makes generators and validators disagree
# on it (0.07 is not a multiple of 0.01 in a double): the description says it, the server checks it.
MONEY_JSON_SCHEMA: dict[str, Any] = {
    "type": "number",
    "format": "decimal",
    "minimum": 0,
    "maximum": 9_999_999_999_999.99,
    "description": "An amount of money: a JSON number with at most two decimal places.",
}
SIGNED_MONEY_JSON_SCHEMA: dict[str, Any] = {
    "type": "number",
    "format": "decimal",
    "description": "An amount of money, rounded to two decimal places; negative for a loss.",
}


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WriteModel(BaseModel):
    """Rejects unknown fields, but drops the read-only fields of the resource's read model, so that
    a GET, edit, PUT round trip works."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)
    read_only_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.read_only_fields:
            return {name: value for name, value in data.items() if name not in cls.read_only_fields}
        return data


def _refuse_identity(value: Any, info: ValidationInfo) -> Any:
    raise ValueError(
        f"{info.field_name} is the authenticated caller, never a name sent in the body; "
        "send on_behalf_of to say for whom the caller acts"
    )


# A field that names who acted: accepted by no write model, so that it can only come from the
# credential. Left out of the contract, it exists to answer with a message that points to on_behalf_of.
CallerOnly = Annotated[SkipJsonSchema[Any], AfterValidator(_refuse_identity), Field(default=None, exclude=True)]


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # 9999-12-31T23:59:59-01:00 is past the last representable moment
        raise ValueError("the timestamp is out of range") from error


def _not_in_future(value: datetime) -> datetime:
    if value > clock.now() + FUTURE_TOLERANCE:
        raise ValueError("must not be more than 5 minutes in the future")
    return value


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _rfc3339(value: Any) -> Any:
    # Pydantic would also take a number of seconds since 1970; the API takes RFC 3339 text only.
    if isinstance(value, str) and not RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-01-31T12:00:00Z")
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 timestamp string")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("must be a date, e.g. 2026-01-31")
    if not isinstance(value, str | date):
        raise ValueError("must be a date string, e.g. 2026-01-31")
    return value


UTCTimestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_as_utc)]
PastTimestamp = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_as_utc), AfterValidator(_not_in_future)
]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


ModelT = TypeVar("ModelT", bound=BaseModel)


def validation_error_from(field: str, message: str) -> FieldError:
    return FieldError(field=field, message=message)


def validate_or_422(model: type[ModelT], data: Any, *, location: str = "body") -> ModelT:
    """Validate data the service assembled (e.g. a merged patch), reporting errors as the request's."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raw = [{**item, "loc": (location, *item["loc"])} for item in error.errors()]
        raise Unprocessable("The request has invalid fields.", errors=validation_errors(raw)) from error
