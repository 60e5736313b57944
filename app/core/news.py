"""What a unit of work tells: events noted while it runs, written to the outbox just before it
commits by the step the events domain registers. Any layer may tell news without knowing the
outbox; each kind of news is a pydantic model of the domain that tells it."""

import uuid
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.orm import Session

PENDING_KEY = "events"


@dataclass(frozen=True)
class Pending:
    type: str
    subject: str
    data: BaseModel
    project_id: uuid.UUID | None
    department: str | None


def emit(
    session: Session,
    event_type: str,
    subject: str,
    data: BaseModel,
    *,
    project_id: uuid.UUID | None = None,
    department: str | None = None,
) -> None:
    """Tell an event once this unit of work commits, in its transaction."""
    session.info.setdefault(PENDING_KEY, []).append(Pending(event_type, subject, data, project_id, department))


def take(session: Session) -> list[Pending]:
    """The events told so far, taken: the outbox writes each once."""
    pending: list[Pending] = session.info.pop(PENDING_KEY, [])
    return pending
