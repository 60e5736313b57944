from typing import Literal

from app.core.schemas import ReadModel


class Health(ReadModel):
    status: Literal["ok"]
    schema_state: str | None = None
