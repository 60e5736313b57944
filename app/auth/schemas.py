import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.core.schemas import ReadModel, WriteModel


class Role(StrEnum):
    """What a key may do: `reader` reads, `writer` also posts state, `admin` also manages."""

    reader = "reader"
    writer = "writer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: "Role") -> bool:
        return self.rank >= needed.rank


class ApiKeyCreate(WriteModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    role: Role


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="The first characters of the secret, to recognise a key without it.")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    secret: str = Field(description="The key's secret. Shown once, here; only a hash of it is stored.")
