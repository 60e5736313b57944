import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

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
    actor_identity: str | None = Field(
        description="Who acted, uniquely: the API key's id, or the token's issuer and subject."
    )
    request_id: str | None = Field(description="The service's own id of the request.")
    client_request_id: str | None = Field(description="The X-Request-ID the caller sent, if any.")
