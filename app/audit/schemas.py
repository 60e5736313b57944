import uuid
from datetime import datetime
from typing import Any

from app.core.schemas import ReadModel


class AuditEventRead(ReadModel):
    id: uuid.UUID
    occurred_at: datetime
    actor_key_id: uuid.UUID | None
    actor_name: str
    action: str
    entity_type: str
    entity_key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
