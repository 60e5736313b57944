import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.core.schemas import ReadModel

MAX_NAME_LENGTH = 255
# At most this many evidence files per attestation or decision.
MAX_CITED = 20
EvidenceIds = Annotated[
    list[uuid.UUID],
    Field(
        max_length=MAX_CITED,
        description="Evidence of the project (`POST /projects/{key}/evidence`); cited evidence cannot be deleted.",
    ),
]


class EvidenceRead(ReadModel):
    id: uuid.UUID
    name: str = Field(description="The file's name as uploaded.")
    media_type: str = Field(description="Judged from the file's content, not its name.")
    size: int = Field(description="Bytes.")
    sha256: str = Field(description="The SHA-256 of the bytes, hex: the same bytes again answer this item.")
    uploaded_by: str = Field(description="Who uploaded it: the caller.")
    uploaded_at: datetime
