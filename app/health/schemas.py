from typing import Literal

from pydantic import Field

from app.core.schemas import ReadModel


class Liveness(ReadModel):
    status: Literal["ok"]


class Health(Liveness):
    schema_state: str = Field(description="current, or ahead when a newer release migrated the database.")
