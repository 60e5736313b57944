import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field

from app.core.identity import Role
from app.core.schemas import ReadModel, UTCTimestamp, WriteModel

Department = Annotated[str, Field(min_length=1, max_length=100)]
DEPARTMENTS_DESCRIPTION = (
    "The departments whose projects the key may see and change; absent: every department; empty: none. "
    "Admin keys cannot be limited."
)


class ApiKeyCreate(WriteModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    role: Role
    departments: list[Department] | None = Field(default=None, max_length=200, description=DEPARTMENTS_DESCRIPTION)
    expires_at: UTCTimestamp | None = Field(default=None, description="When the key stops working; absent: never.")
    person: Annotated[EmailStr, Field(max_length=320)] | None = Field(
        default=None,
        description="The person the key stands for (an email). Four eyes counts keys of one person as that person.",
    )


class ApiKeyRotate(WriteModel):
    grace_period_seconds: int = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="How long the current secret keeps working beside the new one.",
    )


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="The first characters of the secret, to recognise a key without it.")
    departments: list[str] | None = Field(description=DEPARTMENTS_DESCRIPTION)
    person: str | None = Field(description="The person the key stands for, if it says.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="When the key last authenticated, to the minute.")
    previous_valid_until: datetime | None = Field(
        description="After a rotation, until when the previous secret still works."
    )
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    secret: str | None = Field(
        description="The key's secret. Shown once, here; only a hash of it is stored. Null when an "
        "Idempotency-Key replays the answer: replays never carry a secret."
    )
